"""The validation report a grid set must pass before anything is stored.

Grids are the map of who answers for what; an overlap means two teams answer
for one street, a gap means nobody does. So every fault is found and named
(which grid, where, how big) before an import touches the database, and an
import with errors is refused as a whole. ``repair`` applies only fixes that
cannot change who answers for a real place: making geometries valid, and
giving slivers (below ``sliver_m2``) to one neighbour. It lists each change.

Areas are measured in square metres in the UTM zone of the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geo import datums
from geo.codes import grid_code_problem
from geo.crs import MetricFrame

Progress = Callable[[str, int, int], None]


class IssueKind(StrEnum):
    EMPTY_GEOMETRY = "empty_geometry"
    INVALID_GEOMETRY = "invalid_geometry"
    TINY_PART = "tiny_part"
    MULTI_PART = "multi_part"
    BAD_CODE = "bad_code"
    DUPLICATE_CODE = "duplicate_code"
    CODE_COMMUNITY_MISMATCH = "code_community_mismatch"
    UNKNOWN_COMMUNITY = "unknown_community"
    OVERLAP = "overlap"
    GAP = "gap"
    OUTSIDE_TOWN = "outside_town"
    DATUM_SUSPECT = "datum_suspect"


@dataclass(frozen=True)
class Settings:
    """Thresholds of the checks; areas in m².

    Overlaps, gaps and overhangs smaller than ``tolerance_m2`` or thinner on average than
    ``noise_width_m`` are float noise: shared edges computed twice, or coordinates rounded
    to 7 decimals (about 1 cm), never agree to the last bit, and nobody can stand in such
    a sliver. ``sliver_m2`` is the largest fault ``repair`` may fix on its own.
    """

    tolerance_m2: float = 0.01
    noise_width_m: float = 0.01
    sliver_m2: float = 50.0


@dataclass(frozen=True)
class Issue:
    kind: IssueKind
    severity: str  # "error" refuses the import, "warning" is reported only
    message: str
    codes: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()  # 1-based feature numbers in the file
    location: tuple[float, float] | None = None  # lon, lat
    area_m2: float | None = None
    repairable: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["codes"] = [str(c) for c in self.codes]
        data["rows"] = list(self.rows)
        if self.location:
            data["location"] = [round(self.location[0], 7), round(self.location[1], 7)]
        if self.area_m2 is not None:
            data["area_m2"] = round(self.area_m2, 3)
        return data


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    #: how the file was read (``GridFile.describe()``): format, encoding and CRS with their reasons
    source: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "stats": self.stats,
            **({"source": self.source} if self.source else {}),
            "issues": [i.to_dict() for i in self.issues],
        }

    def format_text(self, limit: int = 200) -> str:
        lines = [
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s); "
            + ", ".join(f"{k}={v}" for k, v in self.stats.items())
        ]
        lines.extend(_source_lines(self.source))
        for issue in self.issues[:limit]:
            fix = " [repairable]" if issue.repairable else ""
            lines.append(f"  {issue.severity.upper():7} {issue.kind}: {issue.message}{fix}")
        if len(self.issues) > limit:
            lines.append(f"  … {len(self.issues) - limit} more")
        return "\n".join(lines)


def _source_lines(source: Mapping) -> list[str]:
    """How the file was read, one line per decision: what was used, and why."""
    if not source:
        return []
    lines = []
    if source.get("format"):
        layer = f", layer {source['layer']}" if source.get("layer") else ""
        lines.append(f"  read as {source['format']}{layer}")
    if source.get("encoding_reason"):
        lines.append(f"  encoding {source.get('encoding') or '-'}: {source['encoding_reason']}")
    if source.get("crs"):
        lines.append(f"  CRS {source['crs']}: {source.get('crs_reason', '')}")
    shift = source.get("datum_shift_m")
    if shift:
        lines.append(f"  datum shift removed: median {shift['median']} m, max {shift['max']} m")
    columns = source.get("columns")
    if columns:
        lines.append("  columns: " + ", ".join(f"{k} ← {v}" for k, v in columns.items()))
    return lines


def validate_grids(
    grids: gpd.GeoDataFrame,
    *,
    communities: Mapping[str, str],
    outline: BaseGeometry | None = None,
    settings: Settings = Settings(),
    progress: Progress | None = None,
    source: Mapping | None = None,
) -> ValidationReport:
    """Check a grid set (WGS84, standard columns) against its communities and town outline.

    ``source`` is how the file was read (``GridFile.describe()``); the report carries it.
    """
    step = progress or (lambda stage, done, total: None)
    report = ValidationReport(source=dict(source or {}))
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids["code"].astype("string").fillna("").to_numpy(dtype=object)
    step("geometry", 0, 6)
    usable = _check_geometry(geoms, codes, settings, report)
    step("codes", 1, 6)
    _check_codes(grids, codes, communities, report)
    frame = _metric_frame(geoms)
    metric = frame.project(usable)
    step("overlaps", 2, 6)
    _check_overlaps(metric, codes, frame, settings, report)
    step("coverage", 3, 6)
    union = shapely.union_all(metric[~shapely.is_empty(metric)])
    outline_m = None
    if outline is not None:
        outline_m = frame.project(np.array([outline], dtype=object))[0]
    _check_gaps(union, outline_m, frame, settings, report)
    step("outline", 4, 6)
    if outline_m is not None:
        _check_outside(metric, codes, outline_m, frame, settings, report)
        _check_datum(usable, outline_m, frame, report)
    step("done", 6, 6)
    areas = shapely.area(metric)
    report.stats = {
        "grids": len(grids),
        "communities": int(grids["community_code"].nunique()),
        "area_km2": round(float(shapely.area(union)) / 1e6, 3) if len(grids) else 0.0,
        "grid_area_m2_min": round(float(areas.min()), 1) if len(grids) else 0.0,
        "grid_area_m2_median": round(float(np.median(areas)), 1) if len(grids) else 0.0,
        "grid_area_m2_max": round(float(areas.max()), 1) if len(grids) else 0.0,
        "metric_crs": f"EPSG:{frame.crs.to_epsg()}",
    }
    return report


@dataclass(frozen=True)
class RepairResult:
    grids: gpd.GeoDataFrame
    changes: list[str]


def repair_grids(
    grids: gpd.GeoDataFrame,
    *,
    outline: BaseGeometry | None = None,
    settings: Settings = Settings(),
) -> RepairResult:
    """Apply the safe fixes and list each change; faults above ``sliver_m2`` are left alone."""
    changes: list[str] = []
    geoms = np.asarray(grids.geometry.values, dtype=object).copy()
    codes = grids["code"].astype("string").fillna("").to_numpy(dtype=object)
    touched = np.zeros(len(geoms), dtype=bool)

    invalid = ~shapely.is_valid(geoms) & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        geoms[i] = _polygonal(shapely.make_valid(geoms[i]))
        changes.append(f"grid {codes[i]}: made valid ({reason})")
    touched |= invalid

    frame = _metric_frame(geoms)
    metric = frame.project(geoms)
    metric, dropped = _drop_tiny_parts(metric, codes, settings, changes)
    touched |= dropped
    metric, trimmed = _trim_overlaps(metric, codes, settings, changes, frame)
    touched |= trimmed
    outline_m = None
    if outline is not None:
        outline_m = frame.project(np.array([outline], dtype=object))[0]
        metric, clipped = _clip_overhangs(metric, codes, outline_m, settings, changes, frame)
        touched |= clipped
    metric, filled = _fill_gaps(metric, codes, outline_m, settings, changes, frame)
    touched |= filled

    out = geoms.copy()
    if touched.any():
        out[touched] = shapely.set_precision(frame.unproject(metric[touched]), 0)
    repaired = grids.copy()
    repaired["geometry"] = gpd.GeoSeries(out, crs=grids.crs, index=grids.index)
    return RepairResult(gpd.GeoDataFrame(repaired, geometry="geometry", crs=grids.crs), changes)


# --- checks -------------------------------------------------------------------------------

_REASON_AT = re.compile(r"\[\s*([-\d.eE+]+)\s+([-\d.eE+]+)\s*\]")


def _check_geometry(
    geoms: np.ndarray, codes: np.ndarray, settings: Settings, report: ValidationReport
) -> np.ndarray:
    """Report empty/invalid/multi-part grids; return geometries usable by the spatial checks."""
    usable = geoms.copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        report.issues.append(
            Issue(
                IssueKind.EMPTY_GEOMETRY,
                "error",
                f"grid {codes[i] or '?'} (feature {i + 1}) has no geometry",
                codes=(codes[i],),
                rows=(int(i) + 1,),
            )
        )
        usable[i] = shapely.Polygon()
    valid = shapely.is_valid(geoms) | missing
    for i in np.flatnonzero(~valid):
        reason = shapely.is_valid_reason(geoms[i])
        match = _REASON_AT.search(reason)
        where = (float(match.group(1)), float(match.group(2))) if match else None
        at = f" at {where[0]:.6f},{where[1]:.6f}" if where else ""
        report.issues.append(
            Issue(
                IssueKind.INVALID_GEOMETRY,
                "error",
                f"grid {codes[i]} (feature {i + 1}) is invalid: {reason.split('[')[0]}{at}",
                codes=(codes[i],),
                rows=(int(i) + 1,),
                location=where,
                repairable=True,
            )
        )
        usable[i] = _polygonal(shapely.make_valid(geoms[i]))
    frame = _metric_frame(usable)
    for i in np.flatnonzero(shapely.get_num_geometries(usable) > 1):
        parts = shapely.get_parts(usable[i])
        areas = shapely.area(frame.project(parts))
        tiny = areas < settings.sliver_m2
        if tiny.any():
            for part, area in zip(parts[tiny], areas[tiny], strict=True):
                report.issues.append(
                    Issue(
                        IssueKind.TINY_PART,
                        "error",
                        f"grid {codes[i]} has a stray part of {area:.1f} m²",
                        codes=(codes[i],),
                        rows=(int(i) + 1,),
                        location=_where(part),
                        area_m2=float(area),
                        repairable=True,
                    )
                )
        if (~tiny).sum() > 1:
            sizes = ", ".join(f"{a:.0f}" for a in sorted(areas[~tiny], reverse=True))
            report.issues.append(
                Issue(
                    IssueKind.MULTI_PART,
                    "warning",
                    f"grid {codes[i]} has {(~tiny).sum()} separate parts ({sizes} m²)",
                    codes=(codes[i],),
                    rows=(int(i) + 1,),
                    location=_where(usable[i]),
                )
            )
    return usable


def _check_codes(
    grids: gpd.GeoDataFrame, codes: np.ndarray, communities: Mapping[str, str], report: ValidationReport
) -> None:
    community_codes = grids["community_code"].astype("string").fillna("").to_numpy(dtype=object)
    for i, code in enumerate(codes):
        problem = grid_code_problem(code or None)
        if problem:
            report.issues.append(
                Issue(
                    IssueKind.BAD_CODE, "error", f"feature {i + 1}: {problem}", codes=(code,), rows=(i + 1,)
                )
            )
            continue
        if community_codes[i] and code[:12] != community_codes[i]:
            report.issues.append(
                Issue(
                    IssueKind.CODE_COMMUNITY_MISMATCH,
                    "error",
                    f"grid {code} (feature {i + 1}) is given community {community_codes[i]} but its "
                    f"code starts with {code[:12]}",
                    codes=(code,),
                    rows=(i + 1,),
                )
            )
    seen: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        if code:
            seen.setdefault(code, []).append(i + 1)
    for code, rows in seen.items():
        if len(rows) > 1:
            report.issues.append(
                Issue(
                    IssueKind.DUPLICATE_CODE,
                    "error",
                    f"grid code {code} is used by {len(rows)} features ({', '.join(map(str, rows))})",
                    codes=(code,),
                    rows=tuple(rows),
                )
            )
    unknown: dict[str, list[int]] = {}
    for i, community in enumerate(community_codes):
        if community and community not in communities:
            unknown.setdefault(community, []).append(i)
    for community, idx in unknown.items():
        shown = ", ".join(codes[i] for i in idx[:5]) + (" …" if len(idx) > 5 else "")
        report.issues.append(
            Issue(
                IssueKind.UNKNOWN_COMMUNITY,
                "error",
                f"community {community} of {len(idx)} grid(s) ({shown}) is not in the community list",
                codes=tuple(codes[i] for i in idx),
                rows=tuple(i + 1 for i in idx),
            )
        )


def _significant(parts: np.ndarray, areas: np.ndarray, settings: Settings) -> np.ndarray:
    """Faults that are more than float noise: big enough and wide enough to stand in."""
    if not len(parts):
        return np.zeros(0, dtype=bool)
    # Measure the width without zero-area slits (two copies of one edge, float noise apart) hanging
    # off a fault: they add their length twice to the perimeter and would pass a real fault as noise.
    perimeter = shapely.length(shapely.set_precision(parts, _SNAP_M))
    width = 2 * areas / np.maximum(perimeter, 1e-12)
    return (areas > settings.tolerance_m2) & (width > settings.noise_width_m)


def _overlap_pairs(
    metric: np.ndarray, settings: Settings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tree = shapely.STRtree(metric)
    left, right = tree.query(metric, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    pieces = shapely.intersection(metric[left], metric[right])
    areas = shapely.area(pieces)
    big = _significant(pieces, areas, settings)
    return left[big], right[big], pieces[big], areas[big]


def _check_overlaps(
    metric: np.ndarray, codes: np.ndarray, frame: MetricFrame, settings: Settings, report: ValidationReport
) -> None:
    left, right, pieces, areas = _overlap_pairs(metric, settings)
    for i, j, piece, area in zip(left, right, pieces, areas, strict=True):
        report.issues.append(
            Issue(
                IssueKind.OVERLAP,
                "error",
                f"grids {codes[i]} and {codes[j]} overlap by {area:.2f} m²",
                codes=(codes[i], codes[j]),
                rows=(int(i) + 1, int(j) + 1),
                location=_where(piece, frame),
                area_m2=float(area),
                repairable=bool(area <= settings.sliver_m2),
            )
        )


def _gap_parts(
    union: BaseGeometry, outline_m: BaseGeometry | None, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    if outline_m is not None:
        gaps = shapely.difference(outline_m, union)
    else:  # without an outline, only holes enclosed by the grids can be told apart as gaps
        rings = _holes(union)
        gaps = shapely.union_all(rings) if len(rings) else shapely.Polygon()
    parts = shapely.get_parts(gaps)
    parts = parts[shapely.get_type_id(parts) == 3] if len(parts) else parts
    areas = shapely.area(parts) if len(parts) else np.array([])
    keep = _significant(parts, areas, settings)
    return parts[keep], areas[keep]


def _holes(union: BaseGeometry) -> np.ndarray:
    polys = shapely.get_parts(union)
    holes = []
    for poly in polys:
        for k in range(shapely.get_num_interior_rings(poly)):
            holes.append(shapely.Polygon(shapely.get_interior_ring(poly, k)))
    return np.asarray(holes, dtype=object)


def _check_gaps(
    union: BaseGeometry,
    outline_m: BaseGeometry | None,
    frame: MetricFrame,
    settings: Settings,
    report: ValidationReport,
) -> None:
    parts, areas = _gap_parts(union, outline_m, settings)
    for part, area in zip(parts, areas, strict=True):
        where = _where(shapely.centroid(part), frame)
        report.issues.append(
            Issue(
                IssueKind.GAP,
                "error",
                f"gap of {area:.2f} m² covered by no grid, centred at {where[0]:.6f},{where[1]:.6f}",
                location=where,
                area_m2=float(area),
                repairable=bool(area <= settings.sliver_m2),
            )
        )


def _check_outside(
    metric: np.ndarray,
    codes: np.ndarray,
    outline_m: BaseGeometry,
    frame: MetricFrame,
    settings: Settings,
    report: ValidationReport,
) -> None:
    shapely.prepare(outline_m)
    outside = shapely.difference(metric, outline_m)
    areas = shapely.area(outside)
    for i in np.flatnonzero(_significant(outside, areas, settings)):
        report.issues.append(
            Issue(
                IssueKind.OUTSIDE_TOWN,
                "error",
                f"grid {codes[i]} reaches {areas[i]:.2f} m² outside the town outline",
                codes=(codes[i],),
                rows=(int(i) + 1,),
                location=_where(outside[i], frame),
                area_m2=float(areas[i]),
                repairable=bool(areas[i] <= settings.sliver_m2),
            )
        )


def _check_datum(
    geoms: np.ndarray, outline_m: BaseGeometry, frame: MetricFrame, report: ValidationReport
) -> None:
    """Name the likely cause when grids sit a few hundred metres off the outline."""
    union = shapely.union_all(frame.project(geoms[~shapely.is_empty(geoms)]))
    if union.is_empty:
        return
    outside = shapely.area(shapely.difference(union, outline_m)) / shapely.area(union)
    if outside < 0.01:
        return
    for name, fn in (("gcj02", datums.gcj02_to_wgs84), ("bd09", datums.bd09_to_wgs84)):
        shifted = shapely.transform(geoms, lambda xy, fn=fn: np.column_stack(fn(xy[:, 0], xy[:, 1])))
        union_s = shapely.union_all(frame.project(shifted[~shapely.is_empty(shifted)]))
        outside_s = shapely.area(shapely.difference(union_s, outline_m)) / shapely.area(union_s)
        if outside_s < outside * 0.3:
            report.issues.append(
                Issue(
                    IssueKind.DATUM_SUSPECT,
                    "error",
                    f"{outside:.0%} of the grids' area lies outside the town outline, but only "
                    f"{outside_s:.0%} would if the coordinates were {name.upper()}: the file is "
                    f"probably in {name.upper()}; re-import it with --crs {name}",
                )
            )
            return


# --- repairs ------------------------------------------------------------------------------


def _drop_tiny_parts(metric, codes, settings, changes):
    changed = np.zeros(len(metric), dtype=bool)
    metric = metric.copy()
    for i in np.flatnonzero(shapely.get_num_geometries(metric) > 1):
        parts = shapely.get_parts(metric[i])
        areas = shapely.area(parts)
        tiny = areas < settings.sliver_m2
        if tiny.any() and (~tiny).any():
            metric[i] = shapely.union_all(parts[~tiny])
            changed[i] = True
            changes.append(
                f"grid {codes[i]}: dropped {tiny.sum()} stray part(s) of {areas[tiny].sum():.2f} m²"
            )
    return metric, changed


def _trim_overlaps(metric, codes, settings, changes, frame):
    changed = np.zeros(len(metric), dtype=bool)
    metric = metric.copy()
    left, right, pieces, areas = _overlap_pairs(metric, settings)
    for i, j, piece, area in zip(left, right, pieces, areas, strict=True):
        if area > settings.sliver_m2:
            continue
        keeper, loser = (i, j) if codes[i] <= codes[j] else (j, i)
        metric[loser] = _polygonal(_overlay(shapely.difference, metric[loser], piece))
        changed[loser] = True
        lon, lat = _where(piece, frame)
        changes.append(
            f"grid {codes[loser]}: gave an overlap of {area:.2f} m² at "
            f"{lon:.6f},{lat:.6f} to grid {codes[keeper]} (lower code keeps it)"
        )
    return metric, changed


def _clip_overhangs(metric, codes, outline_m, settings, changes, frame):
    changed = np.zeros(len(metric), dtype=bool)
    metric = metric.copy()
    outside = shapely.difference(metric, outline_m)
    areas = shapely.area(outside)
    for i in np.flatnonzero(_significant(outside, areas, settings) & (areas <= settings.sliver_m2)):
        metric[i] = _polygonal(_overlay(shapely.intersection, metric[i], outline_m))
        changed[i] = True
        lon, lat = _where(outside[i], frame)
        changes.append(f"grid {codes[i]}: clipped {areas[i]:.2f} m² outside the town at {lon:.6f},{lat:.6f}")
    return metric, changed


def _fill_gaps(metric, codes, outline_m, settings, changes, frame):
    changed = np.zeros(len(metric), dtype=bool)
    metric = metric.copy()
    union = shapely.union_all(metric[~shapely.is_empty(metric)])
    parts, areas = _gap_parts(union, outline_m, settings)
    tree = shapely.STRtree(metric)
    for part, area in zip(parts, areas, strict=True):
        if area > settings.sliver_m2:
            continue
        near = tree.query(part, predicate="dwithin", distance=0.01)
        if not len(near):
            continue
        ring = shapely.buffer(part, 0.01)
        shared = shapely.length(shapely.intersection(shapely.boundary(metric[near]), ring))
        order = np.lexsort((codes[near].astype(str), -shared))
        winner = near[order[0]]
        metric[winner] = _polygonal(_overlay(shapely.union, metric[winner], part))
        changed[winner] = True
        lon, lat = _where(part, frame)
        changes.append(
            f"grid {codes[winner]}: took in a gap of {area:.2f} m² at "
            f"{lon:.6f},{lat:.6f} (longest shared border)"
        )
    return metric, changed


# --- helpers ------------------------------------------------------------------------------


#: Precision (metres) of the overlays that repairs run. Shared edges of neighbours differ by float
#: noise (~1e-9 m at UTM magnitudes); an exact overlay keeps nm-thin slivers and spikes of that
#: noise, which turn into self-intersections once a grid goes back to lon/lat. Snap-rounding to
#: 1 µm removes them and moves nothing a surveyor could draw.
_SNAP_M = 1e-6


def _overlay(op: Callable[..., BaseGeometry], a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """``op(a, b)`` snap-rounded to ``_SNAP_M``, with the vertices that came from a or b put back.

    Rounding alone would move every vertex of the grid by up to half a micrometre, and so open
    µm-thin slivers along borders no repair touched; putting the inputs' own vertices back keeps
    those borders exactly as they were. If that ever made the result invalid, the rounded one is kept.
    """
    rounded = op(a, b, grid_size=_SNAP_M)
    source = shapely.get_coordinates(np.array([a, b], dtype=object))
    if not len(source) or rounded.is_empty:
        return rounded
    tree = cKDTree(source)

    def pin(xy: np.ndarray) -> np.ndarray:
        dist, idx = tree.query(xy, distance_upper_bound=_SNAP_M)
        hit = np.isfinite(dist)
        out = xy.copy()
        out[hit] = source[idx[hit]]
        return out

    pinned = shapely.transform(rounded, pin)
    return pinned if pinned.is_valid else rounded


def _metric_frame(geoms: np.ndarray) -> MetricFrame:
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(present):
        return MetricFrame.for_lonlat(113.15, 23.11)
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    return MetricFrame.for_lonlat((xmin + xmax) / 2, (ymin + ymax) / 2)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygon parts of a make_valid/difference result."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if not len(polys):
        return shapely.Polygon()
    merged = shapely.union_all(polys)
    return merged


def _where(geom: BaseGeometry, frame: MetricFrame | None = None) -> tuple[float, float]:
    point = shapely.point_on_surface(geom) if shapely.get_type_id(geom) in (3, 6) else shapely.centroid(geom)
    if frame is not None:
        lon, lat = frame.inverse(shapely.get_x(point), shapely.get_y(point))
        return float(lon), float(lat)
    return float(shapely.get_x(point)), float(shapely.get_y(point))
