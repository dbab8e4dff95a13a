"""Complaints turned into numbers per area: counts, rates, months, H3 cells, map classes.

These feed the planner's maps and ``geo.hotspots``. Complaints arrive already
located (``GridIndex.locate_many(lon, lat).grid`` gives each one a grid position,
−1 for none), so counting is a ``bincount``, not a spatial join. Positions follow
the index's order (grids sorted by code): give ``gi_star`` the grids in that order.

Everything is vectorised over complaints; the only per-item Python loops are over
H3 cells (hundreds), never over points, and one scalar H3 call per point, which
h3 4.5 offers no array form of.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import h3
import mapclassify
import numpy as np
import pandas as pd
import shapely
from h3.api import numpy_int as h3_int
from numpy.typing import ArrayLike
from numpy.typing import NDArray

from geo.errors import GeoError
from geo.timeutil import BEIJING_TZ_NAME

Scheme = Literal["fisher_jenks", "natural_breaks", "quantiles", "equal_interval"]
SCHEMES: tuple[str, ...] = ("fisher_jenks", "natural_breaks", "quantiles", "equal_interval")
NO_DATA = -1

# mapclassify says so when ties leave fewer distinct quantiles than classes; the
# classes it then returns are right, and ``Classification.k`` tells the caller.
_FEWER_CLASSES_WARNING = r"Not enough unique values in array to form"


class AggregateInputError(GeoError, ValueError):
    """Positions, populations, times or options that cannot be aggregated as asked."""

    code = "invalid_aggregate_input"


# --------------------------------------------------------------------------- per grid


def counts_by_grid(grid_positions: ArrayLike, n_grids: int) -> NDArray[np.int64]:
    """Complaints per grid from each complaint's grid position (−1: in no grid, not counted)."""
    pos = _positions(grid_positions, n_grids)
    return np.bincount(pos[pos >= 0], minlength=n_grids).astype(np.int64)


def rates_per_1000(counts: ArrayLike, population: ArrayLike) -> NDArray[np.float64]:
    """Complaints per 1,000 residents; NaN where the population is unknown or zero.

    NaN rather than 0 or ∞: a grid without residents (a park, an industrial estate)
    has no rate, and a map or a test must not mistake it for a quiet one.
    """
    c = np.asarray(counts, dtype=float)
    p = np.asarray(population, dtype=float)
    if c.shape != p.shape:
        raise AggregateInputError(f"{c.size} counts for {p.size} populations")
    out = np.full(c.shape, np.nan)
    ok = np.isfinite(p) & (p > 0) & np.isfinite(c)
    np.divide(c * 1000.0, p, out=out, where=ok)
    return out


def eb_rates_per_1000(counts: ArrayLike, population: ArrayLike) -> NDArray[np.float64]:
    """Complaints per 1,000 residents smoothed by global empirical Bayes; NaN where a raw rate is.

    Why: a grid of 40 residents with 2 complaints has a raw rate of 50 ‰, the town's
    highest, on the strength of two complaints; its neighbour of 4,000 with 120 has
    30 ‰ on evidence a hundred times firmer. Raw rates make the smallest populations
    the extremes of a rate map and of a rate-based Gi*. Empirical Bayes shrinks each
    rate towards the town's rate in proportion to how little its population says:

    - ``b = Σ counts / Σ population`` (the town's rate, the prior mean);
    - ``s² = Σ pᵢ (rᵢ − b)² / Σ p`` (population-weighted variance of the raw rates);
    - ``a = s² − b / p̄`` with ``p̄`` the mean population (the prior variance, the part of
      the spread that Poisson noise does not explain; 0 if negative);
    - ``wᵢ = a / (a + b / pᵢ)``, and the smoothed rate ``wᵢ rᵢ + (1 − wᵢ) b``.

    This is Marshall's (1991) global method-of-moments estimator, the one
    ``esda.smoothing.Empirical_Bayes`` implements (``geo`` keeps to numpy here). A
    large population keeps its raw rate (``wᵢ`` → 1); a small one moves to ``b``. With
    ``a = 0`` (the rates vary no more than chance would make them) every grid gets the
    town rate, which is the honest answer. Rates are per 1,000 like ``rates_per_1000``.
    """
    c = np.asarray(counts, dtype=float)
    p = np.asarray(population, dtype=float)
    if c.shape != p.shape:
        raise AggregateInputError(f"{c.size} counts for {p.size} populations")
    out = np.full(c.shape, np.nan)
    ok = np.isfinite(p) & (p > 0) & np.isfinite(c)
    if not ok.any():
        return out
    cc, pp = c[ok], p[ok]
    b = cc.sum() / pp.sum()
    r = cc / pp
    s2 = float((pp * (r - b) ** 2).sum() / pp.sum())
    a = max(s2 - b / pp.mean(), 0.0)
    denom = a + b / pp
    w = np.divide(a, denom, out=np.ones_like(pp), where=denom > 0)
    out[ok] = (w * r + (1.0 - w) * b) * 1000.0
    return out


def monthly_counts(
    times: ArrayLike,
    grid_positions: ArrayLike,
    n_grids: int,
    start: object,
    end: object,
) -> NDArray[np.int64]:
    """Complaints per [month, grid], months from ``start``'s to ``end``'s inclusive.

    Months are calendar months in China time: an aware timestamp is converted to
    Asia/Shanghai first (01:00 on 1 March in Foshan is still February in UTC), a
    naive one is taken as local time already. Complaints outside the months or in
    no grid are not counted.
    """
    pos = _positions(grid_positions, n_grids)
    stamps = _local_naive(times)
    if len(stamps) != len(pos):
        raise AggregateInputError(f"{len(stamps)} times for {len(pos)} grid positions")
    first = _month(start)
    last = _month(end)
    n_months = int((last - first).astype(int)) + 1
    if n_months < 1:
        raise AggregateInputError("end is before start")
    month = (stamps.to_numpy().astype("datetime64[M]") - first).astype(np.int64)
    keep = (pos >= 0) & ~np.isnat(stamps.to_numpy()) & (month >= 0) & (month < n_months)
    flat = np.bincount(month[keep] * n_grids + pos[keep], minlength=n_months * n_grids)
    return flat.reshape(n_months, n_grids).astype(np.int64)


def month_labels(start: object, end: object) -> list[str]:
    """ "YYYY-MM" for each row of ``monthly_counts`` over the same range."""
    months = np.arange(_month(start), _month(end) + np.timedelta64(1, "M"), dtype="datetime64[M]")
    return [str(m) for m in months]


def _positions(grid_positions: ArrayLike, n_grids: int) -> NDArray[np.int64]:
    pos = np.asarray(grid_positions).reshape(-1)
    if pos.size and not np.issubdtype(pos.dtype, np.integer):
        raise AggregateInputError("grid positions must be integers (−1 for no grid)")
    pos = pos.astype(np.int64)
    if n_grids < 0 or (pos.size and (pos.min() < -1 or pos.max() >= n_grids)):
        raise AggregateInputError(f"grid positions must lie in −1..{n_grids - 1}")
    return pos


def _local_naive(times: ArrayLike) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(pd.to_datetime(times))
    if stamps.tz is not None:
        stamps = stamps.tz_convert(BEIJING_TZ_NAME).tz_localize(None)
    return stamps


def _month(when: object) -> np.datetime64:
    stamp = pd.Timestamp(when)
    if stamp.tz is not None:
        stamp = stamp.tz_convert(BEIJING_TZ_NAME).tz_localize(None)
    return np.datetime64(stamp.to_datetime64(), "M")


# --------------------------------------------------------------------------- H3


def h3_counts(lon: ArrayLike, lat: ArrayLike, res: int = 9) -> gpd.GeoDataFrame:
    """Points per H3 cell: ``hex_id`` (the string form kepler.gl detects), ``count``, cell polygon.

    Input is WGS84 (convert GCJ-02/BD-09 first: their ~600 m shift is several res-9
    cells). Points that are NaN or out of range are dropped and counted in
    ``attrs["dropped"]``. Rows are ordered by count, then hex_id, so the busiest
    cells come first and equal inputs give equal frames.
    """
    if not 0 <= int(res) <= 15:
        raise AggregateInputError(f"H3 resolution must be 0..15, not {res}")
    x = np.asarray(lon, dtype=float).reshape(-1)
    y = np.asarray(lat, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise AggregateInputError(f"{x.size} longitudes for {y.size} latitudes")
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
    xs, ys = x[ok], y[ok]
    # h3 4.5 has no array form of latlng_to_cell; one C call per point through map()
    # costs ~0.5 µs, and the integer API avoids building a hex string per point.
    cells = np.fromiter(
        map(h3_int.latlng_to_cell, ys.tolist(), xs.tolist(), [int(res)] * len(xs)),
        dtype=np.uint64,
        count=len(xs),
    )
    uniq, count = np.unique(cells, return_counts=True)
    hex_ids = np.array([h3.int_to_str(int(c)) for c in uniq.tolist()], dtype=object)
    frame = gpd.GeoDataFrame(
        {"hex_id": hex_ids, "count": count.astype(np.int64)},
        geometry=_cell_polygons(uniq),
        crs="EPSG:4326",
    )
    frame = frame.sort_values(["count", "hex_id"], ascending=[False, True], ignore_index=True)
    frame.attrs["res"] = int(res)
    frame.attrs["dropped"] = int((~ok).sum())
    return frame


def _cell_polygons(cells: NDArray[np.uint64]) -> NDArray:
    """Cell outlines as lon/lat polygons (h3 gives lat/lng pairs: swapped here once)."""
    rings = [np.asarray(h3_int.cell_to_boundary(int(c)))[:, ::-1] for c in cells.tolist()]
    if not rings:
        return np.empty(0, dtype=object)
    if len({len(r) for r in rings}) == 1:
        return shapely.polygons(np.stack(rings))
    # a pentagon (12 per resolution, none in China) has five vertices
    return np.array([shapely.Polygon(r) for r in rings], dtype=object)


# --------------------------------------------------------------------------- map classes


@dataclass(frozen=True)
class Classification:
    """Map classes for a choropleth.

    ``bins`` are the upper bounds of the classes (class i holds bins[i-1] < v ≤ bins[i],
    class 0 from the minimum); ``classes`` gives each value's class, −1 for NaN;
    ``labels`` the legend text per class; ``counts`` how many values fall in each.
    ``k`` may be below the k asked for when there are fewer distinct values.
    """

    scheme: str
    k: int
    bins: NDArray[np.float64]
    classes: NDArray[np.int64]
    labels: list[str]
    counts: NDArray[np.int64]


def classify(values: ArrayLike, scheme: Scheme = "fisher_jenks", k: int = 5) -> Classification:
    """Choropleth classes by mapclassify, robust to all-equal, few-valued and NaN input.

    ``natural_breaks`` is computed as Fisher-Jenks: mapclassify's ``NaturalBreaks`` is
    k-means from random starts, so its breaks could change between two loads of the
    same map, whereas Fisher-Jenks finds the exact optimum of the same objective
    (least squared deviation within classes; what ArcGIS and QGIS call Jenks).
    Fisher-Jenks itself runs here on the distinct values weighted by their
    multiplicity, in numpy: mapclassify's version is pure Python without numba
    (O(n²), seconds for a few thousand values) and warns about it on every call.
    When there are no more distinct values than classes, each distinct value is its
    own class, the only honest legend for, say, grids with 0, 1 or 2 complaints.
    """
    if scheme not in SCHEMES:
        raise AggregateInputError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    if int(k) < 1:
        raise AggregateInputError("k must be at least 1")
    k = int(k)
    v = np.asarray(values, dtype=float).reshape(-1)
    finite = np.isfinite(v)
    data = v[finite]
    classes = np.full(v.shape, NO_DATA, dtype=np.int64)
    if data.size == 0:
        return Classification(scheme, 0, np.empty(0), classes, [], np.empty(0, dtype=np.int64))
    distinct = np.unique(data)
    if len(distinct) <= k:
        bins = distinct
    elif scheme in ("fisher_jenks", "natural_breaks"):
        bins = fisher_jenks_breaks(data, k)
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_FEWER_CLASSES_WARNING, category=UserWarning)
            cls = mapclassify.Quantiles if scheme == "quantiles" else mapclassify.EqualInterval
            bins = np.asarray(cls(data, k=k).bins, dtype=float)
    bins = np.unique(bins)
    bins[-1] = max(bins[-1], data.max())
    fitted = mapclassify.UserDefined(data, bins=list(bins))
    classes[finite] = np.asarray(fitted.yb, dtype=np.int64)
    counts = np.bincount(classes[finite], minlength=len(bins)).astype(np.int64)
    return Classification(scheme, len(bins), bins, classes, _legend(bins, data), counts)


def fisher_jenks_breaks(values: ArrayLike, k: int) -> NDArray[np.float64]:
    """Exact Fisher-Jenks upper class bounds (the least within-class sum of squares).

    Dynamic programming over the u distinct sorted values, weighted by how often
    each occurs: an optimal partition never splits equal values, so this is the
    optimum over all values. O(k·u²) in vectorised numpy blocks of columns.
    """
    v, w = np.unique(np.asarray(values, dtype=float).reshape(-1), return_counts=True)
    u = len(v)
    k = min(int(k), u)
    if k <= 1:
        return v[-1:].copy()
    w = w.astype(float)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    c1 = np.concatenate([[0.0], np.cumsum(w * v)])
    c2 = np.concatenate([[0.0], np.cumsum(w * v * v)])

    def sse(a: NDArray, b: NDArray) -> NDArray:
        # within-class squared deviation of distinct values a..b (inclusive)
        sw = cw[b + 1] - cw[a]
        s1 = c1[b + 1] - c1[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sw > 0, (c2[b + 1] - c2[a]) - s1 * s1 / sw, np.inf)

    idx = np.arange(u)
    best = sse(np.zeros(u, dtype=np.int64), idx)  # best[b]: one class over 0..b
    start = np.zeros((k, u), dtype=np.int64)  # start[j, b]: first value of the last class
    block = 512
    for j in range(1, k):
        new = np.full(u, np.inf)
        before = np.concatenate([[np.inf], best[:-1]])  # best over 0..a-1 with one class fewer
        for lo in range(0, u, block):
            b = idx[lo : lo + block]
            a = idx[: b[-1] + 1, None]  # candidate first value of the last class: j ≤ a ≤ b
            allowed = (a <= b[None, :]) & (a >= j)
            cost = np.where(allowed, before[: b[-1] + 1, None] + sse(a, b[None, :]), np.inf)
            arg = np.argmin(cost, axis=0)
            new[b] = cost[arg, np.arange(len(b))]
            start[j, b] = arg
        best = new
    bounds = []
    last = u - 1  # the last value of the class being closed
    for j in range(k - 1, 0, -1):
        bounds.append(v[last])
        last = start[j, last] - 1
    bounds.append(v[last])
    return np.asarray(bounds[::-1], dtype=float)


def _legend(bins: NDArray, data: NDArray) -> list[str]:
    """Legend text per class: whole numbers as "4–7", a class above the first starting
    one above the previous bound (counts are whole); other values as "3.2–7.5"."""
    integral = bool(np.all(data == np.round(data)) and np.all(bins == np.round(bins)))
    lows = np.concatenate([[data.min()], bins[:-1]])
    labels = []
    for i, (lo, hi) in enumerate(zip(lows, bins, strict=True)):
        if integral:
            first = lo if i == 0 else lo + 1  # class i > 0 holds lo < v ≤ hi
            labels.append(f"{first:,.0f}" if first >= hi else f"{first:,.0f}–{hi:,.0f}")
        else:
            labels.append(f"{_num(lo)}–{_num(hi)}" if lo < hi else _num(hi))
    return labels


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")
