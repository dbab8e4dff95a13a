"""Complaints as weighted points for heat maps: one map-wide set, and one per calendar month.

A heat map draws every point it is given, on every zoom and pan, and the page has to carry
them all, so complaints are counted here, not drawn one by one (numpy and pandas only; the
folium layers that draw these points are in ``webmap.maps.heatmap``).

Heat points. Complaints are binned into small square cells (50 m, in a local
equirectangular frame, so cells stay put whatever the filters) and each cell becomes one
point at the mean position of its complaints, weighted by their number. When more cells
are occupied than the cap allows, the busiest fine cells are kept and the rest of the
complaints are merged into coarser cells (4 × the size, doubled again if needed) — the
largest number of fine cells for which the total stays within the cap. Hot streets keep
their 50 m detail, the thin background costs little, and the weights always add up to the
number of complaints drawn.

Months. One frame of weighted points per calendar month (China time), on coarser 250 m
cells with a per-frame cap (and a cap on all frames together, so ten years do not weigh
ten times two). ``MonthlyHeat.scale`` is the one intensity scale for all frames (the 98th
percentile of the cell counts): frames are comparable, a quiet month looks quiet, and the
few busiest cells saturate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from numpy.typing import NDArray

from geo.aggregate import month_labels
from geo.timeutil import BEIJING_TZ_NAME

HEAT_CELL_M = 50.0
HEAT_CAP = 6_000
ANIM_CELL_M = 250.0
ANIM_CAP = 600  # weighted points per month at most
ANIM_TOTAL_CAP = 12_000  # and over all months together
COARSE_FACTOR = 4
M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class WeightedPoints:
    """Cells of complaints as points: mean position of each cell's complaints, and their number."""

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    weight: NDArray[np.int64]
    cell_m: float  # size of the fine cells
    coarse_m: float | None  # size of the cells the thinner rest was merged into (None: not needed)
    n_fine: int  # how many of the points are fine cells

    def __len__(self) -> int:
        return len(self.weight)

    @property
    def total(self) -> int:
        return int(self.weight.sum())

    def rows(self, digits: int = 5) -> list[list[float]]:
        """``[lat, lon, weight]`` rows for Leaflet (5 decimals: about a metre)."""
        return [
            [y, x, w]
            for y, x, w in zip(
                np.round(self.lat, digits).tolist(),
                np.round(self.lon, digits).tolist(),
                self.weight.tolist(),
                strict=True,
            )
        ]


def weighted_points(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    cell_m: float = HEAT_CELL_M,
    cap: int = HEAT_CAP,
    coarse_factor: int = COARSE_FACTOR,
    ref_lat: float | None = None,
) -> WeightedPoints:
    """Complaints binned into ``cell_m`` squares, at most ``cap`` points, weights summing to the count.

    Points without finite coordinates are dropped. ``ref_lat`` fixes the latitude the
    east–west cell size is measured at (default: the points' mean), so that several calls
    (one per month) share one set of cells.
    """
    x = np.asarray(lon, dtype=float).reshape(-1)
    y = np.asarray(lat, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{x.size} longitudes for {y.size} latitudes")
    if int(cap) < 1 or cell_m <= 0 or int(coarse_factor) < 2:
        raise ValueError("cap must be ≥ 1, cell_m > 0 and coarse_factor ≥ 2")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        empty = np.empty(0)
        return WeightedPoints(empty, empty.copy(), np.empty(0, dtype=np.int64), float(cell_m), None, 0)
    ref = float(np.mean(y)) if ref_lat is None else float(ref_lat)
    ix = np.floor(x * (M_PER_DEG * np.cos(np.radians(ref))) / cell_m).astype(np.int64)
    iy = np.floor(y * M_PER_DEG / cell_m).astype(np.int64)
    fine_keys, fine_of, fine_n = _cells(ix, iy)
    if len(fine_n) <= cap:
        return _collect(x, y, fine_of, len(fine_n), float(cell_m), None, len(fine_n))

    factor = int(coarse_factor)
    while True:  # coarse enough that all points merged would fit
        _, coarse_of, coarse_n = _cells(ix // factor, iy // factor)
        if len(coarse_n) <= cap:
            break
        factor *= 2
    # Fine cells busiest first (ties by cell, for the same answer on every run).
    order = np.lexsort((fine_keys, -fine_n))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    point_rank = rank[fine_of]

    def points_for(k: int) -> int:
        # keeping one more fine cell removes at most one coarse cell (cells nest), so this
        # never decreases with k and the largest k within the cap can be bisected
        return k + len(np.unique(coarse_of[point_rank >= k]))

    lo, hi = 0, len(fine_n)  # points_for(lo) ≤ cap < points_for(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if points_for(mid) <= cap:
            lo = mid
        else:
            hi = mid
    kept = point_rank < lo
    group = np.empty(len(x), dtype=np.int64)
    group[kept] = point_rank[kept]
    _, rest = np.unique(coarse_of[~kept], return_inverse=True)
    group[~kept] = lo + rest.reshape(-1)
    n_groups = lo + (int(rest.max()) + 1 if rest.size else 0)
    return _collect(x, y, group, n_groups, float(cell_m), float(cell_m) * factor, lo)


def _cells(ix: NDArray, iy: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Distinct (ix, iy) cells: their keys, each point's cell, points per cell."""
    span = int(iy.max() - iy.min()) + 1
    key = (ix - ix.min()) * span + (iy - iy.min())
    keys, of, n = np.unique(key, return_inverse=True, return_counts=True)
    return keys, of.reshape(-1), n


def _collect(
    x: NDArray,
    y: NDArray,
    group: NDArray,
    n_groups: int,
    cell_m: float,
    coarse_m: float | None,
    n_fine: int,
) -> WeightedPoints:
    weight = np.bincount(group, minlength=n_groups)
    return WeightedPoints(
        np.bincount(group, weights=x, minlength=n_groups) / weight,
        np.bincount(group, weights=y, minlength=n_groups) / weight,
        weight.astype(np.int64),
        cell_m,
        coarse_m,
        n_fine,
    )


# --------------------------------------------------------------------------- months


def month_of(times: ArrayLike) -> NDArray:
    """Each time's calendar month in China time (naive times are taken as China time already)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if stamps.tz is not None:
        stamps = stamps.tz_convert(BEIJING_TZ_NAME).tz_localize(None)
    return stamps.to_numpy().astype("datetime64[M]")


@dataclass(frozen=True)
class MonthlyHeat:
    """One frame of weighted points per month, labelled YYYY-MM."""

    labels: list[str]
    frames: list[WeightedPoints]
    totals: NDArray[np.int64]  # complaints drawn per month (their weights' sum)
    cell_m: float

    @property
    def max_weight(self) -> int:
        return max((int(f.weight.max()) for f in self.frames if len(f)), default=0)

    @property
    def scale(self) -> int:
        """The count drawn at full colour: the 98th percentile of all cells of all months.

        With the maximum, a few market-street cells would leave every other cell nearly
        invisible; above this they simply stay at full colour.
        """
        weights = [f.weight for f in self.frames if len(f)]
        if not weights:
            return 1
        return max(1, int(np.ceil(np.quantile(np.concatenate(weights), 0.98))))


def monthly_heat(
    lon: ArrayLike,
    lat: ArrayLike,
    times: ArrayLike,
    *,
    start: object,
    end: object,
    cell_m: float = ANIM_CELL_M,
    cap: int = ANIM_CAP,
    total_cap: int = ANIM_TOTAL_CAP,
    ref_lat: float | None = None,
) -> MonthlyHeat:
    """Weighted points per month from ``start``'s month to ``end``'s, all on one set of cells."""
    x = np.asarray(lon, dtype=float).reshape(-1)
    y = np.asarray(lat, dtype=float).reshape(-1)
    labels = month_labels(start, end)
    months = month_of(times)
    if len(months) != len(x):
        raise ValueError(f"{len(months)} times for {len(x)} points")
    first = np.datetime64(labels[0], "M") if labels else None
    per_frame = max(1, min(int(cap), int(total_cap) // max(len(labels), 1)))
    finite = y[np.isfinite(y)]
    ref = ref_lat if ref_lat is not None else (float(finite.mean()) if finite.size else 0.0)
    index = (months - first).astype(np.int64) if labels else np.empty(0, dtype=np.int64)
    frames = [
        weighted_points(x[index == i], y[index == i], cell_m=cell_m, cap=per_frame, ref_lat=ref)
        for i in range(len(labels))
    ]
    totals = np.array([f.total for f in frames], dtype=np.int64)
    return MonthlyHeat(labels, frames, totals, float(cell_m))
