"""Towns and communities: the places grids are checked against, registered from files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import geometries_to_wgs84
from geo.crs import parse_source_crs
from geo.errors import MissingCRS
from services.errors import Invalid
from store.base import Store

COMMUNITY_KINDS = ("urban", "rural")


def read_outline(path: str | Path, crs: str | None = None) -> shapely.Geometry:
    """The union of a polygon file's shapes in WGS84 (any format and CRS grids accept)."""
    frame = gpd.read_file(path)
    if frame.crs is None and crs is None:
        raise MissingCRS(f"{path}: the outline declares no CRS; use --crs")
    source = parse_source_crs(crs) if crs else None
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if source is not None:
        geoms = geometries_to_wgs84(geoms, source)
    elif not frame.crs.equals(4326):
        geoms = np.asarray(frame.to_crs(4326).geometry.values, dtype=object)
    return shapely.union_all(geoms)


class PlaceService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def set_town(
        self, code: str, name: str, outline: str | Path | None = None, crs: str | None = None
    ) -> bool:
        """Register a town and its outline; True when an outline was stored."""
        shape = read_outline(outline, crs) if outline else None
        self.store.put_town(code, name, shape, Path(outline).name if outline else None)
        return shape is not None

    def import_communities(self, path: str | Path) -> int:
        """Communities from CSV (code, name[, short_name, kind, town_code]); safe to re-run."""
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        missing = {"code", "name"} - set(frame.columns)
        if missing:
            raise Invalid(f"{path}: missing column(s) {', '.join(sorted(missing))}", field="code")
        bad = frame[~frame["code"].str.fullmatch(r"\d{12}")]
        if len(bad):
            rows = ", ".join(str(i + 2) for i in bad.index[:10])
            raise Invalid(
                f"{path}: rows {rows}: field 'code' must be a 12-digit statistical code", field="code"
            )
        frame["short_name"] = frame.get("short_name", frame["name"])
        frame["kind"] = frame.get("kind", pd.Series("urban", index=frame.index)).fillna("urban")
        bad_kind = frame[~frame["kind"].isin(COMMUNITY_KINDS)]
        if len(bad_kind):
            rows = ", ".join(str(i + 2) for i in bad_kind.index[:10])
            raise Invalid(f"{path}: rows {rows}: field 'kind' must be urban or rural", field="kind")
        frame["town_code"] = frame["code"].str[:9]
        return self.store.put_communities(frame)

    def community_kinds(self) -> dict[str, str]:
        frame = self.store.communities()
        return dict(zip(frame["code"], frame["kind"], strict=True))
