"""Reading grid boundary files the way a GIS officer hands them over.

GeoJSON, GeoPackage and Shapefiles (loose or zipped) in whatever CRS the file
declares. A file that declares none is refused unless the user names one,
because guessing wrong moves every grid by hundreds of metres. GCJ-02 and BD-09
are not CRSs a file can declare, so they can only be named by the user, and
only over a file that is unlabelled or labelled as plain WGS84 lon/lat.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.crs import WGS84
from geo.crs import SourceCRS
from geo.crs import geometries_to_wgs84
from geo.crs import parse_source_crs
from geo.errors import FileFormatError
from geo.errors import MissingCRS
from geo.tabular import file_sha256

#: Accepted column names for each standard field, first match wins (case-insensitive).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "grid_code", "网格编码", "网格代码", "wgbm", "gridcode"),
    "name": ("name", "grid_name", "网格名称", "名称", "wgmc"),
    # "community_" is community_code cut to a DBF's 10-character field names
    "community_code": ("community_code", "community_", "社区编码", "社区代码", "sqbm", "村居编码"),
    "population": ("population", "人口", "常住人口", "rk"),
    "households": ("households", "户数", "hs"),
}
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")


@dataclass(frozen=True)
class GridFile:
    """A grid file read into WGS84, with what is needed to trace it back."""

    frame: gpd.GeoDataFrame  # columns: code, name, community_code, population, households, geometry
    source: str
    source_crs: str
    sha256: str
    layer: str | None


def read_grid_file(
    path: str | Path,
    *,
    crs: str | None = None,
    layer: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> GridFile:
    """Read a grid boundary file and convert it to WGS84.

    Parameters
    ----------
    path : a .geojson/.json, .gpkg, .shp or .zip (holding one shapefile or GeoPackage).
    crs : the CRS of the coordinates when the file does not declare one, or ``gcj02`` /
        ``bd09`` for files whose lon/lat carry those offsets.
    layer : the layer to read when the file holds several.
    fields : standard field → column name in the file, for columns the aliases do not cover.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise FileFormatError(
            f"{path.name}: unsupported file type {path.suffix!r}; expected one of "
            + ", ".join(SUFFIXES)
        )
    uri = _zip_uri(path) if path.suffix.lower() == ".zip" else str(path)
    layer = layer or _single_layer(uri, path)
    try:
        raw = gpd.read_file(uri, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FileFormatError(f"{path.name}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:  # e.g. UTF-8 field names cut mid-character at 10 bytes
        raise FileFormatError(
            f"{path.name}: cannot read: text that is not valid in the file's encoding ({exc}); "
            "save it again as GBK with a .cpg file, or with field names of at most 10 bytes"
        ) from exc
    if raw.empty:
        raise FileFormatError(f"{path.name}: the file holds no features")
    source = _source_crs(path.name, raw.crs, crs)
    frame = _standard_columns(raw, path.name, fields or {})
    geoms = shapely.force_2d(np.asarray(frame.geometry.values, dtype=object))
    _check_geometry_types(geoms, path.name)
    frame = gpd.GeoDataFrame(
        frame.drop(columns="geometry"),
        geometry=geometries_to_wgs84(geoms, source),
        crs=WGS84,
    )
    return GridFile(frame, str(path), source.label, file_sha256(path), layer)


def _zip_uri(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        raise FileFormatError(f"{path.name}: not a valid zip archive") from exc
    inner = [n for n in names if n.lower().endswith((".shp", ".gpkg", ".geojson", ".json"))]
    if not inner:
        raise FileFormatError(f"{path.name}: the archive holds no .shp, .gpkg or .geojson file")
    if len(inner) > 1:
        raise FileFormatError(
            f"{path.name}: the archive holds several datasets ({', '.join(sorted(inner))}); "
            "unpack it and import one"
        )
    return f"/vsizip/{path.resolve()}/{inner[0]}"


def _single_layer(uri: str, path: Path) -> str | None:
    try:
        layers = pyogrio.list_layers(uri)
    except pyogrio.errors.DataSourceError as exc:
        raise FileFormatError(f"{path.name}: cannot read: {exc}") from exc
    if len(layers) > 1:
        names = ", ".join(str(n) for n in layers[:, 0])
        raise FileFormatError(f"{path.name}: holds {len(layers)} layers ({names}); choose one with --layer")
    return None


def _source_crs(filename: str, declared, named: str | None) -> SourceCRS:
    if named is None:
        if declared is None:
            raise MissingCRS(
                f"{filename}: the file declares no CRS (a shapefile without .prj?); name it "
                "with --crs, e.g. --crs EPSG:4490 (CGCS2000), --crs EPSG:32649 (UTM 49N) "
                "or --crs gcj02"
            )
        return SourceCRS(declared)
    source = parse_source_crs(named)
    if declared is None:
        return source
    lonlat_label = declared.is_geographic and declared.equals(WGS84, ignore_axis_order=True)
    if source.datum and lonlat_label:
        return source  # GCJ-02/BD-09 files are labelled as plain WGS84 by every tool
    if source.crs.equals(declared, ignore_axis_order=True) and not source.datum:
        return source
    declared_label = SourceCRS(declared).label
    raise MissingCRS(
        f"{filename}: the file declares {declared_label} but {source.label} was named; "
        "drop --crs to use the file's own CRS, or fix the file",
        code="crs_conflict",
    )


def _standard_columns(raw: gpd.GeoDataFrame, filename: str, fields: Mapping[str, str]) -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in raw.columns if c != "geometry"}
    out = pd.DataFrame(index=raw.index)
    for field, aliases in FIELD_ALIASES.items():
        column = fields.get(field)
        if column is not None and column not in raw.columns:
            raise FileFormatError(f"{filename}: column {column!r} named for {field} is not in the file")
        if column is None:
            column = next((lower[a] for a in aliases if a in lower), None)
        if column is None:
            if field in ("code",):
                raise FileFormatError(
                    f"{filename}: no grid code column; expected one of {', '.join(aliases)} "
                    f"(columns present: {', '.join(map(str, lower.values())) or 'none'})"
                )
            out[field] = pd.NA
            continue
        out[field] = raw[column]
    out["code"] = out["code"].map(_code_text)
    out["community_code"] = out["community_code"].map(_code_text)
    missing_community = out["community_code"].isna()
    out.loc[missing_community, "community_code"] = out.loc[missing_community, "code"].str[:12]
    out["name"] = out["name"].astype("string")
    for column in ("population", "households"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    out["geometry"] = raw.geometry.values
    return out.reset_index(drop=True)


def _code_text(value: object) -> str | None:
    """Codes read from DBF/Excel may arrive as floats; give back their exact digits."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_geometry_types(geoms: np.ndarray, filename: str) -> None:
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (-1, 3, 6)))  # missing, Polygon, MultiPolygon
    if len(bad):
        names = {0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint",
                 5: "MultiLineString", 7: "GeometryCollection"}
        shown = ", ".join(f"feature {i + 1} is a {names.get(int(types[i]), 'geometry')}" for i in bad[:5])
        raise FileFormatError(
            f"{filename}: grids must be polygons; {shown}"
            + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
        )
