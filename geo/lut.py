"""A precomputed lookup table over one grid set: most points answered by one array read.

The served area is cut into small lon/lat cells (about 10 m). A cell that no
grid boundary crosses lies wholly inside one grid (or wholly outside all), so
its answer is stored; a cell a boundary may cross is marked "mixed" and its
points go to the exact path in ``geo.lookup``. The answer therefore stays
exact: the table only skips polygon tests whose outcome is already known.

A second mask marks "deep" cells, farther than the near-boundary distance from
every boundary: their points need no distance computation at all.

Why the marking is safe: boundaries are sampled at under half a cell, the
cells holding samples are marked, then grown by one cell. Between two samples
a boundary moves less than half a cell, so every cell it enters is within one
cell of a sample's cell.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from scipy import ndimage

if TYPE_CHECKING:  # geo.lookup imports this module at run time
    from geo.lookup import GridIndex

OUTSIDE = -1
MIXED = -2
FORMAT_VERSION = 3  # 3: ``deep`` also marks cells in no grid, farther than near_m from every grid


class LookupTable:
    """Cell answers for one ``GridIndex``: grid position, ``OUTSIDE`` or ``MIXED``."""

    def __init__(
        self,
        origin: tuple[float, float],
        step: tuple[float, float],
        table: NDArray,
        deep: NDArray[np.bool_],
        n_grids: int,
        near_m: float,
        mixed_cells: NDArray,
        cand_ptr: NDArray,
        cand_grid: NDArray,
    ) -> None:
        self.x0, self.y0 = float(origin[0]), float(origin[1])
        self.dlon, self.dlat = float(step[0]), float(step[1])
        self.table = table
        self.deep = deep
        self.nrows, self.ncols = table.shape
        self.n_grids = int(n_grids)
        self.near_m = float(near_m)
        # candidates of mixed cells, CSR: grids cand_grid[cand_ptr[k]:cand_ptr[k+1]] may hold
        # points of cell mixed_cells[k] (sorted flat cell numbers)
        self.mixed_cells = mixed_cells
        self.cand_ptr = cand_ptr
        self.cand_grid = cand_grid

    @property
    def nbytes(self) -> int:
        return int(
            self.table.nbytes
            + self.deep.nbytes
            + self.mixed_cells.nbytes
            + self.cand_ptr.nbytes
            + self.cand_grid.nbytes
        )

    @property
    def mixed_share(self) -> float:
        """Share of cells inside the grids' bounds that need the exact path."""
        return float((self.table == MIXED).sum() / max((self.table != OUTSIDE).sum(), 1))

    # --- reading ------------------------------------------------------------------------

    def probe(self, lon: float, lat: float) -> tuple[int, bool]:
        """(grid, deep) for one point; grid is -1 unless the cell lies inside one grid."""
        col = int((lon - self.x0) / self.dlon)
        row = int((lat - self.y0) / self.dlat)
        if lon < self.x0 or lat < self.y0 or row >= self.nrows or col >= self.ncols:
            return -1, False
        value = int(self.table[row, col])
        return (value, bool(self.deep[row, col])) if value >= 0 else (-1, False)

    def value_at(self, lon: float, lat: float) -> int:
        """The raw cell value at one point: a grid position, ``OUTSIDE`` or ``MIXED``."""
        if lon < self.x0 or lat < self.y0:
            return OUTSIDE
        col = int((lon - self.x0) / self.dlon)
        row = int((lat - self.y0) / self.dlat)
        if row >= self.nrows or col >= self.ncols:
            return OUTSIDE
        return int(self.table[row, col])

    def settled(self, lon: float, lat: float, rlon: float, rlat: float) -> int | None:
        """The grid of every point within ``rlon``/``rlat`` degrees of a point, when the table knows it.

        -1 when every cell of that box lies in no grid, a grid position when every cell lies
        wholly inside that one grid, None when the box holds a boundary (ask the exact path).
        Cells beyond the table are outside every grid (the table is padded past the grids).
        """
        c0 = math.floor((lon - rlon - self.x0) / self.dlon)
        c1 = math.floor((lon + rlon - self.x0) / self.dlon)
        r0 = math.floor((lat - rlat - self.y0) / self.dlat)
        r1 = math.floor((lat + rlat - self.y0) / self.dlat)
        if c1 < 0 or r1 < 0 or c0 >= self.ncols or r0 >= self.nrows:
            return OUTSIDE
        rows = range(max(r0, 0), min(r1, self.nrows - 1) + 1)
        cols = range(max(c0, 0), min(c1, self.ncols - 1) + 1)
        item = self.table.item
        first = item(rows[0], cols[0])
        if first == MIXED:
            return None
        if len(rows) * len(cols) <= 16:  # the usual few cells: plain reads beat numpy's overhead
            if any(item(r, c) != first for r in rows for c in cols):
                return None
        elif not (self.table[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] == first).all():
            return None
        clipped = c0 < 0 or r0 < 0 or c1 >= self.ncols or r1 >= self.nrows
        if clipped and first != OUTSIDE:
            return None
        return first

    def probe_many(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """(grid, deep, pure, cell) arrays: pure cells lie wholly inside one grid.

        ``cell`` is the flat cell number of points in mixed cells and -1 elsewhere.
        """
        grid, deep, pure, cell, _ = self.probe_all(lon, lat)
        return grid, deep, pure, cell

    def probe_all(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
        """``probe_many``'s arrays and ``far``: points in no grid and farther than the near
        distance from every grid (cells beyond the table are: it is padded past the grids)."""
        fc = np.floor((lon - self.x0) / self.dlon)
        fr = np.floor((lat - self.y0) / self.dlat)
        inside = (fc >= 0) & (fr >= 0) & (fc < self.ncols) & (fr < self.nrows)
        col = np.where(inside, fc, 0).astype(np.intp)
        row = np.where(inside, fr, 0).astype(np.intp)
        flat = row * self.ncols + col
        value = np.where(inside, self.table.ravel()[flat], OUTSIDE).astype(np.int32)
        pure = value >= 0
        clear = self.deep.ravel()[flat]
        deep = pure & clear
        far = ~inside | ((value == OUTSIDE) & clear)
        cell = np.where(value == MIXED, flat, -1)
        return np.where(pure, value, -1).astype(np.int32), deep, pure, cell, far

    def candidates(self, cells: NDArray) -> tuple[NDArray, NDArray]:
        """(point, grid) pairs for points in mixed cells: the only grids that can hold them."""
        row = np.searchsorted(self.mixed_cells, cells)
        start = self.cand_ptr[row]
        count = self.cand_ptr[row + 1] - start
        point = np.repeat(np.arange(len(cells)), count)
        offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
        return point, self.cand_grid[np.repeat(start, count) + offset]

    # --- building -----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        index: GridIndex,
        *,
        cell_m: float = 10.0,
        max_cells: int = 24_000_000,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> LookupTable:
        """Rasterise a ``geo.lookup.GridIndex``; cells grow beyond ``cell_m`` to stay under ``max_cells``."""
        step = progress or (lambda stage, done, total: None)
        xmin, ymin, xmax, ymax = index.bounds
        lat0 = (ymin + ymax) / 2
        m_per_lon, m_per_lat = _metres_per_degree((xmin + xmax) / 2, lat0)
        pad = index.near_m + 4 * cell_m
        xmin, xmax = xmin - pad / m_per_lon, xmax + pad / m_per_lon
        ymin, ymax = ymin - pad / m_per_lat, ymax + pad / m_per_lat
        area_cells = (xmax - xmin) * m_per_lon * (ymax - ymin) * m_per_lat / cell_m**2
        if area_cells > max_cells:
            cell_m *= float(np.sqrt(area_cells / max_cells)) * 1.001
        dlon, dlat = cell_m / m_per_lon, cell_m / m_per_lat
        ncols = int(np.ceil((xmax - xmin) / dlon))
        nrows = int(np.ceil((ymax - ymin) / dlat))
        dtype = np.int16 if len(index) < np.iinfo(np.int16).max else np.int32
        table = np.full((nrows, ncols), OUTSIDE, dtype=dtype)

        geoms = index.geoms
        bounds = shapely.bounds(geoms)
        for i in range(len(geoms)):  # per polygon, vectorised over its cells
            c0 = max(int((bounds[i, 0] - xmin) / dlon), 0)
            c1 = min(int((bounds[i, 2] - xmin) / dlon) + 1, ncols - 1)
            r0 = max(int((bounds[i, 1] - ymin) / dlat), 0)
            r1 = min(int((bounds[i, 3] - ymin) / dlat) + 1, nrows - 1)
            cx = xmin + (np.arange(c0, c1 + 1) + 0.5) * dlon
            cy = ymin + (np.arange(r0, r1 + 1) + 0.5) * dlat
            gx, gy = np.meshgrid(cx, cy)
            hit = shapely.contains_xy(geoms[i], gx, gy)
            window = table[r0 : r1 + 1, c0 : c1 + 1]
            window[hit & (window == OUTSIDE)] = i  # lowest code first: it keeps overlaps
            if i % 500 == 0:
                step("cells", i, len(geoms))

        step("boundaries", len(geoms), len(geoms))
        cells, owners = _boundary_cells(geoms, (xmin, ymin), (dlon, dlat), (nrows, ncols))
        centre = table.ravel()[cells]
        extra = centre >= 0  # a cell a boundary only seems to cross may lie wholly in one grid
        pairs = np.unique(
            np.stack([np.r_[cells, cells[extra]], np.r_[owners, centre[extra].astype(np.int64)]]), axis=1
        )
        mixed_cells, first = np.unique(pairs[0], return_index=True)
        ptr = np.r_[first, pairs.shape[1]].astype(np.int64)
        table.ravel()[mixed_cells] = MIXED

        step("near-boundary", len(geoms), len(geoms))
        # distance from each cell centre to the nearest cell a boundary crosses; a point in
        # the cell is at least that minus one cell diagonal from every boundary
        dist = ndimage.distance_transform_edt(table != MIXED, sampling=(cell_m, cell_m))
        diag = cell_m * np.sqrt(2.0)
        # deep: inside one grid (or in none) and farther than near_m from every boundary
        deep = (dist - diag > index.near_m * 1.02 + 1.0) & (table != MIXED)
        return cls(
            (xmin, ymin),
            (dlon, dlat),
            table,
            deep,
            len(index),
            index.near_m,
            mixed_cells,
            ptr,
            pairs[1].astype(np.int32),
        )

    # --- caching ------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        save_npz(
            Path(path),
            table=self.table,
            deep=self.deep,
            mixed_cells=self.mixed_cells,
            cand_ptr=self.cand_ptr,
            cand_grid=self.cand_grid,
            meta=np.array(
                [self.x0, self.y0, self.dlon, self.dlat, self.n_grids, self.near_m, FORMAT_VERSION],
                dtype="float64",
            ),
        )

    @classmethod
    def load(cls, path: str | Path) -> LookupTable | None:
        """A saved table, or None when it is missing or of another format."""
        try:
            with np.load(path) as data:
                meta = data["meta"]
                if int(meta[6]) != FORMAT_VERSION:
                    return None
                return cls(
                    (meta[0], meta[1]),
                    (meta[2], meta[3]),
                    data["table"],
                    data["deep"],
                    int(meta[4]),
                    float(meta[5]),
                    data["mixed_cells"],
                    data["cand_ptr"],
                    data["cand_grid"],
                )
        except (OSError, KeyError, ValueError):
            return None


def save_npz(path: Path, **arrays: NDArray) -> None:
    """Arrays saved for other processes to read: written under a name of their own (others may
    be saving the same file right now), then renamed into place whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    tmp.replace(path)


class ShiftField:
    """A smooth coordinate conversion (GCJ-02 or BD-09 to WGS84) tabulated on a lattice.

    ``approx`` answers one point in a few microseconds by bilinear interpolation, within
    ``error_deg`` of the exact conversion (measured at build, with a safety factor): enough
    to tell, with ``LookupTable.settled``, that a converted point cannot land in any grid
    without running the exact, iterated conversion (hundreds of microseconds for one point).
    """

    def __init__(self, convert: Callable, bounds: tuple[float, float, float, float], step: float) -> None:
        x0, y0, x1, y1 = bounds
        self.x0, self.y0, self.step = float(x0), float(y0), float(step)
        self.ncols = int(np.ceil((x1 - x0) / step)) + 2
        self.nrows = int(np.ceil((y1 - y0) / step)) + 2
        gx, gy = np.meshgrid(x0 + np.arange(self.ncols) * step, y0 + np.arange(self.nrows) * step)
        cx, cy = convert(gx.ravel(), gy.ravel())
        self.dx = (np.asarray(cx) - gx.ravel()).reshape(gx.shape).tolist()
        self.dy = (np.asarray(cy) - gy.ravel()).reshape(gy.shape).tolist()
        # the interpolation error is largest between lattice points: measure it there
        mx = (gx[:-1, :-1] + step / 2).ravel()
        my = (gy[:-1, :-1] + step / 2).ravel()
        ex, ey = convert(mx, my)
        worst = 0.0
        exact = zip(mx.tolist(), my.tolist(), np.asarray(ex).tolist(), np.asarray(ey).tolist(), strict=True)
        for x, y, tx, ty in exact:
            ax, ay = self.approx(x, y)
            worst = max(worst, abs(ax - tx), abs(ay - ty))
        self.error_deg = 4.0 * worst + 1e-6  # 1e-6 degrees: about 0.1 m

    def covers(self, lon: float, lat: float) -> bool:
        return (
            self.x0 <= lon <= self.x0 + (self.ncols - 1) * self.step
            and self.y0 <= lat <= self.y0 + (self.nrows - 1) * self.step
        )

    def approx(self, lon: float, lat: float) -> tuple[float, float]:
        fx = (lon - self.x0) / self.step
        fy = (lat - self.y0) / self.step
        c = min(max(int(fx), 0), self.ncols - 2)
        r = min(max(int(fy), 0), self.nrows - 2)
        tx, ty = fx - c, fy - r
        dx, dy = self.dx, self.dy
        sx = (dx[r][c] * (1 - tx) + dx[r][c + 1] * tx) * (1 - ty) + (
            dx[r + 1][c] * (1 - tx) + dx[r + 1][c + 1] * tx
        ) * ty
        sy = (dy[r][c] * (1 - tx) + dy[r][c + 1] * tx) * (1 - ty) + (
            dy[r + 1][c] * (1 - tx) + dy[r + 1][c + 1] * tx
        ) * ty
        return lon + sx, lat + sy


def _metres_per_degree(lon: float, lat: float) -> tuple[float, float]:
    """Ground metres per degree of lon and of lat at a place (smallest over ±0.5° of lat)."""
    geod = Geod(ellps="WGS84")
    out_lon, out_lat = [], []
    for la in (lat - 0.5, lat, lat + 0.5):
        out_lon.append(geod.inv(lon, la, lon + 0.01, la)[2] / 0.01)
        out_lat.append(geod.inv(lon, la, lon, la + 0.01)[2] / 0.01)
    return min(out_lon), min(out_lat)


def _boundary_cells(
    geoms: NDArray, origin: tuple[float, float], step: tuple[float, float], shape: tuple[int, int]
) -> tuple[NDArray, NDArray]:
    """(flat cell, grid) for every cell a grid's boundary passes through.

    Boundaries are sampled at under half a cell, so consecutive samples lie in the
    same or adjacent cells; a step that changes both row and column may clip one of
    the two corner cells, so both are marked.
    """
    (x0, y0), (dlon, dlat), (nrows, ncols) = origin, step, shape
    lines = shapely.segmentize(shapely.boundary(geoms), 0.45 * min(dlon, dlat))
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    col = np.clip(np.floor((xy[:, 0] - x0) / dlon), 0, ncols - 1).astype(np.int64)
    row = np.clip(np.floor((xy[:, 1] - y0) / dlat), 0, nrows - 1).astype(np.int64)
    same = owner[1:] == owner[:-1]
    corner = same & (row[1:] != row[:-1]) & (col[1:] != col[:-1])
    rows = np.r_[row, row[:-1][corner], row[1:][corner]]
    cols = np.r_[col, col[1:][corner], col[:-1][corner]]
    owners = np.r_[owner, owner[:-1][corner], owner[:-1][corner]]
    return rows * ncols + cols, owners.astype(np.int64)
