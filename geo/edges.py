"""Point-to-grid distances in numpy, from the grids' boundary segments, for many points at once.

The annotated batch answer (runner-up grid within the near distance, nearest grid for points
in no grid) needs the distance from a point to the grids around it. Asked of shapely per point,
that costs a GEOS Point per point and a polygon distance per candidate grid: most of the batch.
Here the boundaries are cut into segments once per grid set (in the metric frame), and the
distance from a point to a segment is computed with numpy for all (point, segment) pairs of a
batch, in the very arithmetic GEOS uses (``Distance::pointToSegment``), so the distances are
the ones shapely gives, bit for bit, for a point outside the polygon. (A point inside a polygon
is at distance 0 from it in shapely; a point that close to a grid that is not its own lies
within float noise of that grid's edge, and ``geo.lookup`` asks shapely about those few.)

Two ways to find a point's candidate segments:

* **near buckets**: square buckets listing every segment that can come within ``near_m`` of
  a point in the bucket. Every segment within ``near_m`` of a point is among its bucket's
  candidates, so the nearest other grid within ``near_m`` (the runner-up) is exact.
* **far cells**: for points farther than ``near_m`` from every grid, square cells of
  ``FAR_CELL_M``; with ``d0`` the distance from a cell's centre to its nearest segment and
  ``h`` the cell's half-diagonal, a point's nearest segment lies within ``d0 + 2h`` of the
  centre, so only those are measured. Filled lazily, per cell, the first time a point lands
  in it, and kept for the grid set.

Ties: of segments at the same (least) distance from a point, the grid with the lowest
position (lowest code) wins. That is the runner-up rule of ``geo.lookup`` and, for the nearest
grid, a rule where shapely's ``query_nearest`` gives an arbitrary one of the tied grids.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.lut import save_npz

FAR_CELL_M = 50.0
_FAR_FORMAT = 1  # saved far cells: bump when their meaning changes
_CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))
_R_MARGIN = 1e-9  # an end is taken for a segment only where r is clearly beyond it
_BIG = np.iinfo(np.int64).max


def segment_distance(px: NDArray, py: NDArray, ax: NDArray, ay: NDArray, bx: NDArray, by: NDArray) -> NDArray:
    """Distance from points to segments (element by element), as GEOS computes it.

    GEOS ``Distance::pointToSegment``: the projection parameter ``r`` decides whether the nearest
    point is an end (then the distance to it) or inside (then ``|s| * sqrt(len2)``). The same
    operations in the same order give the same doubles. Segments have non-zero length.
    """
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    s = ((ay - py) * dx - (ax - px) * dy) / len2
    ex = np.where(r <= 0.0, ax, bx) - px
    ey = np.where(r <= 0.0, ay, by) - py
    to_end = np.sqrt(ex * ex + ey * ey)
    return np.where((r <= 0.0) | (r >= 1.0), to_end, np.abs(s) * np.sqrt(len2))


class EdgeIndex:
    """The boundary segments of one grid set (metric frame) and the buckets to find them."""

    def __init__(self, metric: NDArray, near_m: float, reach: tuple[float, float, float, float]) -> None:
        """``metric``: the grids' polygons in metres, position = grid; ``reach``: a metric box
        holding every point that will be asked about (the served area)."""
        self.near_m = float(near_m)
        parts, part_of = shapely.get_parts(metric, return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        xy, coord_of = shapely.get_coordinates(rings, return_index=True)
        same = coord_of[1:] == coord_of[:-1]
        a, b = xy[:-1][same], xy[1:][same]
        owner = part_of[ring_of[coord_of[:-1][same]]]
        real = (a[:, 0] != b[:, 0]) | (a[:, 1] != b[:, 1])  # repeated vertices add nothing
        self.ax, self.ay = np.ascontiguousarray(a[real, 0]), np.ascontiguousarray(a[real, 1])
        self.bx, self.by = np.ascontiguousarray(b[real, 0]), np.ascontiguousarray(b[real, 1])
        self.owner = owner[real].astype(np.int64)
        # distinct vertices, and each segment's ends among them
        ends = np.r_[np.c_[self.ax, self.ay], np.c_[self.bx, self.by]]
        uniq, which = np.unique(ends, axis=0, return_inverse=True)
        self.vx, self.vy = np.ascontiguousarray(uniq[:, 0]), np.ascontiguousarray(uniq[:, 1])
        self.vertex_a, self.vertex_b = which.ravel()[: len(self.ax)], which.ravel()[len(self.ax) :]
        self._near = _Buckets(self, max(self.near_m, 10.0), self.near_m)
        self._far_lock = threading.Lock()
        self._far: _FarCells | None = None
        self._reach = reach
        self._scalars: tuple[list[float], ...] | None = None  # the coordinates as Python floats

    def __len__(self) -> int:
        return len(self.owner)

    def along(self, px: NDArray, py: NDArray, seg: NDArray) -> NDArray:
        """Where points project on segments: 0 at the start, 1 at the end."""
        dx, dy = self.bx[seg] - self.ax[seg], self.by[seg] - self.ay[seg]
        return ((px - self.ax[seg]) * dx + (py - self.ay[seg]) * dy) / (dx * dx + dy * dy)

    def distance(self, px: NDArray, py: NDArray, seg: NDArray) -> NDArray:
        return segment_distance(px, py, self.ax[seg], self.ay[seg], self.bx[seg], self.by[seg])

    def near_pairs(self, mx: NDArray, my: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(point, grid, distance) for every segment within ``near_m`` of each point, ordered by
        point (a grid appears once per segment of it that is that close)."""
        pp, seg = self._near.pairs(mx, my)
        d = self.distance(mx[pp], my[pp], seg)
        keep = d <= self.near_m
        return pp[keep], self.owner[seg[keep]], d[keep]

    def fill_far(self, path: Path | None = None) -> None:
        """Every far cell filled now, read from ``path`` when a saved copy fits, else computed
        (vectorised: a few seconds for the demo's served area) and saved there. Filled one by
        one as points arrive, a cell costs a single lookup half a millisecond the first time;
        a worker calls this before it takes requests, the lookup table's cache beside it."""
        with self._far_lock:
            if self._far is not None and bool((self._far.start >= 0).all()):
                return  # filled already (activated, then warmed, in one process)
        far = _FarCells(self, FAR_CELL_M, self._reach)
        if path is None or not far.load(path):
            todo = np.arange(far.nx * far.ny)
            for part in np.array_split(todo, max(1, len(todo) // 20_000)):
                far._fill(part)
            if path is not None:
                try:
                    far.save(path)
                except OSError:  # a cache: a full or read-only disk is no error
                    pass
        with self._far_lock:
            self._far = far

    def _far_cells(self) -> _FarCells:
        """The far cells, made (empty) on first use; the caller holds ``_far_lock``."""
        if self._far is None:
            self._far = _FarCells(self, FAR_CELL_M, self._reach)
        return self._far

    def nearest(self, mx: NDArray, my: NDArray) -> tuple[NDArray, NDArray]:
        """The nearest grid of each point and its distance (ties: lowest grid), by far cells."""
        with self._far_lock:
            pp, entry, owner = self._far_cells().pairs(mx, my)
        d = np.empty(len(pp))
        seg = entry >= 0
        d[seg] = self.distance(mx[pp[seg]], my[pp[seg]], entry[seg])
        v, vp = ~entry[~seg], pp[~seg]
        ex, ey = self.vx[v] - mx[vp], self.vy[v] - my[vp]
        d[~seg] = np.sqrt(ex * ex + ey * ey)
        return lowest_per_point(len(mx), pp, owner, d)

    def nearest_one(self, x: float, y: float) -> tuple[int, float] | None:
        """``nearest`` for one point, in plain Python floats: for a single lookup, a handful of
        scalar operations cost less than numpy's per-call overhead, and the same operations in
        the same order give the same doubles. None for a point beyond the far cells."""
        with self._far_lock:
            far = self._far_cells()
            cell = far.cell_of(x, y)
            if cell < 0:
                return None
            if far.start[cell] < 0:
                far._fill(np.array([cell]))
            start, count = int(far.start[cell]), int(far.count[cell])
            entries = far.entry[start : start + count].tolist()
            owners = far.entry_owner[start : start + count].tolist()
        scalars = self._scalars
        if scalars is None:
            scalars = self._scalars = (
                self.ax.tolist(), self.ay.tolist(), self.bx.tolist(), self.by.tolist(),
                self.vx.tolist(), self.vy.tolist(),
            )  # fmt: skip
        ax, ay, bx, by, vx, vy = scalars
        best, best_d = -1, math.inf
        for entry, owner in zip(entries, owners, strict=True):
            if entry >= 0:
                d = _segment_distance_one(x, y, ax[entry], ay[entry], bx[entry], by[entry])
            else:
                ex, ey = vx[~entry] - x, vy[~entry] - y
                d = math.sqrt(ex * ex + ey * ey)
            if d < best_d or (d == best_d and owner < best):
                best, best_d = owner, d
        return (best, best_d) if best >= 0 else None


def _segment_distance_one(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """``segment_distance`` for one point and one segment, operation for operation."""
    dx = bx - ax
    dy = by - ay
    len2 = dx * dx + dy * dy
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0 or r >= 1.0:
        ex = (ax if r <= 0.0 else bx) - px
        ey = (ay if r <= 0.0 else by) - py
        return math.sqrt(ex * ex + ey * ey)
    s = ((ay - py) * dx - (ax - px) * dy) / len2
    return abs(s) * math.sqrt(len2)


def lowest_per_point(n: int, pp: NDArray, grid: NDArray, d: NDArray) -> tuple[NDArray, NDArray]:
    """Per point, the least distance and the lowest grid at it (-1 and inf for points without
    pairs). ``pp`` must be sorted (pairs grouped by point)."""
    best_grid = np.full(n, -1, np.int64)
    best_d = np.full(n, np.inf)
    if len(pp) == 0:
        return best_grid, best_d
    starts = np.flatnonzero(np.r_[True, pp[1:] != pp[:-1]])
    points = pp[starts]
    least = np.minimum.reduceat(d, starts)
    ties = np.where(d == np.repeat(least, np.diff(np.r_[starts, len(pp)])), grid, _BIG)
    best_grid[points] = np.minimum.reduceat(ties, starts)
    best_d[points] = least
    return best_grid, best_d


def _expand(start: NDArray, count: NDArray) -> tuple[NDArray, NDArray]:
    """CSR rows to pairs: (row number, position) for ``count[i]`` positions from ``start[i]``."""
    total = int(count.sum())
    row = np.repeat(np.arange(len(count)), count)
    offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    return row, np.repeat(start, count) + offset


class _Buckets:
    """Square buckets of ``size`` metres listing the segments within ``reach`` metres of them."""

    def __init__(self, edges: EdgeIndex, size: float, reach: float) -> None:
        self.size = float(size)
        lo_x = np.minimum(edges.ax, edges.bx)
        hi_x = np.maximum(edges.ax, edges.bx)
        lo_y = np.minimum(edges.ay, edges.by)
        hi_y = np.maximum(edges.ay, edges.by)
        self.x0 = float(lo_x.min() - reach - size)
        self.y0 = float(lo_y.min() - reach - size)
        self.nx = int(np.ceil((hi_x.max() + reach + size - self.x0) / size)) + 1
        self.ny = int(np.ceil((hi_y.max() + reach + size - self.y0) / size)) + 1
        c0 = ((lo_x - reach - self.x0) // size).astype(np.int64)
        c1 = ((hi_x + reach - self.x0) // size).astype(np.int64)
        r0 = ((lo_y - reach - self.y0) // size).astype(np.int64)
        r1 = ((hi_y + reach - self.y0) // size).astype(np.int64)
        ncol, nrow = c1 - c0 + 1, r1 - r0 + 1
        seg, k = _expand(np.zeros(len(ncol), np.int64), ncol * nrow)
        col = c0[seg] + k % ncol[seg]
        row = r0[seg] + k // ncol[seg]
        # keep a bucket only if its centre is within reach plus its half-diagonal of the segment
        cx = self.x0 + (col + 0.5) * size
        cy = self.y0 + (row + 0.5) * size
        close = edges.distance(cx, cy, seg) <= reach + size * np.sqrt(0.5) + 1e-6 * (1 + reach)
        bucket = (row * self.nx + col)[close]
        seg = seg[close]
        order = np.lexsort((seg, bucket))
        self.seg = seg[order].astype(np.int32)
        self.ptr = np.searchsorted(bucket[order], np.arange(self.nx * self.ny + 1)).astype(np.int32)

    def pairs(self, mx: NDArray, my: NDArray) -> tuple[NDArray, NDArray]:
        col = np.floor((mx - self.x0) / self.size)
        row = np.floor((my - self.y0) / self.size)
        inside = (col >= 0) & (row >= 0) & (col < self.nx) & (row < self.ny)
        b = np.where(inside, row * self.nx + col, 0).astype(np.int64)
        start = self.ptr[b]
        count = np.where(inside, self.ptr[b + 1] - start, 0)
        pp, at = _expand(start, count)
        return pp, self.seg[at].astype(np.int64)


class _FarCells:
    """Per cell, the segments that can be nearest to a point in it; filled as points arrive."""

    def __init__(self, edges: EdgeIndex, size: float, reach: tuple[float, float, float, float]) -> None:
        self.edges = edges
        self.size = float(size)
        x0, y0, x1, y1 = reach
        self.x0, self.y0 = float(x0) - size, float(y0) - size
        self.nx = int(np.ceil((x1 + size - self.x0) / size)) + 1
        self.ny = int(np.ceil((y1 + size - self.y0) / size)) + 1
        self.start = np.full(self.nx * self.ny, -1, np.int64)  # -1: not filled yet
        self.count = np.zeros(self.nx * self.ny, np.int64)
        self.entry = np.zeros(0, np.int64)
        self.entry_owner = np.zeros(0, np.int64)
        self.lines = shapely.linestrings(
            np.stack([np.c_[edges.ax, edges.ay], np.c_[edges.bx, edges.by]], axis=1)
        )
        self.tree = shapely.STRtree(self.lines)

    def save(self, path: Path) -> None:
        save_npz(
            path,
            start=self.start,
            count=self.count,
            entry=self.entry,
            meta=self._meta(),
            entry_owner=self.entry_owner,
        )

    def load(self, path: Path) -> bool:
        """Take the cells saved at ``path`` if they were made for these edges and this area."""
        try:
            with np.load(path) as data:
                if not np.array_equal(data["meta"], self._meta()):
                    return False
                arrays = {name: data[name] for name in ("start", "count", "entry", "entry_owner")}
        except (OSError, KeyError, ValueError):
            return False
        if arrays["start"].shape != self.start.shape:
            return False
        self.start, self.count = arrays["start"], arrays["count"]
        self.entry, self.entry_owner = arrays["entry"], arrays["entry_owner"]
        return True

    def _meta(self) -> NDArray:
        edges = self.edges
        return np.array(
            [_FAR_FORMAT, self.x0, self.y0, self.size, self.nx, self.ny, len(edges), edges.near_m,
             float(edges.ax.sum() + edges.by.sum())],
            dtype="float64",
        )  # fmt: skip

    def cell_of(self, x: float, y: float) -> int:
        """The cell of one point, -1 beyond the cells (``pairs`` treats those apart)."""
        col = math.floor((x - self.x0) / self.size)
        row = math.floor((y - self.y0) / self.size)
        if not (0 <= col < self.nx - 1 and 0 <= row < self.ny - 1):
            return -1
        return row * self.nx + col

    def pairs(self, mx: NDArray, my: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(point, entry, grid): entries >= 0 are segments, < 0 vertices (``~entry``)."""
        col = np.clip(np.floor((mx - self.x0) / self.size), 0, self.nx - 1).astype(np.int64)
        row = np.clip(np.floor((my - self.y0) / self.size), 0, self.ny - 1).astype(np.int64)
        cell = row * self.nx + col
        beyond = (mx < self.x0) | (my < self.y0) | (col == self.nx - 1) | (row == self.ny - 1)
        new = np.unique(cell[self.start[cell] < 0])
        if len(new):
            self._fill(new)
        pp, at = _expand(self.start[cell], self.count[cell])
        entry, owner = self.entry[at], self.entry_owner[at]
        if beyond.any():  # outside the cells (not expected: the reach holds the served area)
            keep = ~beyond[pp]
            pp, entry, owner = pp[keep], entry[keep], owner[keep]
            extra = np.flatnonzero(beyond)
            ep, es = self.tree.query(shapely.points(mx[extra], my[extra]), predicate="dwithin", distance=1e12)
            pp, entry, owner = np.r_[pp, extra[ep]], np.r_[entry, es], np.r_[owner, self.edges.owner[es]]
            order = np.argsort(pp, kind="stable")
            pp, entry, owner = pp[order], entry[order], owner[order]
        return pp, entry, owner

    def _fill(self, cells: NDArray) -> None:
        """Candidates of new cells.

        Segments within ``d0 + 2h`` of the centre (a ball that holds every point's nearest
        segment); of those, a segment whose nearest point is the same end for every point of
        the cell (its projection parameter is linear in the point: the corners tell) is as far
        as that vertex, and every grid with that vertex ties there: the vertex stands for them,
        with its lowest grid. A vertex is dropped when a point ``q`` of the boundary (the nearest
        to the centre) is nearer than it to every point of the cell (a half-plane: the corners
        tell again, with a margin far above rounding); a segment when it is farther from the
        whole cell (at least its distance from the centre less the half-diagonal) than ``q``
        is from any point of it.
        """
        col, row = cells % self.nx, cells // self.nx
        x0 = self.x0 + col * self.size
        y0 = self.y0 + row * self.size
        size, edges = self.size, self.edges
        centres = shapely.points(x0 + 0.5 * size, y0 + 0.5 * size)
        (ci, nearest), d = self.tree.query_nearest(centres, return_distance=True, all_matches=False)
        d0 = np.empty(len(cells))
        d0[ci] = d
        q = np.empty((len(cells), 2))
        line = self.lines[nearest]
        q[ci] = shapely.get_coordinates(
            shapely.line_interpolate_point(line, shapely.line_locate_point(line, centres[ci]))
        )
        reach = d0 + size * np.sqrt(2.0) + 1e-6 * (1.0 + d0)  # 2h, and a margin for rounding
        ci, seg = self.tree.query(centres, predicate="dwithin", distance=reach)
        corners = [(x0[ci] + cx * size, y0[ci] + cy * size) for cx, cy in _CORNERS]
        qx, qy = q[ci, 0], q[ci, 1]
        to_q = [np.hypot(px - qx, py - qy) for px, py in corners]
        farthest_q = np.max(to_q, axis=0)
        # no point of the cell is nearer a segment than its centre is, less the half-diagonal
        centre_x, centre_y = x0[ci] + 0.5 * size, y0[ci] + 0.5 * size
        lower = edges.distance(centre_x, centre_y, seg) - size * np.sqrt(0.5)
        keep = lower <= farthest_q * (1 + 1e-9) + 1e-9
        ci, seg = ci[keep], seg[keep]
        corners = [(px[keep], py[keep]) for px, py in corners]
        to_q = [t[keep] for t in to_q]
        r = np.stack([edges.along(px, py, seg) for px, py in corners])
        at_a, at_b = (r < -_R_MARGIN).all(axis=0), (r > 1 + _R_MARGIN).all(axis=0)
        vertex = np.where(at_a, edges.vertex_a[seg], np.where(at_b, edges.vertex_b[seg], -1))
        is_vertex = vertex >= 0
        vx, vy = edges.vx[vertex], edges.vy[vertex]
        beaten = is_vertex.copy()
        for (px, py), tq in zip(corners, to_q, strict=True):
            beaten &= np.hypot(px - vx, py - vy) > tq * (1 + 1e-9) + 1e-9
        ci, seg, vertex, is_vertex = ci[~beaten], seg[~beaten], vertex[~beaten], is_vertex[~beaten]
        owner = edges.owner[seg]
        # entries: segments as they are (>= 0), vertices as ~vertex (< 0), one per vertex (lowest grid)
        entry = np.where(is_vertex, ~vertex, seg)
        rank = np.where(is_vertex, owner, -1)
        order = np.lexsort((rank, entry, ci))
        ci, entry, owner = ci[order], entry[order], owner[order]
        first = np.r_[True, (ci[1:] != ci[:-1]) | (entry[1:] != entry[:-1])]
        ci, entry, owner = ci[first], entry[first], owner[first]
        count = np.bincount(ci, minlength=len(cells))
        self.count[cells] = count
        self.start[cells] = len(self.entry) + np.cumsum(count) - count
        self.entry = np.r_[self.entry, entry]
        self.entry_owner = np.r_[self.entry_owner, owner]
