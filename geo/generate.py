"""Generate a demo grid set: a town outline cut into communities, each cut into grids.

No public boundaries exist for 大沥镇's 43 communities or its 309 basic grids (see
``shared/data/PROVENANCE.md``), so the bundled demo is *generated*: real community
names and statistical codes, invented geometry, population and urban/rural kind.
The same generator runs on other outlines and sizes, for tests and benchmarks.

How it works, and why:

* Everything geometric happens in the local UTM zone, so that "balanced" means
  balanced in square metres, not in square degrees.
* Community and grid shapes come from centroidal Voronoi tessellations (Lloyd's
  k-means on dense stratified samples), which give compact, convex-looking cells
  like real administrative patches. Community seeds are weighted by a smooth
  random "settlement density" field, so central communities come out smaller
  than outlying ones, as in a real town.
* Each tiling is built as *one planar graph*: the outline is noded with the
  community Voronoi edges, then the resulting community borders with every
  grid's Voronoi edges, all at once, and polygonized. Each face is labelled by
  its nearest seed, so neighbouring grids are made of the very same edges and
  share vertices bit for bit (a valid GEOS coverage); a grid is the union of its
  faces. Clipping each grid separately would instead leave T-junctions and
  slivers along community borders.
* All coordinates go back to lon/lat through one vectorised transform, so a
  vertex shared in metres is still shared in degrees; the outline's own vertices
  are restored to their exact input values, so the grids tile the outline given.

Caveat: edges are straight in UTM. Where a border meets the outline between two
of its vertices, the new vertex lies on the UTM chord; measured in UTM the grids
tile the outline to float noise (µm²), but in planar lon/lat that vertex sits off
the straight lon/lat segment by the segment's curvature: a few millimetres for
the OSM outline of 大沥镇, about 1 m on a 10 km lon/lat box edge.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import geopandas
import numpy as np
import pandas
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.crs import transform_xy
from geo.crs import utm_crs_for
from geo.errors import GeoError

__all__ = [
    "DALI_AREA_KM2",
    "DALI_CENTER",
    "DALI_POPULATION",
    "GeneratedGrids",
    "GeneratorInputError",
    "ProgressCallback",
    "demo_outline",
    "generate_grids",
    "reading_order",
]

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"

#: Centroid of the OSM outline of 大沥镇 (PROVENANCE.md); the demo outline sits on it.
DALI_CENTER = (113.1457, 23.1110)
#: Area of the OSM outline of 大沥镇 in UTM 49N, km².
DALI_AREA_KM2 = 90.9
#: Rough resident population of 大沥镇; the demo's total, scaled by area for other outlines.
DALI_POPULATION = 780_000
#: Mean household size used to derive households from residents.
HOUSEHOLD_SIZE = 2.6

ProgressCallback = Callable[[str, int, int], None]

# How far (metres) grid edges are extended past their community's border before the
# global noding. It guarantees the edge really crosses the border, so the crossing
# becomes a shared node; the overshoot is a dangle that polygonize drops. It must be
# far above float noise at UTM magnitudes (~5e-10 m) and far below any real feature.
_OVERSHOOT_M = 1e-4
# Stratified samples per cell for the Lloyd iterations: more gives better balance.
_SAMPLES_PER_GRID = 96
_SAMPLES_PER_COMMUNITY = 240
_COMMUNITY_ITERATIONS = 60
_GRID_ITERATIONS = 100
_CODE_12 = re.compile(r"^\d{12}$")


class GeneratorInputError(GeoError, ValueError):
    """An outline, community table or grid count the generator cannot work with."""

    code = "invalid_generator_input"


@dataclass
class GeneratedGrids:
    """A generated grid set, in WGS84, ready to be written as the demo or imported.

    ``communities``: code (12-digit str), name, short_name, kind ("urban"/"rural",
    a generated assignment: NBS lists every 大沥镇 unit as 居委会), geometry.
    ``grids``: code (15-digit str), name, community_code, population, households
    (both generated), geometry (one Polygon each); the grids tile the outline.
    ``balance``: per community, its grid count and the coefficient of variation
    of its grids' areas, so callers can judge how even the split came out.
    """

    communities: geopandas.GeoDataFrame
    grids: geopandas.GeoDataFrame
    balance: pandas.DataFrame = field(default_factory=pandas.DataFrame)


# --------------------------------------------------------------------------- CRS


def _transform_func(src: CRS | str, dst: CRS | str) -> Callable[[np.ndarray], np.ndarray]:
    return lambda xy: transform_xy(xy, src, dst)


def _complex_keys(xy: np.ndarray) -> np.ndarray:
    # A coordinate pair viewed as one complex number: exact bit-for-bit equality,
    # and numpy sorts complex lexicographically, so searchsorted can match pairs.
    return np.ascontiguousarray(xy, dtype=np.float64).view(np.complex128).ravel()


def _back_transform_func(
    src: CRS | str, pinned_src: np.ndarray, pinned_dst: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """metric → lon/lat, returning the caller's exact lon/lat for the outline's vertices.

    The round trip lon/lat → UTM → lon/lat is only good to ~1e-15°, which would
    leave needle-thin gaps against the input outline; pinning its vertices back
    keeps "the grids tile the outline" exact for every vertex the two share.
    """
    forward = _transform_func(src, WGS84)
    keys = _complex_keys(pinned_src)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def apply(xy: np.ndarray) -> np.ndarray:
        out = forward(xy)
        if sorted_keys.size:
            query = _complex_keys(xy)
            pos = np.clip(np.searchsorted(sorted_keys, query), 0, sorted_keys.size - 1)
            hit = sorted_keys[pos] == query
            out[hit] = pinned_dst[order[pos[hit]]]
        return out

    return apply


# ------------------------------------------------------------------ demo outline


def demo_outline(
    center_lon: float = DALI_CENTER[0],
    center_lat: float = DALI_CENTER[1],
    area_km2: float = DALI_AREA_KM2,
    seed: int = 2024,
) -> shapely.Polygon:
    """An invented town outline with 大沥镇's centre and area, for the shippable demo.

    The real OSM outline is ODbL and may not be copied into the repository, so
    the demo needs a shape of its own. A radial curve r(θ) = R·(1 + Σ aₖ cos(kθ+φₖ))
    with small random low-order terms is smooth, looks like a plausible boundary
    and, because r stays positive, is star-shaped and therefore always simple.
    It is built in UTM so the area can be set exactly, and returned in WGS84
    rounded to 7 decimals (~1 cm), counter-clockwise, like the OSM data.
    """
    if not area_km2 > 0:
        raise GeneratorInputError(f"area_km2 must be positive, got {area_km2}")
    rng = np.random.default_rng(seed)
    n_vertices = 480
    theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    k = np.arange(2, 9)
    # Σ amplitudes ≤ 0.15·Σ k^-0.8 ≈ 0.34 < 1, so r > 0: the curve cannot cross itself.
    amplitudes = 0.15 * rng.uniform(0.4, 1.0, k.size) / k**0.8
    phases = rng.uniform(0.0, 2.0 * np.pi, k.size)
    r = 1.0 + (amplitudes[:, None] * np.cos(k[:, None] * theta + phases[:, None])).sum(axis=0)
    unit = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    unit_poly = shapely.Polygon(unit)
    centroid = np.array(unit_poly.centroid.coords[0])
    scale = math.sqrt(area_km2 * 1e6 / unit_poly.area)

    crs = utm_crs_for(center_lon, center_lat)
    center_xy = _transform_func(WGS84, crs)(np.array([[center_lon, center_lat]]))[0]
    metric = (unit - centroid) * scale + center_xy
    lonlat = np.round(_transform_func(crs, WGS84)(metric), 7)
    outline = shapely.orient_polygons(shapely.Polygon(lonlat))
    if not outline.is_valid:  # pragma: no cover - guarded by r > 0 above
        raise GeneratorInputError(f"demo outline for seed {seed} came out invalid")
    return outline


# ---------------------------------------------------------------- input checks


def _community_table(communities: pandas.DataFrame) -> pandas.DataFrame:
    missing = [c for c in ("code", "name") if c not in communities.columns]
    if missing:
        raise GeneratorInputError(
            f"communities table lacks column(s) {missing}; it needs code (12-digit "
            "statistical code) and name, optionally short_name"
        )
    if len(communities) == 0:
        raise GeneratorInputError("communities table is empty; at least one community is needed")
    table = pandas.DataFrame(
        {
            "code": communities["code"].astype(str).str.strip().to_numpy(),
            "name": communities["name"].astype(str).str.strip().to_numpy(),
        }
    )
    bad = [c for c in table["code"] if not _CODE_12.match(c)]
    if bad:
        raise GeneratorInputError(
            f"community codes must be 12-digit statistical codes; got {bad[:5]}"
            + (" (read the CSV with dtype=str to keep leading zeros)" if bad else "")
        )
    dup = table["code"][table["code"].duplicated()].tolist()
    if dup:
        raise GeneratorInputError(f"duplicate community codes: {dup[:5]}")
    if "short_name" in communities.columns:
        short = communities["short_name"].astype("string").str.strip().to_numpy()
    else:
        short = np.full(len(table), None, dtype=object)
    table["short_name"] = [
        s if isinstance(s, str) and s else _short_name(n) for s, n in zip(short, table["name"], strict=True)
    ]
    return table


def _short_name(name: str) -> str:
    # NBS names end in 居委会 / 村委会; the short form keeps 社区 / 村 (沥苑社区, 新龙村).
    for suffix in ("居委会", "委会"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _check_outline(outline: shapely.Polygon | shapely.MultiPolygon) -> None:
    if not isinstance(outline, shapely.Polygon | shapely.MultiPolygon):
        raise GeneratorInputError(f"outline must be a Polygon or MultiPolygon, got {type(outline).__name__}")
    if outline.is_empty:
        raise GeneratorInputError("outline is empty")
    if not outline.is_valid:
        raise GeneratorInputError(f"outline is not valid: {shapely.is_valid_reason(outline)}")
    if outline.area == 0:
        raise GeneratorInputError("outline has no area")
    minx, miny, maxx, maxy = outline.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise GeneratorInputError(
            f"outline must be WGS84 lon/lat; its bounds {outline.bounds} are not degrees"
        )


# ------------------------------------------------------------- sampling, Lloyd


class _Density:
    """A smooth random 'settlement density': higher near the centre, with a few bumps.

    It makes community sizes vary (weighted k-means gives equal *weight*, so dense
    areas get small communities) and scales grid populations, so the demo looks
    like a town with a core and an outskirts rather than a uniform lattice.
    """

    def __init__(self, region: shapely.Geometry, rng: np.random.Generator) -> None:
        centroid = region.centroid
        self.center = np.array([centroid.x, centroid.y])
        self.radius = math.sqrt(region.area / math.pi)
        candidates = _stratified_samples(region, 24, rng)
        n_bumps = min(6, len(candidates))
        self.bumps = candidates[rng.choice(len(candidates), n_bumps, replace=False)]
        self.amps = rng.uniform(-0.6, 0.9, n_bumps)
        self.widths = self.radius * rng.uniform(0.2, 0.45, n_bumps)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        dist = np.hypot(*(xy - self.center).T) / self.radius
        log_w = -1.6 * dist
        for bump, amp, width in zip(self.bumps, self.amps, self.widths, strict=True):
            d2 = ((xy - bump) ** 2).sum(axis=1)
            log_w = log_w + amp * np.exp(-d2 / (2.0 * width * width))
        return np.exp(log_w)


def _stratified_samples(region: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """About n points spread evenly over region: one jittered point per lattice cell.

    Jittered (stratified) samples estimate areas with far less noise than plain
    uniform ones, which is what keeps the Lloyd cells balanced.
    """
    shapely.prepare(region)
    minx, miny, maxx, maxy = region.bounds
    spacing = math.sqrt(region.area / max(n, 1))
    for _ in range(8):
        nx = max(1, math.ceil((maxx - minx) / spacing))
        ny = max(1, math.ceil((maxy - miny) / spacing))
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
        jitter = rng.random((2, gx.size))
        x = minx + (gx.ravel() + jitter[0]) * spacing
        y = miny + (gy.ravel() + jitter[1]) * spacing
        inside = shapely.contains_xy(region, x, y)
        if inside.sum() >= max(n // 2, 1):
            return np.column_stack([x[inside], y[inside]])
        spacing /= 2.0
    raise GeneratorInputError("could not sample points inside a region; is it degenerate?")


def _workers(n_points: int) -> int:
    # cKDTree's workers start Python threads per call: a loss below ~100k points.
    return -1 if n_points >= 100_000 else 1


def _kmeans(
    points: np.ndarray,
    weights: np.ndarray | None,
    k: int,
    rng: np.random.Generator,
    region: shapely.Geometry,
    iterations: int,
    on_iteration: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Weighted Lloyd iterations from a k-means++ start; centres lie inside region.

    A hand-rolled loop (cKDTree + bincount) rather than scikit-learn: it is
    bit-for-bit reproducible for a seed and lets us re-seed empty clusters and pull
    centres that drift out of a non-convex region back onto their own samples, which
    guarantees every seed's Voronoi cell really meets the region.
    """
    n = len(points)
    if k > n:
        raise GeneratorInputError(f"cannot place {k} cells with only {n} sample points")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)

    # k-means++ seeding, inverse-CDF draws so one rng.random() per centre.
    centers = np.empty((k, 2))
    first = int(np.searchsorted(np.cumsum(w), rng.random() * w.sum()))
    centers[0] = points[min(first, n - 1)]
    d2 = ((points - centers[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        cdf = np.cumsum(w * d2)
        idx = int(np.searchsorted(cdf, rng.random() * cdf[-1]))
        centers[j] = points[min(idx, n - 1)]
        d2 = np.minimum(d2, ((points - centers[j]) ** 2).sum(axis=1))

    if k == 1:
        iterations = 1
    spacing = math.sqrt(region.area / n)
    labels = np.zeros(n, dtype=np.intp)
    for it in range(iterations):
        dist, labels = cKDTree(centers).query(points, workers=_workers(n))
        wsum = np.bincount(labels, w, minlength=k)
        sx = np.bincount(labels, w * points[:, 0], minlength=k)
        sy = np.bincount(labels, w * points[:, 1], minlength=k)
        empty = wsum == 0
        new = centers.copy()
        new[~empty, 0] = sx[~empty] / wsum[~empty]
        new[~empty, 1] = sy[~empty] / wsum[~empty]
        if empty.any():  # restart an empty cluster at the worst-served samples
            far = np.argsort(-dist, kind="stable")[: int(empty.sum())]
            new[empty] = points[far]
        shift = float(np.abs(new - centers).max())
        centers = new
        if on_iteration is not None:
            on_iteration(it + 1, iterations)
        if shift < 1e-3 * spacing and not empty.any():
            break

    _, labels = cKDTree(centers).query(points, workers=_workers(n))
    outside = ~shapely.contains_xy(region, centers[:, 0], centers[:, 1])
    for cell in np.flatnonzero(outside | (np.bincount(labels, minlength=k) == 0)):
        own = np.flatnonzero(labels == cell)
        if own.size == 0:  # pragma: no cover - re-seeding above prevents it
            raise GeneratorInputError("a cell lost all its samples; try another seed")
        nearest = own[np.argmin(((points[own] - centers[cell]) ** 2).sum(axis=1))]
        centers[cell] = points[nearest]
    return centers


# ------------------------------------------------------------- planar tiling


def _voronoi_edges(seeds: np.ndarray, region: shapely.Geometry) -> shapely.Geometry | None:
    """The seeds' Voronoi edges inside region, each overshooting its border slightly."""
    if len(seeds) < 2:
        return None
    minx, miny, maxx, maxy = region.bounds
    pad = max(maxx - minx, maxy - miny)
    frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    edges = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, only_edges=True)
    return shapely.intersection(edges, shapely.buffer(region, _OVERSHOOT_M, quad_segs=2))


def _faces(lines: list[shapely.Geometry], region: shapely.Geometry) -> np.ndarray:
    """Node all lines together once and return the polygon faces lying inside region."""
    parts = shapely.get_parts(np.asarray([g for g in lines if g is not None], dtype=object))
    noded = shapely.union_all(parts)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    reps = shapely.get_coordinates(shapely.point_on_surface(faces))
    shapely.prepare(region)
    return faces[shapely.contains_xy(region, reps[:, 0], reps[:, 1])]


def _face_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of faces sharing an edge, with the shared length, in both directions.

    Faces from one polygonize share their edges with identical coordinates, so
    matching segments by exact endpoint values finds every neighbour without any
    geometric predicate: fast for tens of thousands of faces, and exact.
    """
    rings, ring_face = shapely.get_rings(faces, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    p, q = coords[:-1][same], coords[1:][same]
    owner = ring_face[ring_idx[:-1][same]]
    swap = (p[:, 0] > q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] > q[:, 1]))
    lo = np.where(swap[:, None], q, p)
    hi = np.where(swap[:, None], p, q)
    order = np.lexsort((hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    key = np.column_stack([lo, hi])[order]
    match = np.flatnonzero((key[1:] == key[:-1]).all(axis=1))
    a, b = owner[order[match]], owner[order[match + 1]]
    length = np.hypot(*(key[match, 2:] - key[match, :2]).T)
    keep = a != b
    a, b, length = a[keep], b[keep], length[keep]
    return np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([length, length])


def _merge_fragments(
    areas: np.ndarray,
    adj: tuple[np.ndarray, np.ndarray, np.ndarray],
    labels: np.ndarray,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """Give each label one connected piece: fragments join the neighbour with the longest border.

    Clipping a Voronoi cell to a non-convex outline can split it; the grid must be a
    single Polygon, and merging the smaller pieces by longest shared border is what
    a mapper would do by hand. ``group`` (per label) restricts merges, e.g. to grids
    of the same community. Fragments with no eligible neighbour (islands) stay.
    """
    a, b, length = adj
    labels = labels.copy()
    n = len(areas)
    for _ in range(50):
        same = labels[a] == labels[b]
        graph = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(n, n))
        n_comp, comp = connected_components(graph, directed=False)
        comp_label = np.empty(n_comp, dtype=labels.dtype)
        comp_label[comp] = labels
        comp_area = np.bincount(comp, areas, minlength=n_comp)
        order = np.lexsort((np.arange(n_comp), -comp_area, comp_label))
        is_main = np.ones(n_comp, dtype=bool)
        is_main[order[1:]] = comp_label[order[1:]] != comp_label[order[:-1]]
        if is_main.all():
            break
        # Only into main pieces: two fragments never swap labels and chase each other.
        cand = ~is_main[comp[a]] & is_main[comp[b]]
        if group is not None:
            cand &= group[labels[a]] == group[labels[b]]
        if not cand.any():
            break
        table = pandas.DataFrame({"comp": comp[a[cand]], "to": labels[b[cand]], "len": length[cand]})
        border = table.groupby(["comp", "to"], sort=True)["len"].sum().reset_index()
        border = border.sort_values(["comp", "len", "to"], ascending=[True, False, True])
        best = border.drop_duplicates("comp")
        target = np.full(n_comp, -1, dtype=np.int64)
        target[best["comp"].to_numpy()] = best["to"].to_numpy()
        move = target[comp] >= 0
        labels[move] = target[comp[move]]
    return labels


def _union_by_label(faces: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Dissolve faces into one geometry per label.

    The faces come from one polygonize, so they form an exact coverage and
    coverage_union can dissolve them without re-noding: shared vertices survive.
    """
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_labels + 1))
    out = np.empty(n_labels, dtype=object)
    for i in range(n_labels):
        members = faces[order[bounds[i] : bounds[i + 1]]]
        if members.size == 0:
            raise GeneratorInputError(f"cell {i} came out empty; try another seed")
        out[i] = members[0] if members.size == 1 else shapely.coverage_union_all(members)
    return out


def _allocate(areas: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder apportionment of total cells to areas, at least one each."""
    quota = total * areas / areas.sum()
    alloc = np.maximum(1, np.floor(quota)).astype(np.int64)
    while alloc.sum() != total:
        gap = total - int(alloc.sum())
        remainder = quota - alloc
        if gap > 0:
            pick = np.lexsort((np.arange(len(areas)), -remainder))[:gap]
            alloc[pick] += 1
        else:
            eligible = np.flatnonzero(alloc > 1)
            pick = eligible[np.lexsort((eligible, remainder[eligible]))][:-gap]
            alloc[pick] -= 1
    return alloc


def reading_order(x: np.ndarray, y: np.ndarray, row_height: float) -> np.ndarray:
    """Ranks (0-based) for numbering: rows from north to south, west to east in a row.

    Grid workers read a map like a page. Rows are found greedily from the north:
    a point joins the current row while it lies within ``row_height / 2`` (units
    of y) of the row's northernmost point, otherwise it opens the next row. Rows
    follow the actual layout, so they neither drift nor split a row of cells that
    fixed-height bands would cut through. Ties keep input order (deterministic).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise GeneratorInputError("x and y must be 1-d arrays of the same length")
    if not row_height > 0:
        raise GeneratorInputError(f"row_height must be positive, got {row_height}")
    north_first = np.lexsort((np.arange(x.size), x, -y))
    row = np.empty(x.size, dtype=np.int64)
    current, top = -1, math.inf
    for i in north_first:
        if top - y[i] > row_height / 2.0:
            current, top = current + 1, y[i]
        row[i] = current
    order = np.lexsort((np.arange(x.size), x, row))
    ranks = np.empty(x.size, dtype=np.int64)
    ranks[order] = np.arange(x.size)
    return ranks


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to weights that add up to total exactly (largest remainder)."""
    quota = total * weights / weights.sum()
    out = np.floor(quota).astype(np.int64)
    short = total - int(out.sum())
    out[np.lexsort((np.arange(len(weights)), -(quota - out)))[:short]] += 1
    return out


# --------------------------------------------------------------------- main


def generate_grids(
    outline: shapely.Polygon | shapely.MultiPolygon,
    communities: pandas.DataFrame,
    n_grids: int,
    *,
    seed: int = 0,
    rural_share: float = 0.35,
    progress: ProgressCallback | None = None,
    total_population: int | None = None,
) -> GeneratedGrids:
    """Cut a WGS84 outline into the given communities and ``n_grids`` grids that tile it.

    Used to build the bundled demo (309 grids under 大沥镇's 43 communities) and
    synthetic sets for tests and benchmarks. Geometry, kind, population and
    households are *generated*; only the community codes and names are the
    caller's. Same inputs and seed give byte-identical output.

    ``kind``: the NBS table marks all 43 大沥镇 units 居委会, so urban/rural is a
    demo assignment, not a fact: the ``rural_share`` of communities (rounded down)
    whose centroids lie farthest from the outline's centroid are "rural".
    ``total_population`` defaults to 大沥镇's ~780,000 scaled by the outline's area;
    grids nearer the dense core and in urban communities get more residents.
    ``progress(stage, done, total)`` is called for the stages "communities"
    (Lloyd iterations), "grids" (communities split) and "tiling".
    """
    _check_outline(outline)
    table = _community_table(communities)
    m = len(table)
    if not isinstance(n_grids, int | np.integer) or n_grids < m:
        raise GeneratorInputError(
            f"n_grids must be an integer ≥ the number of communities ({m}), got {n_grids!r}"
        )
    if n_grids > 999 * m:
        raise GeneratorInputError(f"{n_grids} grids over {m} communities overflows the 3-digit grid sequence")
    if not 0.0 <= rural_share <= 1.0:
        raise GeneratorInputError(f"rural_share must be within [0, 1], got {rural_share}")
    if total_population is not None and (
        not isinstance(total_population, int | np.integer) or total_population < 0
    ):
        raise GeneratorInputError(
            f"total_population must be a non-negative integer, got {total_population!r}"
        )
    report: ProgressCallback = progress or (lambda stage, done, total: None)

    centroid = outline.centroid
    crs = utm_crs_for(centroid.x, centroid.y)
    to_metric = _transform_func(WGS84, crs)
    region = shapely.transform(outline, to_metric)
    region_boundary = shapely.boundary(region)
    shapely.prepare(region)
    (field_ss, comm_ss, grid_ss, attr_ss) = np.random.SeedSequence(seed).spawn(4)
    density = _Density(region, np.random.default_rng(field_ss))

    # 1. Communities: weighted Lloyd on the density, Voronoi, planar faces.
    rng = np.random.default_rng(comm_ss)
    samples = _stratified_samples(region, max(8000, _SAMPLES_PER_COMMUNITY * m), rng)
    comm_seeds = _kmeans(
        samples,
        density(samples),
        m,
        rng,
        region,
        _COMMUNITY_ITERATIONS,
        lambda done, total: report("communities", done, total),
    )
    report("communities", _COMMUNITY_ITERATIONS, _COMMUNITY_ITERATIONS)  # converged early
    faces = _faces([region_boundary, _voronoi_edges(comm_seeds, region)], region)
    reps = shapely.get_coordinates(shapely.point_on_surface(faces))
    comm_label = cKDTree(comm_seeds).query(reps)[1]
    comm_label = _merge_fragments(shapely.area(faces), _face_adjacency(faces), comm_label)
    comm_geoms = _union_by_label(faces, comm_label, m)

    # Split multi-part communities (only with multi-part outlines) into parts that
    # each get their own grids, so every grid can be a single Polygon.
    parts, part_comm = shapely.get_parts(comm_geoms, return_index=True)
    part_areas = shapely.area(parts)
    if len(parts) > n_grids:
        raise GeneratorInputError(
            f"the outline's communities have {len(parts)} separate parts; "
            f"n_grids={n_grids} cannot give each a grid"
        )
    alloc = _allocate(part_areas, n_grids)

    # 2. Grids: plain (area-balanced) Lloyd inside each community part.
    grid_seeds: list[np.ndarray] = []
    grid_lines: list[shapely.Geometry | None] = []
    part_ss = grid_ss.spawn(len(parts))
    for i, (part, k) in enumerate(zip(parts, alloc, strict=True)):
        prng = np.random.default_rng(part_ss[i])
        shapely.prepare(part)
        pts = _stratified_samples(part, max(64, _SAMPLES_PER_GRID * int(k)), prng)
        seeds_i = _kmeans(pts, None, int(k), prng, part, _GRID_ITERATIONS)
        grid_seeds.append(seeds_i)
        grid_lines.append(_voronoi_edges(seeds_i, part))
        report("grids", i + 1, len(parts))

    # 3. One planar graph for everything, labelled by nearest seed within the part.
    report("tiling", 0, 3)
    # The parts' boundaries already hold the outline, split at every community
    # border; adding the outline again would put two nearly (not exactly) collinear
    # copies of those edges into the noding and leave needle slivers between them.
    faces = _faces([*shapely.boundary(parts), *grid_lines], region)
    reps = shapely.get_coordinates(shapely.point_on_surface(faces))
    hits_pt, hits_part = shapely.STRtree(parts).query(shapely.points(reps), predicate="within")
    face_part = np.full(len(faces), -1, dtype=np.int64)
    face_part[hits_pt] = hits_part
    lost = face_part < 0
    if lost.any():  # a face on a border to float precision: take the nearest part
        face_part[lost] = shapely.STRtree(parts).nearest(shapely.points(reps[lost]))
    offsets = np.concatenate([[0], np.cumsum(alloc)])
    grid_label = np.empty(len(faces), dtype=np.int64)
    for i in range(len(parts)):
        sel = np.flatnonzero(face_part == i)
        grid_label[sel] = offsets[i] + cKDTree(grid_seeds[i]).query(reps[sel])[1]
    grid_part = np.repeat(np.arange(len(parts)), alloc)
    report("tiling", 1, 3)
    areas = shapely.area(faces)
    grid_label = _merge_fragments(areas, _face_adjacency(faces), grid_label, group=grid_part)
    grid_geoms_m = _union_by_label(faces, grid_label, n_grids)
    grid_comm = part_comm[grid_part]
    comm_geoms_m = _union_by_label(faces, grid_comm[grid_label], m)
    split = np.flatnonzero(shapely.get_type_id(grid_geoms_m) != shapely.GeometryType.POLYGON)
    if split.size:  # pragma: no cover - _merge_fragments leaves none within a part
        raise GeneratorInputError(f"{split.size} grid(s) could not be made single polygons; try another seed")
    report("tiling", 2, 3)

    # 4. Back to lon/lat in one vectorised pass, pinning the outline's own vertices.
    pinned_src = shapely.get_coordinates(region)
    pinned_dst = shapely.get_coordinates(outline)
    back = _back_transform_func(crs, pinned_src, pinned_dst)
    out = shapely.orient_polygons(shapely.transform(np.concatenate([grid_geoms_m, comm_geoms_m]), back))
    grid_geoms, comm_out = out[:n_grids], out[n_grids:]
    report("tiling", 3, 3)

    # 5. Attributes: kind, numbering, population.
    grid_area = shapely.area(grid_geoms_m)
    comm_cxy = shapely.get_coordinates(shapely.centroid(comm_geoms_m))
    region_cxy = np.array(region.centroid.coords[0])
    n_rural = math.floor(rural_share * m + 1e-9)
    far_first = np.lexsort((np.arange(m), -np.hypot(*(comm_cxy - region_cxy).T)))
    rural = np.zeros(m, dtype=bool)
    rural[far_first[:n_rural]] = True

    grid_cxy = shapely.get_coordinates(shapely.centroid(grid_geoms_m))
    grid_cll = _transform_func(crs, WGS84)(grid_cxy)
    seq = np.zeros(n_grids, dtype=np.int64)
    comm_area = np.bincount(grid_comm, grid_area, minlength=m)
    comm_count = np.bincount(grid_comm, minlength=m)
    for c in range(m):
        sel = np.flatnonzero(grid_comm == c)
        row_m = math.sqrt(comm_area[c] / comm_count[c])  # typical grid size
        row_deg = row_m / 111_320.0
        seq[sel] = reading_order(grid_cll[sel, 0], grid_cll[sel, 1], row_deg) + 1

    arng = np.random.default_rng(attr_ss)
    if total_population is None:
        total_population = round(DALI_POPULATION * region.area / (DALI_AREA_KM2 * 1e6))
    pop_weight = (
        grid_area
        * density(grid_cxy) ** 0.4  # milder than for community sizes: grids are equal-area
        * arng.lognormal(0.0, 0.25, n_grids)
        * np.where(rural[grid_comm], 0.7, 1.0)
    )
    population = _apportion(pop_weight, int(total_population))
    hh_size = HOUSEHOLD_SIZE * arng.uniform(0.85, 1.15, n_grids)
    households = np.where(population > 0, np.maximum(1, np.rint(population / hh_size)), 0)

    codes = table["code"].to_numpy()
    shorts = table["short_name"].to_numpy()
    grids = geopandas.GeoDataFrame(
        {
            "code": [f"{codes[c]}{s:03d}" for c, s in zip(grid_comm, seq, strict=True)],
            "name": [f"{shorts[c]}第{s:02d}网格" for c, s in zip(grid_comm, seq, strict=True)],
            "community_code": codes[grid_comm],
            "population": population.astype(np.int64),
            "households": households.astype(np.int64),
        },
        geometry=grid_geoms,
        crs=WGS84,
    )
    grids = grids.sort_values("code", kind="stable").reset_index(drop=True)
    comms = geopandas.GeoDataFrame(
        {
            "code": codes,
            "name": table["name"].to_numpy(),
            "short_name": shorts,
            "kind": np.where(rural, "rural", "urban"),
        },
        geometry=comm_out,
        crs=WGS84,
    )

    balance = _balance(codes, grid_comm, grid_area)
    multi = balance["n_grids"] > 1
    log.info(
        "generated %d grids in %d communities (%s): grid area CV per community "
        "median %.3f, max %.3f; town-wide %.3f",
        n_grids,
        m,
        crs,
        balance.loc[multi, "area_cv"].median() if multi.any() else 0.0,
        balance.loc[multi, "area_cv"].max() if multi.any() else 0.0,
        float(grid_area.std() / grid_area.mean()),
    )
    return GeneratedGrids(communities=comms, grids=grids, balance=balance)


def _balance(codes: np.ndarray, grid_comm: np.ndarray, grid_area: np.ndarray) -> pandas.DataFrame:
    by_community = pandas.DataFrame({"c": grid_comm, "a": grid_area}).groupby("c")["a"]
    stats = by_community.agg(["count", "sum", "mean"])
    stats["std"] = by_community.std(ddof=0)  # population CV: a 1-grid community scores 0
    return pandas.DataFrame(
        {
            "community_code": codes[stats.index.to_numpy()],
            "n_grids": stats["count"].to_numpy(),
            "area_km2": stats["sum"].to_numpy() / 1e6,
            "area_cv": (stats["std"] / stats["mean"]).to_numpy(),
        }
    )
