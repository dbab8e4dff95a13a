"""What administrators change about places from the admin pages: rosters and grid versions.

A file is uploaded once and kept under a name made of its SHA-256 (``stage``): the page
shows what it would change (a roster's preview, a grid file's validation report), and the
apply step names the staged file, so what is applied is exactly what was previewed. Every
step refuses anyone but an administrator (``services.admin.require_admin``) and every
change is recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.officials import RosterChanges
from geo.officials import RosterFile
from geo.validate import ValidationReport
from services.admin import require_admin
from services.audit import AuditService
from services.callers import Caller
from services.errors import Invalid
from services.errors import NotFound
from services.grids import GridService
from services.grids import ImportOutcome
from store.base import ImportSummary
from store.base import VersionInfo

ROSTER_IMPORT = "roster.import"
GRID_IMPORT = "grids.import"
GRID_ACTIVATE = "grids.activate"
ROSTER_SUFFIXES = (".csv", ".xlsx", ".xls")
GRID_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".kml", ".kmz", ".csv", ".xlsx")
_TOKEN = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,8}")
#: a grid whose area changed by less than this between versions is the same grid
_SAME_AREA_M2 = 1.0


@dataclass(frozen=True)
class GridChange:
    code: str
    name: str
    kind: str  # "added", "removed" or "changed"
    area_before_m2: float | None
    area_after_m2: float | None

    @property
    def area_change_m2(self) -> float:
        return (self.area_after_m2 or 0.0) - (self.area_before_m2 or 0.0)


@dataclass(frozen=True)
class Comparison:
    before: VersionInfo
    after: VersionInfo
    changes: list[GridChange]
    unchanged: int
    #: both versions' grids (WGS84) with a ``version`` column ("before"/"after") and ``kind``
    shapes: gpd.GeoDataFrame


class GridAdminService:
    def __init__(self, grids: GridService, audit: AuditService, upload_dir: Path | None = None) -> None:
        self.grids = grids
        self.audit = audit
        self.upload_dir = upload_dir or Path(tempfile.gettempdir()) / "redgrid-admin-uploads"

    def check(self, caller: Caller) -> None:
        """Refuse anyone but an administrator (before a page shows its forms)."""
        require_admin(caller, "grid and roster administration")

    # --- staged uploads -------------------------------------------------------------------

    def stage(self, caller: Caller, data: bytes, filename: str, suffixes: tuple[str, ...]) -> str:
        """Keep an uploaded file for preview and apply; its token (SHA-256 and suffix)."""
        require_admin(caller, "uploads")
        suffix = Path(filename or "").suffix.lower()
        if suffix not in suffixes:
            raise Invalid(
                f"file {filename!r}: expected one of {', '.join(suffixes)}", field="file", code="file_type"
            )
        if not data:
            raise Invalid("the file is empty", field="file", code="file_empty")
        token = hashlib.sha256(data).hexdigest() + suffix
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        path = self.upload_dir / token
        if not path.exists():
            part = path.with_suffix(path.suffix + ".part")
            part.write_bytes(data)
            part.replace(path)
        return token

    def staged(self, token: str) -> Path:
        if not _TOKEN.fullmatch(token or ""):
            raise Invalid("no uploaded file named", field="file", code="file_missing")
        path = self.upload_dir / token
        if not path.exists():
            raise NotFound("the uploaded file is no longer kept: upload it again", code="file_gone")
        return path

    # --- rosters --------------------------------------------------------------------------

    def preview_roster(self, caller: Caller, token: str) -> tuple[RosterFile, RosterChanges]:
        """What applying the staged roster would change; stores nothing."""
        require_admin(caller, "roster administration")
        return self.grids.preview_roster(self.staged(token))

    def apply_roster(self, caller: Caller, token: str, filename: str) -> ImportSummary:
        """Import the staged roster, all or nothing, and record it."""
        require_admin(caller, "roster administration")
        path = self.staged(token)
        _, changes = self.grids.preview_roster(path)
        summary = self.grids.import_roster(path, by=caller.actor)
        path.unlink(missing_ok=True)  # applied: a second apply of the same preview finds nothing
        self.audit.record(
            caller,
            ROSTER_IMPORT,
            f"roster:{filename or token}",
            {
                "sha256": token.split(".")[0],
                "added": len(changes.added),
                "changed": len(changes.changed),
                "removed": len(changes.removed),
                "unchanged": changes.unchanged,
            },
        )
        return summary

    # --- grid versions --------------------------------------------------------------------

    def versions(self, caller: Caller) -> list[VersionInfo]:
        require_admin(caller, "grid administration")
        return sorted(self.grids.versions(), key=lambda v: v.id, reverse=True)

    def check_grid_file(self, caller: Caller, token: str) -> ValidationReport:
        """The validation report of a staged grid file; stores nothing."""
        require_admin(caller, "grid administration")
        return self.grids.check_file(self.staged(token))[2]

    def import_grid_file(self, caller: Caller, token: str, filename: str, label: str = "") -> ImportOutcome:
        """Store a staged grid file as a new (inactive) version; refused whole on any error."""
        require_admin(caller, "grid administration")
        path = self.staged(token)
        label = label.strip()[:100] or Path(filename or token).stem
        outcome = self.grids.import_file(path, label=label, by=caller.actor)
        path.unlink(missing_ok=True)
        self.audit.record(
            caller,
            GRID_IMPORT,
            f"grid_version:{outcome.version_id}",
            {
                "file": filename,
                "label": label,
                "created": outcome.created,
                "grids": outcome.report.stats.get("grids"),
            },
        )
        return outcome

    def activate(self, caller: Caller, version_id: int) -> VersionInfo:
        require_admin(caller, "grid administration")
        before = self.grids.active_or_none()
        self.grids.activate(version_id, caller.actor)
        self.audit.record(caller, GRID_ACTIVATE, f"grid_version:{version_id}", {"previous": before})
        return self.grids.version(version_id)

    def compare(self, caller: Caller, before_id: int, after_id: int) -> Comparison:
        """Grids added, removed and changed (in shape) from one version to another."""
        require_admin(caller, "grid administration")
        before, after = self.grids.version(before_id), self.grids.version(after_id)
        old = self.grids.store.grids(before_id)
        new = self.grids.store.grids(after_id)
        merged = pd.merge(
            old[["code", "name", "area_m2", "geometry"]],
            new[["code", "name", "area_m2", "geometry"]],
            on="code",
            how="outer",
            suffixes=("_a", "_b"),
            indicator="side",
        )
        both = merged["side"] == "both"
        moved = np.zeros(len(merged), dtype=bool)
        if both.any():
            pairs = merged[both]
            area = np.abs(pairs["area_m2_a"].to_numpy(float) - pairs["area_m2_b"].to_numpy(float))
            same_shape = shapely.equals_exact(
                pairs["geometry_a"].to_numpy(object), pairs["geometry_b"].to_numpy(object), tolerance=1e-7
            )
            moved[both.to_numpy()] = (area >= _SAME_AREA_M2) | ~same_shape
        kind_of = np.select(
            [merged["side"] == "left_only", merged["side"] == "right_only", moved],
            ["removed", "added", "changed"],
            default="same",
        )
        kinds = {str(c): str(k) for c, k in zip(merged["code"], kind_of, strict=True) if k != "same"}
        changes = [
            GridChange(
                str(row.code),
                str(row.name_a if kind == "removed" else row.name_b),
                str(kind),
                None if kind == "added" else float(row.area_m2_a),
                None if kind == "removed" else float(row.area_m2_b),
            )
            for row, kind in zip(merged.itertuples(index=False), kind_of, strict=True)
            if kind != "same"
        ]
        unchanged = int((kind_of == "same").sum())
        changes.sort(key=lambda c: (c.kind, c.code))
        shapes = pd.concat([old.assign(version="before"), new.assign(version="after")], ignore_index=True)
        shapes["kind"] = [kinds.get(str(c), "same") for c in shapes["code"]]
        frame = gpd.GeoDataFrame(shapes[["code", "name", "version", "kind", "geometry"]], crs=old.crs)
        return Comparison(before, after, changes, unchanged, frame.to_crs(4326))


__all__ = ["GRID_ACTIVATE", "GRID_IMPORT", "ROSTER_IMPORT", "Comparison", "GridAdminService", "GridChange"]
