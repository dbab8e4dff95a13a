"""Point-in-grid: which grid answers for a point, one point or a million.

The boundary rule, in one place (every path here follows it, and tests hold
them to it):

1. A point strictly inside exactly one grid belongs to that grid.
2. A point inside several grids (an overlap a validated set allows only below
   float noise) belongs to the one with the lowest code.
3. A point inside none but within ``EDGE_TOLERANCE_DEG`` (1e-11°, about a
   micrometre) of one or more grids lies on their shared edge or corner: the
   lowest code wins and the others are listed as ``also_touches`` (a point
   strictly inside one grid but that close to another lists it too).
   Neighbours whose edges carry different vertices never meet exactly in
   floating point, so "on the edge" must mean "within a micrometre of it".
4. Otherwise the point is in no grid; the nearest grid and its distance are
   reported instead (of grids at exactly the same distance, the lowest code).

A point within ``near_m`` (default 30 m) of a grid other than its own is
flagged ``near_boundary`` with that runner-up and the distance (of runner-ups at
exactly the same distance, the lowest code): a dispatcher should confirm such
addresses before sending a team.

Containment and touching are tested on the WGS84 polygons (what the data
says: a straight lon/lat edge bows by millimetres once projected, so a
tolerance measured in UTM would disagree with the containment test); the
distances reported (near-boundary, nearest) are measured in the UTM zone. The batch path is vectorised:
points are sorted along a Morton curve so neighbouring points hit the same
polygons while they are hot in cache, candidates come from an STRtree, and
containment is ``shapely.contains_xy`` on prepared polygons. A precomputed
lookup table (``geo.lut``) answers most points without touching a polygon.
The batch's annotations (runner-ups, nearest grids) are distances to boundary
segments computed with numpy (``geo.edges``), in GEOS's arithmetic, so they
equal the single path's shapely distances; only points in table cells within
the near distance of an edge are measured against the edges near them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from enum import IntEnum

import numpy as np
import shapely
from numpy.typing import ArrayLike
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from geo.crs import MetricFrame
from geo.edges import EdgeIndex
from geo.edges import lowest_per_point
from geo.lut import OUTSIDE as LUT_OUTSIDE
from geo.lut import LookupTable
from geo.parallel import ordered_map

EDGE_TOLERANCE_DEG = 1e-11
# A grid farther than this in UTM cannot be within EDGE_TOLERANCE_DEG in lon/lat: the
# projection bends edges by millimetres, never by half a metre.
_TOUCH_SCREEN_M = 0.5
# a point this far (degrees) beyond the grids' bounds is farther than EDGE_TOLERANCE_DEG from all
_BOUNDS_SLACK = 1e-9
DEFAULT_NEAR_M = 30.0
DEFAULT_SERVED_MARGIN_M = 5_000.0
_M_PER_DEG_LAT = 111_320.0
CHUNK = 200_000
BLOCK = 32
_NONE = np.iinfo(np.int32).max
_UNKNOWN = -2  # a grid the lookup table leaves open


class Status(IntEnum):
    """Per-point outcome of a lookup; the names are the API's ``status`` values."""

    OK = 0  # in a grid
    OUTSIDE = 1  # in no grid, but within the served area: nearest grid given
    FAR_OUTSIDE = 2  # beyond the served area (the grids' bounds plus a margin): likely a typo
    NOT_A_NUMBER = 3
    OUT_OF_RANGE = 4
    SWAPPED = 5  # out of range or far away as given, inside the served area with lon/lat swapped

    @property
    def label(self) -> str:
        return self.name.lower()


STATUS_MESSAGES = {
    Status.NOT_A_NUMBER: "coordinate is not a number",
    Status.OUT_OF_RANGE: "coordinate out of range (lon must be within ±180, lat within ±90)",
    Status.SWAPPED: "lon and lat look swapped: exchanged, the point falls inside the served area",
    Status.FAR_OUTSIDE: "point is far outside the served area",
}


@dataclass(frozen=True)
class PointMatch:
    """The answer for one point; grid indices refer to ``GridIndex.codes``."""

    status: Status
    grid: int = -1
    also_touches: tuple[int, ...] = ()
    runner_up: int = -1  # nearest other grid within near_m, if any
    runner_up_m: float = float("nan")
    nearest: int = -1  # for points in no grid
    nearest_m: float = float("nan")

    @property
    def near_boundary(self) -> bool:
        return self.runner_up >= 0


@dataclass
class BatchMatch:
    """Answers for many points as parallel arrays (no per-point objects)."""

    status: NDArray[np.uint8]
    grid: NDArray[np.int32]
    runner_up: NDArray[np.int32]
    runner_up_m: NDArray[np.float64]
    nearest: NDArray[np.int32]
    nearest_m: NDArray[np.float64]
    also_touches: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> BatchMatch:
        return cls(
            status=np.zeros(n, np.uint8),
            grid=np.full(n, -1, np.int32),
            runner_up=np.full(n, -1, np.int32),
            runner_up_m=np.full(n, np.nan),
            nearest=np.full(n, -1, np.int32),
            nearest_m=np.full(n, np.nan),
        )

    def __len__(self) -> int:
        return len(self.status)

    def point(self, i: int) -> PointMatch:
        return PointMatch(
            Status(int(self.status[i])),
            int(self.grid[i]),
            self.also_touches.get(i, ()),
            int(self.runner_up[i]),
            float(self.runner_up_m[i]),
            int(self.nearest[i]),
            float(self.nearest_m[i]),
        )


class GridIndex:
    """An immutable spatial index over one grid set, built once per version.

    ``codes`` are sorted on build, so a grid's position is also its rank in code
    order and "lowest code wins" is "lowest index wins".
    """

    def __init__(
        self,
        codes: Sequence[str],
        geoms: Sequence[BaseGeometry] | NDArray,
        *,
        near_m: float = DEFAULT_NEAR_M,
        served_margin_m: float = DEFAULT_SERVED_MARGIN_M,
    ) -> None:
        codes_arr = np.asarray(list(codes), dtype=object)
        geoms_arr = np.asarray(geoms, dtype=object)
        if len(codes_arr) != len(geoms_arr):
            raise ValueError("codes and geometries differ in length")
        if len(codes_arr) == 0:
            raise ValueError("cannot index an empty grid set")
        if len(set(codes_arr)) != len(codes_arr):
            raise ValueError("grid codes must be unique")
        order = np.argsort(codes_arr.astype(str), kind="stable")
        self.codes: NDArray = codes_arr[order]
        self.geoms: NDArray = geoms_arr[order]
        self.near_m = float(near_m)
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.geoms)
        self.bounds = (float(xmin), float(ymin), float(xmax), float(ymax))
        self.frame = MetricFrame.for_lonlat((xmin + xmax) / 2, (ymin + ymax) / 2)
        self.metric: NDArray = self.frame.project(self.geoms)
        shapely.prepare(self.geoms)
        shapely.prepare(self.metric)
        self.tree = shapely.STRtree(self.geoms)
        self.tree_m = shapely.STRtree(self.metric)
        lat0 = (ymin + ymax) / 2
        dlat = served_margin_m / _M_PER_DEG_LAT
        dlon = served_margin_m / (_M_PER_DEG_LAT * np.cos(np.radians(lat0)))
        self.served = (xmin - dlon, ymin - dlat, xmax + dlon, ymax + dlat)
        self.served_margin_m = float(served_margin_m)
        self.position = {code: i for i, code in enumerate(self.codes)}
        self._buckets = _NearBuckets(self.metric, self.near_m)
        self._edges: EdgeIndex | None = None
        self._edges_lock = threading.Lock()
        self.lut: LookupTable | None = None  # set by attach_lut

    def __len__(self) -> int:
        return len(self.codes)

    def attach_lut(self, lut: LookupTable) -> None:
        """Use a precomputed lookup table (``geo.lut.LookupTable``) built for this index."""
        if lut.n_grids != len(self.codes) or lut.near_m != self.near_m:
            raise ValueError("lookup table was built for another grid set or near distance")
        self.lut = lut

    # --- one point ----------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> PointMatch:
        """Locate one WGS84 point (the dispatcher's and the GET API's path)."""
        lon, lat = float(lon), float(lat)
        status = self._check_one(lon, lat)
        if status is not None:
            return PointMatch(status)
        if self.lut is not None:
            grid, deep = self.lut.probe(lon, lat)
            if deep:
                return PointMatch(Status.OK, grid)
        return self._locate_exact(lon, lat)

    def grid_at(self, lon: float, lat: float) -> int:
        """The grid a WGS84 point belongs to by the boundary rule, -1 for none; no annotations.

        A point beyond the grids' bounds costs one comparison, one in a cell of the lookup
        table that no boundary crosses one array read; only the rest take the exact path.
        """
        x0, y0, x1, y1 = self.bounds
        if not (
            x0 - _BOUNDS_SLACK <= lon <= x1 + _BOUNDS_SLACK
            and y0 - _BOUNDS_SLACK <= lat <= y1 + _BOUNDS_SLACK
        ):
            return -1
        if self.lut is not None:
            value = self.lut.value_at(lon, lat)
            if value >= 0:
                return value
            if value == LUT_OUTSIDE:
                return -1
        match = self.locate(lon, lat)
        return match.grid if match.status == Status.OK else -1

    def settled_at(self, lon: float, lat: float, rlon: float, rlat: float) -> int | None:
        """The grid of every point within ``rlon``/``rlat`` degrees of a point (-1: none), or None
        when the lookup table cannot tell (a boundary nearby, or no table)."""
        x0, y0, x1, y1 = self.bounds
        if lon + rlon < x0 - _BOUNDS_SLACK or lon - rlon > x1 + _BOUNDS_SLACK:
            return -1
        if lat + rlat < y0 - _BOUNDS_SLACK or lat - rlat > y1 + _BOUNDS_SLACK:
            return -1
        if self.lut is None:
            return None
        return self.lut.settled(lon, lat, rlon, rlat)

    def _check_one(self, lon: float, lat: float) -> Status | None:
        if lon != lon or lat != lat:
            return Status.NOT_A_NUMBER
        if self._served(lon, lat):
            return None
        if self._served(lat, lon):
            return Status.SWAPPED
        in_range = -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
        return Status.FAR_OUTSIDE if in_range else Status.OUT_OF_RANGE

    def _served(self, lon: float, lat: float) -> bool:
        x0, y0, x1, y1 = self.served
        return x0 <= lon <= x1 and y0 <= lat <= y1

    def _locate_exact(self, lon: float, lat: float) -> PointMatch:
        x, y = self.frame.forward_one(lon, lat)
        cands = self._buckets.candidates(x, y)
        if len(cands) == 0:
            return self._far_outside_one(x, y)
        pt = shapely.Point(x, y)
        dist = shapely.distance(self.metric[cands], pt)
        close = dist <= self.near_m
        cands, dist = cands[close], dist[close]
        if len(cands) == 0:
            return self._far_outside_one(x, y)
        inside = shapely.contains_xy(self.geoms[cands], lon, lat)
        first_inside = int(np.argmax(inside)) if inside.any() else -1
        # touching is tested only where it can change the answer: grids within screening
        # distance other than the one that strictly contains the point
        check = dist <= _TOUCH_SCREEN_M
        if first_inside >= 0:
            check[first_inside] = False
        on_edge = np.zeros(len(cands), dtype=bool)
        if check.any():
            on_edge[check] = shapely.dwithin(
                self.geoms[cands[check]], shapely.Point(lon, lat), EDGE_TOLERANCE_DEG
            )
        if first_inside >= 0:
            grid = int(cands[first_inside])
        elif on_edge.any():
            grid = int(cands[np.argmax(on_edge)])
        else:
            return self._outside_one(pt, cands, dist)
        others = cands != grid
        touches = tuple(int(c) for c in cands[others & on_edge])
        runner, runner_m = -1, float("nan")
        if others.any():
            k = int(np.argmin(np.where(others, dist, np.inf)))
            runner, runner_m = int(cands[k]), float(dist[k])
        return PointMatch(Status.OK, grid, touches, runner, runner_m)

    def _outside_one(self, pt: shapely.Point, cands: NDArray, dist: NDArray) -> PointMatch:
        k = int(np.argmin(dist))
        return PointMatch(Status.OUTSIDE, nearest=int(cands[k]), nearest_m=float(dist[k]))

    def _far_outside_one(self, x: float, y: float) -> PointMatch:
        """A point (metric) in no grid and beyond the near distance of all: its nearest grid from
        the edges' far cells, as the batch finds it; an STRtree query beyond them."""
        found = self.edges.nearest_one(x, y)
        if found is None:
            # every grid at the least distance comes back: the lowest code wins, as in the batch
            idx, d = self.tree_m.query_nearest(shapely.Point(x, y), return_distance=True, all_matches=True)
            k = int(np.argmin(idx))
            found = int(idx[k]), float(d[k])
        return PointMatch(Status.OUTSIDE, nearest=found[0], nearest_m=found[1])

    # --- many points --------------------------------------------------------------------

    def locate_many(self, lon: ArrayLike, lat: ArrayLike, *, annotate: bool = True) -> BatchMatch:
        """Locate many WGS84 points, vectorised, in chunks that bound memory, side by side on
        the batch threads (``geo.parallel``).

        With ``annotate=False`` only ``status`` and ``grid`` are filled (and ``nearest``
        for points in no grid): the fastest path, for bulk assignment.
        """
        x = np.ascontiguousarray(lon, dtype="float64").ravel()
        y = np.ascontiguousarray(lat, dtype="float64").ravel()
        if x.shape != y.shape:
            raise ValueError("lon and lat differ in length")
        if len(x) <= CHUNK:
            return self._locate_chunk(x, y, annotate)
        out = BatchMatch.empty(len(x))
        starts = range(0, len(x), CHUNK)
        parts = ordered_map(
            lambda s: self._locate_chunk(x[s : s + CHUNK], y[s : s + CHUNK], annotate), starts
        )
        for start, part in zip(starts, parts, strict=True):
            _paste(out, part, start)
        return out

    def _locate_chunk(self, x: NDArray, y: NDArray, annotate: bool) -> BatchMatch:
        out = BatchMatch.empty(len(x))
        status = self._check_many(x, y)
        out.status[:] = status
        todo = np.flatnonzero(status == Status.OK)
        lut = self.lut
        if lut is not None:
            grid, deep, pure, cell, far = lut.probe_all(x[todo], y[todo])
            if not annotate:
                mixed = np.flatnonzero(cell >= 0)
                grid[mixed] = self._resolve_mixed(lut, x[todo[mixed]], y[todo[mixed]], cell[mixed])
                clear = (grid < 0) & (cell < 0)  # cells no boundary crosses, in no grid
                out.status[todo[clear]] = Status.OUTSIDE
                pure = (grid >= 0) | clear
            settled = deep if annotate else pure
            out.grid[todo[settled]] = grid[settled]
            todo = todo[~settled]
            if annotate:
                # cells no boundary crosses hold their grid (or none) for sure: only points in
                # mixed cells need a containment test, the rest need only their annotations
                known = np.where(cell[~settled] >= 0, _UNKNOWN, grid[~settled])
                alone = far[~settled]  # in no grid, none within near_m: only the nearest is wanted
                if alone.any():
                    self._nearest_only(x, y, todo[alone], out)
                    todo, known = todo[~alone], known[~alone]
                if len(todo):
                    self._exact_many(x, y, todo, out, annotate, known)
                return out
        if len(todo):
            self._exact_many(x, y, todo, out, annotate)
        return out

    def _resolve_mixed(self, lut: LookupTable, x: NDArray, y: NDArray, cell: NDArray) -> NDArray:
        """Grid of points in mixed cells by testing only that cell's candidates (-1: unresolved)."""
        point, grid = lut.candidates(cell)
        inside = shapely.contains_xy(self.geoms[grid], x[point], y[point])
        best = np.full(len(x), _NONE, np.int64)
        np.minimum.at(best, point[inside], grid[inside])
        return np.where(best < _NONE, best, -1).astype(np.int32)

    def _check_many(self, x: NDArray, y: NDArray) -> NDArray[np.uint8]:
        status = np.full(len(x), Status.OK, np.uint8)
        nan = np.isnan(x) | np.isnan(y)
        in_range = (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
        x0, y0, x1, y1 = self.served
        served = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        swapped = (y >= x0) & (y <= x1) & (x >= y0) & (x <= y1) & ~served
        status[~served] = Status.FAR_OUTSIDE
        status[~in_range] = Status.OUT_OF_RANGE
        status[swapped] = Status.SWAPPED
        status[nan] = Status.NOT_A_NUMBER
        return status

    def _exact_many(
        self,
        x: NDArray,
        y: NDArray,
        todo: NDArray,
        out: BatchMatch,
        annotate: bool,
        known: NDArray | None = None,
    ) -> None:
        """``known``: per point of ``todo``, its grid (-1: none) where the lookup table knows it,
        ``_UNKNOWN`` where containment must be tested."""
        px, py = x[todo], y[todo]
        order = morton_order(px, py, self.bounds) if len(todo) > 4096 else np.arange(len(todo))
        px, py, idx = px[order], py[order], todo[order]
        if known is None:
            grid = self._contained(px, py, block=BLOCK if len(todo) > 4096 else 1)
        else:
            grid = known[order].astype(np.int64)
            test = np.flatnonzero(grid == _UNKNOWN)
            if len(test):
                grid[test] = self._contained(px[test], py[test], block=BLOCK if len(test) > 4096 else 1)
        found = grid >= 0
        out.grid[idx[found]] = grid[found]
        if annotate:
            self._annotate(px, py, idx, out)
            return
        rest = np.flatnonzero(~found)
        if len(rest):
            self._edge_ties(px[rest], py[rest], idx[rest], out)

    def _contained(self, px: NDArray, py: NDArray, block: int) -> NDArray:
        """Lowest grid strictly containing each point (-1: none), rules 1 and 2.

        Points come sorted along the Morton curve, so each run of ``block`` points is
        compact: one STRtree query per run's bounding box replaces a query per point,
        and no Point objects are made at all (making them costs more than the tests).
        """
        n = len(px)
        if block == 1:
            pi, gi = self.tree.query(shapely.points(px, py))
        else:
            nb = -(-n // block)
            pad = nb * block - n
            bx = np.concatenate([px, np.repeat(px[-1:], pad)]).reshape(nb, block)
            by = np.concatenate([py, np.repeat(py[-1:], pad)]).reshape(nb, block)
            boxes = shapely.box(bx.min(1), by.min(1), bx.max(1), by.max(1))
            bi, gi = self.tree.query(boxes)
            pi = (bi[:, None] * block + np.arange(block)).ravel()
            gi = np.repeat(gi, block)
            keep = pi < n
            pi, gi = pi[keep], gi[keep]
        inside = shapely.contains_xy(self.geoms[gi], px[pi], py[pi])
        grid = np.full(n, _NONE, np.int64)
        np.minimum.at(grid, pi[inside], gi[inside])
        return np.where(grid < _NONE, grid, -1)

    def _edge_ties(self, px: NDArray, py: NDArray, idx: NDArray, out: BatchMatch) -> None:
        """Rule 3 for points no grid contains; the rest are outside (nearest not computed)."""
        pi, gi = self.tree.query(shapely.points(px, py), predicate="dwithin", distance=EDGE_TOLERANCE_DEG)
        tie = np.full(len(idx), _NONE, np.int64)
        np.minimum.at(tie, pi, gi)
        found = tie < _NONE
        out.grid[idx[found]] = tie[found]
        out.status[idx[~found]] = Status.OUTSIDE

    @property
    def edges(self) -> EdgeIndex:
        """The grids' boundary segments for numpy distances (``geo.edges``), made on first use."""
        edges = self._edges
        if edges is None:
            with self._edges_lock:
                if self._edges is None:
                    x0, y0, x1, y1 = self.served
                    served = shapely.segmentize(shapely.box(x0, y0, x1, y1), (x1 - x0) / 64)
                    rx0, ry0, rx1, ry1 = shapely.bounds(
                        self.frame.project(np.array([served], dtype=object))[0]
                    )
                    self._edges = EdgeIndex(self.metric, self.near_m, (rx0, ry0, rx1, ry1))
                edges = self._edges
        return edges

    def _annotate(self, px: NDArray, py: NDArray, idx: NDArray, out: BatchMatch) -> None:
        """Edge ties, also_touches, runner-ups and nearest grids, from metric distances.

        Distances come from ``geo.edges``: numpy over the boundary segments within ``near_m``
        of each point, as GEOS computes them. A grid that is not the point's own but within
        ``_TOUCH_SCREEN_M`` of it is measured by shapely itself (it may hold the point, at
        distance 0: a point on a shared edge) and tested for touching in lon/lat. Points in no
        grid and beyond ``near_m`` of every grid get their nearest grid from the far cells.
        """
        edges = self.edges
        mx, my = self.frame.forward(px, py)
        pi, gi, dist = edges.near_pairs(mx, my)
        grid = out.grid[idx].astype(np.int64)
        close = (dist <= _TOUCH_SCREEN_M) & (gi != grid[pi])  # the containing grid needs no test
        edge = np.zeros(len(pi), dtype=bool)
        if close.any():
            rows = np.flatnonzero(close)
            dist[rows] = shapely.distance(self.metric[gi[rows]], shapely.points(mx[pi[rows]], my[pi[rows]]))
            screen = rows[dist[rows] <= _TOUCH_SCREEN_M]
            edge[screen] = shapely.dwithin(
                self.geoms[gi[screen]], shapely.points(px[pi[screen]], py[pi[screen]]), EDGE_TOLERANCE_DEG
            )
        tie = np.full(len(idx), _NONE, np.int64)
        np.minimum.at(tie, pi[edge], gi[edge])
        take = (grid < 0) & (tie < _NONE)
        grid[take] = tie[take]
        out.grid[idx] = grid
        own = grid[pi]
        other = (gi != own) & (own >= 0)
        touch = other & edge
        if touch.any():
            tp, tg = np.unique(np.c_[pi[touch], gi[touch]], axis=0).T
            for p, members in zip(*_groups(tp, tg), strict=True):
                out.also_touches[int(idx[p])] = tuple(int(g) for g in members)
        # runner-up: the nearest other grid within near_m, the lowest code among equals
        runner, runner_m = lowest_per_point(len(idx), pi[other], gi[other], dist[other])
        found = runner >= 0
        out.runner_up[idx[found]] = runner[found]
        out.runner_up_m[idx[found]] = runner_m[found]
        missing = np.flatnonzero(grid < 0)
        if len(missing):
            alone = own < 0
            near, near_m = lowest_per_point(len(idx), pi[alone], gi[alone], dist[alone])
            far = missing[near[missing] < 0]
            if len(far):
                near[far], near_m[far] = edges.nearest(mx[far], my[far])
            rows = idx[missing]
            out.nearest[rows], out.nearest_m[rows] = near[missing], near_m[missing]
            out.status[rows] = Status.OUTSIDE

    def _nearest_only(self, x: NDArray, y: NDArray, todo: NDArray, out: BatchMatch) -> None:
        """Points the lookup table puts in no grid and beyond the near distance of every grid."""
        mx, my = self.frame.forward(x[todo], y[todo])
        out.nearest[todo], out.nearest_m[todo] = self.edges.nearest(mx, my)
        out.status[todo] = Status.OUTSIDE


def _groups(keys: NDArray, values: NDArray) -> tuple[NDArray, list[NDArray]]:
    """Split values sorted by key into one array per distinct key."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.split(values, starts[1:])


class _NearBuckets:
    """Square buckets in metric space listing the grids within ``near_m`` of each bucket.

    A single lookup reads its candidates from one bucket instead of querying the
    STRtree, whose per-call overhead is most of the cost of one point.
    """

    def __init__(self, metric: NDArray, near_m: float) -> None:
        bounds = shapely.bounds(metric)
        typical = float(np.sqrt(np.median(shapely.area(metric))))
        self.size = float(np.clip(typical / 2, 50.0, 2000.0))
        self.x0 = float(bounds[:, 0].min() - near_m)
        self.y0 = float(bounds[:, 1].min() - near_m)
        self.nx = int(np.ceil((bounds[:, 2].max() + near_m - self.x0) / self.size)) + 1
        self.ny = int(np.ceil((bounds[:, 3].max() + near_m - self.y0) / self.size)) + 1
        c0 = ((bounds[:, 0] - near_m - self.x0) // self.size).astype(np.int64)
        c1 = ((bounds[:, 2] + near_m - self.x0) // self.size).astype(np.int64)
        r0 = ((bounds[:, 1] - near_m - self.y0) // self.size).astype(np.int64)
        r1 = ((bounds[:, 3] + near_m - self.y0) // self.size).astype(np.int64)
        cells, owners = [], []
        for g in range(len(metric)):  # per grid, vectorised over its buckets
            cols, rows = np.meshgrid(np.arange(c0[g], c1[g] + 1), np.arange(r0[g], r1[g] + 1))
            cells.append((rows * self.nx + cols).ravel())
            owners.append(np.full(cells[-1].size, g, dtype=np.int64))
        cell = np.concatenate(cells)
        owner = np.concatenate(owners)
        order = np.lexsort((owner, cell))
        self.grid = owner[order].astype(np.int32)
        self.ptr = np.searchsorted(cell[order], np.arange(self.nx * self.ny + 1)).astype(np.int64)

    def candidates(self, x: float, y: float) -> NDArray:
        col = int((x - self.x0) // self.size)
        row = int((y - self.y0) // self.size)
        if not (0 <= col < self.nx and 0 <= row < self.ny):
            return self.grid[:0]
        b = row * self.nx + col
        return self.grid[self.ptr[b] : self.ptr[b + 1]]


def morton_order(x: NDArray, y: NDArray, bounds: tuple[float, float, float, float]) -> NDArray:
    """Permutation sorting points along a Z-order curve, so neighbours are queried together."""
    x0, y0, x1, y1 = bounds
    sx = np.clip((x - x0) / max(x1 - x0, 1e-12), 0, 1) * 255
    sy = np.clip((y - y0) / max(y1 - y0, 1e-12), 0, 1) * 255
    key = _spread_bits(sx.astype(np.uint32)) | (_spread_bits(sy.astype(np.uint32)) << 1)
    # 256 x 256 cells are fine enough for cache locality, and a 16-bit key sorts by radix
    return np.argsort(key.astype(np.uint16), kind="stable")


def _spread_bits(v: NDArray[np.uint32]) -> NDArray[np.uint32]:
    # np.uint32 operands: the result is uint32 at run time either way, and the stubs see it too
    u = np.uint32
    v = v & u(0x0000FFFF)
    v = (v | (v << u(8))) & u(0x00FF00FF)
    v = (v | (v << u(4))) & u(0x0F0F0F0F)
    v = (v | (v << u(2))) & u(0x33333333)
    v = (v | (v << u(1))) & u(0x55555555)
    return v


def _paste(out: BatchMatch, part: BatchMatch, start: int) -> None:
    stop = start + len(part)
    for name in ("status", "grid", "runner_up", "runner_up_m", "nearest", "nearest_m"):
        getattr(out, name)[start:stop] = getattr(part, name)
    for k, v in part.also_touches.items():
        out.also_touches[start + k] = v
