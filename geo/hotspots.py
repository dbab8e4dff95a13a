"""Statistically tested hot and cold spots on the governance grids, and per-grid trends.

A planner must not call a grid "热点" because it is dark red on a heat map: a grid
with many complaints next to grids with few is noise, a *cluster* of high values is
a finding. This module gives each grid the answer ArcGIS's Hot Spot Analysis gives
(GiZScore, GiPValue, Gi_Bin −3…+3), computed with PySAL's esda, and a Mann-Kendall
trend per grid for "which grids are getting worse". The choices, and why:

Neighbours. Queen contiguity (grids sharing a boundary point) from libpysal, because
governance grids tile the town and a complaint's causes (a market, a building site)
spill over shared edges and corners alike. The default relation is libpysal's
vertex-based one, exact for a coverage whose neighbours share vertices (the demo
grids and files that were digitised as one coverage). Grid files drawn piece by piece
may have neighbours whose edges never meet in floating point: ``snap_m`` then makes
grids within that many metres (measured in the grids' UTM zone) neighbours. Islands,
grids without any neighbour, are not tested at all: Gi* of an island is just its own
value against the town mean, which says "high value", not "cluster". Their value
still counts in the town-wide mean and variance, which they are part of.

Weights. Binary (transform ``"B"``) with the grid itself in its own window (Gi*,
self-weight 1), as in Getis–Ord practice and ArcGIS's contiguity weights. Row
standardising would not change a correct z-score (Gi* is invariant to scaling one
row), but esda's analytic variance uses the row sum in place of the sum of squared
weights, which is exact only for binary weights: with ``"R"`` its z-scores shrink.

P-values. The bins use the two-sided normal p-value of the analytic z-score, as
ArcGIS's GiPValue does, because (1) it is the null of Gi* itself (all values,
including the grid's own, randomly placed), whereas esda's conditional permutation
holds the grid's own value fixed, so its pseudo p tests only the neighbours; and
(2) a pseudo p can never fall below 2/(permutations + 1), and Benjamini–Hochberg
over ~300 grids needs p ≤ 0.01·k/309 for the 99 % bin: with 999 permutations no grid
reaches ±3 unless at least 62 grids sit at the floor. The permutation result is still
computed (esda ``G_Local``, seeded) and reported as ``p_sim``/``z_sim``, a check on
the normal approximation for skewed counts; ``p_value="permutation"`` bins on it.

FDR. As ArcGIS does, Benjamini–Hochberg is applied per confidence level over the
tested grids: a grid is in bin ±3 if its p is under the BH cut-off for α = 0.01, else
±2 under the cut-off for 0.05, else ±1 for 0.10 (``esda.fdr`` gives each cut-off).
Without it, a town of pure noise shows about 31 "hot/cold spots at 90 %" out of 309.
The z- and p-values themselves are never corrected, again as in ArcGIS.

Counts or rates. With a population, Gi* runs on complaints per 1,000 residents by
default: a planner asks where residents are more troubled than elsewhere, and raw
counts mostly map where people live. Counts remain available (``value="count"``)
for the dispatcher's question, where the workload is. Grids without a population
cannot carry a rate and are left out of a rate analysis: not tested and nobody's
neighbour.

Smoothed rates. With ``smooth=True`` a rate analysis runs on empirical-Bayes rates
(``geo.aggregate.eb_rates_per_1000``), so a grid of a few dozen residents with two
complaints is not the town's extreme value on the strength of two complaints.

Hot on its own, or next to a hot cluster. Gi* is a statistic of a *window*, the grid
and its neighbours: a grid with no complaint at all sits in bin +3 when its eight
neighbours are busy. ArcGIS reports that bin, and so does ``gi_bin``; but a page that
colours such a grid "热点" tells a planner to send someone there. ``spot`` therefore
says what is presented, by this rule:

- ``hot``: bin > 0, the grid's own count is at least ``min_own`` (default 1) **and**
  its own value (count or rate) is above the town's mean of the analysed values, so
  the grid itself pulls its window up;
- ``hot_nearby`` (邻近热点): bin > 0 but the grid fails either test, e.g. zero
  complaints of its own, or fewer than the average grid: it is significant only
  because of its neighbours, part of a hot cluster but not hot on its own;
- ``cold`` / ``cold_nearby``: the mirror image (bin < 0; ``cold_nearby`` when the
  grid's own value is above the mean: a busy grid among quiet ones);
- ``ns`` (不显著) and ``untested``.

``spot_label`` words it ("热点 99%", "邻近热点 99%"). ``gi_bin`` and ``label`` are left
as the statistic gives them (comparable with ArcGIS).

Clusters. A hot spot is a cluster, not a grid: grids in a hot bin (``hot`` and
``hot_nearby`` alike) that are Queen neighbours of one another form one cluster, the
connected components of the contiguity graph restricted to them. ``cluster`` numbers
them 1, 2, … by descending total of their grids' own counts (0: in no cluster), with
``cluster_size`` (grids) and ``cluster_total`` (their complaints).

Local Moran's I (``local_moran``) is a second view: Anselin's LISA with row-standardised
Queen weights, classes HH (high among high), LL, HL (a high outlier among lows), LH,
FDR-corrected like Gi*. Unlike Gi*, it separates a high grid among highs (HH) from a
low grid among highs (LH), which is the "hot only through the neighbours" case again.

Emerging hot spots (``emerging_hotspots``) follow ArcGIS's Emerging Hot Spot Analysis
on a [month, grid] cube: Gi* for every (month, grid) bin with space-time neighbours
(the grid and its Queen neighbours in the same month and, with ``time_lag=1``, in the
previous month), the mean and spread taken over the whole cube; bins significant at
``alpha`` after Benjamini–Hochberg over all bins; a Mann-Kendall test on each grid's
series of Gi* z-scores; and ESRI's classes (definitions at ``EMERGING_CLASSES``).

Everything is deterministic for a given seed, and the neighbour graph is cached per
geometry set, so a web request pays for the statistics only (see the module's test
for the measured times).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph
from numpy.typing import ArrayLike
from numpy.typing import NDArray
from scipy import sparse
from scipy import stats
from scipy.sparse import csgraph

from geo.aggregate import eb_rates_per_1000
from geo.errors import GeoError
from geo.gridset import metric_frame_for

DEFAULT_ALPHA_LEVELS = (0.01, 0.05, 0.10)
NOT_SIGNIFICANT = "不显著"

# Why a grid was not tested; "tested" for the others.
STATUS_TESTED = "tested"
STATUS_ISLAND = "island"
STATUS_NO_POPULATION = "no_population"
STATUS_NO_VARIATION = "no_variation"
UNTESTED_LABELS = {
    STATUS_ISLAND: "未检验：无相邻网格",
    STATUS_NO_POPULATION: "未检验：无人口数据",
    STATUS_NO_VARIATION: "未检验：各网格数值相同",
}

# What a grid is presented as (see the module's docstring): hot on its own, or only next to hot grids.
SPOT_HOT = "hot"
SPOT_HOT_NEARBY = "hot_nearby"
SPOT_COLD = "cold"
SPOT_COLD_NEARBY = "cold_nearby"
SPOT_NS = "ns"
SPOT_UNTESTED = "untested"
DEFAULT_MIN_OWN = 1

# Local Moran's I quadrants (esda's q: 1 HH, 2 LH, 3 LL, 4 HL) and "not significant".
LISA_CLASSES = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
LISA_NS = "ns"

#: ESRI's Emerging Hot Spot Analysis classes, as ``emerging_hotspots`` decides them. "Hot"
#: means a bin significant with z > 0 (FDR over the cube); "90 %" means at least 90 % of the
#: months; the trend is Mann-Kendall on the grid's Gi* z-scores at ``alpha``.
EMERGING_CLASSES = {
    "new_hot": "新增热点: hot in the final month only, never before",
    "consecutive_hot": "连续热点: an unbroken run of ≥ 2 hot months ending in the final month, "
    "never hot before the run, hot in < 90 % of months",
    "intensifying_hot": "加剧热点: hot in ≥ 90 % of months including the final one, z rising significantly",
    "persistent_hot": "持续热点: hot in ≥ 90 % of months including the final one, no significant trend",
    "diminishing_hot": "减弱热点: hot in ≥ 90 % of months including the final one, z falling significantly",
    "sporadic_hot": "零星热点: hot in the final month, on and off before (< 90 % of months), never cold",
    "oscillating_hot": "振荡热点: hot in the final month, cold in an earlier one, hot in < 90 % of months",
    "historical_hot": "历史热点: not hot in the final month, hot in ≥ 90 % of the months",
    "no_pattern": "无模式: none of these (hot or cold)",
}


def _mirror(text: str) -> str:
    for a, b in (("hot", "cold"), ("热点", "冷点"), ("rising", "falling")):
        text = text.replace(a, "\0").replace(b, a).replace("\0", b)
    return text


for _kind in ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating"):
    EMERGING_CLASSES[f"{_kind}_cold"] = _mirror(EMERGING_CLASSES[f"{_kind}_hot"])
EMERGING_CLASSES["historical_cold"] = _mirror(EMERGING_CLASSES["historical_hot"])
EMERGING_LABELS = {code: text.split(":")[0] for code, text in EMERGING_CLASSES.items()}

# esda 2.9 warns on every permuted G_Local that its default alternative will change;
# the default it keeps ("directed") is the one this module converts to two-sided.
_ESDA_ALTERNATIVE_WARNING = r"The alternative hypothesis for conditional randomization"


class HotspotInputError(GeoError, ValueError):
    """Counts, populations or options that do not fit the grids they are for."""

    code = "invalid_hotspot_input"


# --------------------------------------------------------------------------- neighbours


def queen_neighbours(geoms: ArrayLike, *, snap_m: float = 0.0) -> Graph:
    """Binary Queen contiguity over WGS84 polygons, positions 0..n-1 as ids.

    Cached on the geometries' WKB, so every request against one grid version reuses
    one graph; the returned Graph is immutable (its methods return new graphs).
    """
    geoms_arr = np.asarray(geoms, dtype=object)
    digest = hashlib.blake2b(b"".join(shapely.to_wkb(geoms_arr, hex=False)), digest_size=16).digest()
    return _queen_cached(digest, float(snap_m), _Geoms(geoms_arr))


class _Geoms:
    """Carries the geometries into the cache without taking part in its key."""

    __slots__ = ("geoms",)

    def __init__(self, geoms: NDArray) -> None:
        self.geoms = geoms

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Geoms)


@lru_cache(maxsize=32)
def _queen_cached(digest: bytes, snap_m: float, carrier: _Geoms) -> Graph:
    geoms = carrier.geoms
    if snap_m > 0:
        # Buffering in degrees would make the tolerance depend on latitude and direction.
        frame = metric_frame_for(geoms)
        metric = gpd.GeoSeries(frame.project(geoms), crs=frame.crs)
        return Graph.build_fuzzy_contiguity(metric, buffer=snap_m)
    return Graph.build_contiguity(gpd.GeoSeries(geoms), rook=False)


# --------------------------------------------------------------------------- Gi*


def gi_star(
    grids: gpd.GeoDataFrame,
    counts: ArrayLike,
    *,
    population: ArrayLike | str | None = None,
    value: Literal["auto", "count", "rate"] = "auto",
    permutations: int = 999,
    seed: int = 0,
    alpha_levels: Sequence[float] = DEFAULT_ALPHA_LEVELS,
    fdr: bool = True,
    p_value: Literal["normal", "permutation"] = "normal",
    snap_m: float = 0.0,
    smooth: bool = False,
    min_own: int = DEFAULT_MIN_OWN,
) -> pd.DataFrame:
    """Getis-Ord Gi* per grid, binned like ArcGIS's Gi_Bin, indexed like ``grids``.

    ``counts`` and ``population`` (an array or the name of a column of ``grids``) are
    aligned with the rows of ``grids``. Columns:

    - ``value``: what was analysed (complaints, or complaints per 1,000 residents);
    - ``neighbours``: number of contiguous grids used (the window is these plus itself);
    - ``z``, ``p_norm``: the analytic Gi* z-score and its two-sided normal p (GiZScore,
      GiPValue; never FDR-corrected);
    - ``z_sim``, ``p_sim``: from the permutations (two-sided pseudo p), NaN without;
    - ``p``: the p-value the bin was decided on (``p_norm`` or ``p_sim``);
    - ``gi_bin``: −3…+3, the sign of z times the confidence level reached, after FDR;
    - ``label``: 热点/冷点 with the confidence level, 不显著, or why it was not tested;
    - ``status``: ``tested``, ``island``, ``no_population`` or ``no_variation``;
    - ``own``: the grid's own count; ``spot``/``spot_label``: what the grid is presented
      as (``hot``, ``hot_nearby`` …, the rule is in the module's docstring);
    - ``cluster``, ``cluster_size``, ``cluster_total``: the hot cluster the grid is in.

    ``smooth`` analyses empirical-Bayes rates (only for ``value="rate"``); ``min_own`` is
    the least own count a grid needs to be presented as hot on its own.

    ``attrs`` records the choices and the FDR cut-offs, so a page can state them.
    """
    n = len(grids)
    y_count = _as_vector(counts, n, "counts")
    if np.any(~np.isfinite(y_count)) or np.any(y_count < 0):
        raise HotspotInputError("counts must be finite and non-negative")
    pop = None
    if population is not None:
        pop = _as_vector(grids[population] if isinstance(population, str) else population, n, "population")
    if value == "auto":
        value = "rate" if pop is not None else "count"
    if value not in ("count", "rate"):
        raise HotspotInputError(f"value must be 'auto', 'count' or 'rate', not {value!r}")
    if value == "rate" and pop is None:
        raise HotspotInputError("value='rate' needs a population")
    if p_value not in ("normal", "permutation"):
        raise HotspotInputError(f"p_value must be 'normal' or 'permutation', not {p_value!r}")
    if p_value == "permutation" and permutations < 1:
        raise HotspotInputError("p_value='permutation' needs permutations > 0")
    levels = _check_levels(alpha_levels)

    status = np.full(n, STATUS_TESTED, dtype=object)
    if value == "rate":
        assert pop is not None  # value="rate" without a population was refused above
        if smooth:
            y = eb_rates_per_1000(y_count, pop)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(pop > 0, y_count * 1000.0 / pop, np.nan)
        usable = np.isfinite(y)
        status[~usable] = STATUS_NO_POPULATION
    else:
        y = y_count.astype(float)
        usable = np.ones(n, dtype=bool)

    out = pd.DataFrame(
        {
            "value": y,
            "neighbours": np.zeros(n, dtype=np.int64),
            "z": np.nan,
            "p_norm": np.nan,
            "z_sim": np.nan,
            "p_sim": np.nan,
            "p": np.nan,
        },
        index=grids.index,
    )
    cutoffs = dict.fromkeys(levels, np.nan)
    positions = np.flatnonzero(usable)
    geoms = np.asarray(grids.geometry.values, dtype=object)[positions]
    graph = queen_neighbours(geoms, snap_m=snap_m) if len(positions) else None
    y_used = y[positions]

    if graph is not None:
        cardinality = graph.cardinalities.to_numpy()
        out.iloc[positions, out.columns.get_loc("neighbours")] = cardinality
        status[positions[cardinality == 0]] = STATUS_ISLAND
    if len(positions) < 3 or np.ptp(y_used) == 0:
        # Gi* divides by the spread of the values; with none there is nothing to test.
        status[positions[status[positions] == STATUS_TESTED]] = STATUS_NO_VARIATION
    else:
        local = _g_local(y_used, graph, permutations, seed)
        tested = positions[status[positions] == STATUS_TESTED]
        keep = status[positions] == STATUS_TESTED
        out.iloc[tested, out.columns.get_loc("z")] = local["z"][keep]
        out.iloc[tested, out.columns.get_loc("p_norm")] = local["p_norm"][keep]
        if permutations > 0:
            out.iloc[tested, out.columns.get_loc("z_sim")] = local["z_sim"][keep]
            out.iloc[tested, out.columns.get_loc("p_sim")] = local["p_sim"][keep]

    p_col = "p_norm" if p_value == "normal" else "p_sim"
    z_col = "z" if p_value == "normal" else "z_sim"
    out["p"] = out[p_col]
    tested_mask = status == STATUS_TESTED
    p = out["p"].to_numpy()
    level = np.zeros(n, dtype=np.int8)
    # ``levels`` runs strictest first (bin 3 for α = 0.01); going loosest first lets a
    # stricter level overwrite, so each grid keeps the strictest level it passes.
    for bin_level, alpha in reversed(list(zip(range(len(levels), 0, -1), levels, strict=True))):
        if tested_mask.any():
            cut = float(esda.fdr(p[tested_mask], alpha)) if fdr else alpha
            cutoffs[alpha] = cut
            level[tested_mask & (p <= cut)] = bin_level
    sign = np.sign(np.nan_to_num(out[z_col].to_numpy())).astype(np.int8)
    gi_bin = (sign * level).astype(np.int8)
    out["gi_bin"] = gi_bin
    out["label"] = _labels(gi_bin, status, levels)
    out["status"] = status
    out["own"] = y_count
    spot = _spots(gi_bin, status, y_count, y, usable & (status == STATUS_TESTED), min_own)
    out["spot"] = spot
    out["spot_label"] = _spot_labels(spot, gi_bin, levels)
    cluster, size, total = _clusters(gi_bin > 0, positions, graph, y_count)
    out["cluster"] = cluster
    out["cluster_size"] = size
    out["cluster_total"] = total
    out.attrs.update(
        {
            "value": value,
            "smoothed": bool(smooth and value == "rate"),
            "min_own": int(min_own),
            "n_clusters": int(cluster.max()) if len(cluster) else 0,
            "weights": "queen contiguity, binary, self-weight 1 (Gi*)",
            "snap_m": float(snap_m),
            "p_value": p_value,
            "permutations": int(permutations),
            "seed": int(seed),
            "fdr": bool(fdr),
            "alpha_levels": levels,
            "cutoffs": cutoffs,
            "n_tested": int(tested_mask.sum()),
            "n_islands": int((status == STATUS_ISLAND).sum()),
        }
    )
    return out


def _g_local(y: NDArray, graph: Graph, permutations: int, seed: int) -> dict[str, NDArray]:
    """esda's Gi* on binary weights; p-values made two-sided."""
    # catch_warnings swaps the process-wide filter list (not thread-safe before Python
    # 3.14): a concurrent request may at worst keep this one narrow ignore a moment longer.
    # errstate: an island's permutations are all equal (nothing to permute), so esda's
    # z_sim divides by a zero spread; islands are discarded by the caller.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.filterwarnings("ignore", message=_ESDA_ALTERNATIVE_WARNING, category=DeprecationWarning)
        # n_jobs=1: esda's default (-1) starts a process pool, far dearer than 309 grids.
        local = esda.G_Local(
            y,
            graph,
            transform="B",
            star=True,
            permutations=permutations,
            seed=seed,
            n_jobs=1,
            keep_simulations=True,
        )
    result = {"z": np.asarray(local.Zs, dtype=float), "p_norm": 2.0 * stats.norm.sf(np.abs(local.Zs))}
    if permutations > 0:
        # esda's "directed" pseudo p is one-sided in the observed direction; doubling it
        # is the usual two-sided pseudo p, comparable with p_norm.
        result["p_sim"] = np.minimum(1.0, 2.0 * np.asarray(local.p_sim, dtype=float))
        result["z_sim"] = np.asarray(local.z_sim, dtype=float)
    return result


def _labels(gi_bin: NDArray, status: NDArray, levels: tuple[float, ...]) -> NDArray:
    """热点/冷点 with the confidence of the bin, 不显著, or why the grid was not tested."""
    confidence = {len(levels) - i: _confidence(alpha) for i, alpha in enumerate(levels)}
    names = {0: NOT_SIGNIFICANT}
    for bin_level, conf in confidence.items():
        names[bin_level] = f"热点 {conf}"
        names[-bin_level] = f"冷点 {conf}"
    labels = np.array([names[b] for b in range(-len(levels), len(levels) + 1)], dtype=object)
    out = labels[gi_bin.astype(np.int64) + len(levels)]
    for code, text in UNTESTED_LABELS.items():
        out[status == code] = text
    return out


def _spots(
    gi_bin: NDArray, status: NDArray, own: NDArray, y: NDArray, tested: NDArray, min_own: int
) -> NDArray:
    """The presented class per grid: hot on its own, or only next to hot grids (see the module)."""
    n = len(gi_bin)
    spot = np.full(n, SPOT_NS, dtype=object)
    spot[status != STATUS_TESTED] = SPOT_UNTESTED
    mean = float(np.mean(y[tested])) if tested.any() else np.nan
    above = np.zeros(n, dtype=bool)
    above[tested] = y[tested] > mean
    own_hot = above & (own >= min_own)
    spot[(gi_bin > 0) & own_hot] = SPOT_HOT
    spot[(gi_bin > 0) & ~own_hot] = SPOT_HOT_NEARBY
    spot[(gi_bin < 0) & ~above] = SPOT_COLD
    spot[(gi_bin < 0) & above] = SPOT_COLD_NEARBY
    return spot


def _spot_labels(spot: NDArray, gi_bin: NDArray, levels: tuple[float, ...]) -> NDArray:
    names = {SPOT_HOT: "热点", SPOT_HOT_NEARBY: "邻近热点", SPOT_COLD: "冷点", SPOT_COLD_NEARBY: "邻近冷点"}
    conf = {len(levels) - i: _confidence(alpha) for i, alpha in enumerate(levels)}
    out = np.empty(len(spot), dtype=object)
    for i, (kind, b) in enumerate(zip(spot, gi_bin.tolist(), strict=True)):
        if kind in names:
            out[i] = f"{names[kind]} {conf[abs(b)]}"
        elif kind == SPOT_NS:
            out[i] = NOT_SIGNIFICANT
        else:
            out[i] = "未检验"
    return out


def _clusters(
    member: NDArray, positions: NDArray, graph: Graph | None, own: NDArray
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Connected components of the contiguity graph restricted to ``member`` grids, numbered by total."""
    n = len(member)
    cluster = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=float)
    if graph is None or not member.any():
        return cluster, size, total
    adjacency = graph.sparse.tocsr()  # over ``positions``
    keep = member[positions]
    sub = adjacency[keep][:, keep]
    k, labels = csgraph.connected_components(sub, directed=False)
    grids = positions[keep]
    totals = np.bincount(labels, weights=own[grids], minlength=k)
    sizes = np.bincount(labels, minlength=k)
    # number 1, 2, … by descending total, ties by size then first grid: stable and readable
    firsts = np.full(k, n)
    np.minimum.at(firsts, labels, grids)
    order = np.lexsort((firsts, -sizes, -totals))
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(1, k + 1)
    cluster[grids] = rank[labels]
    size[grids] = sizes[labels]
    total[grids] = totals[labels]
    return cluster, size, total


def _confidence(alpha: float) -> str:
    pct = (1.0 - alpha) * 100.0
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.1f}%"


def _check_levels(alpha_levels: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(sorted(float(a) for a in alpha_levels))
    if not 1 <= len(levels) <= 3 or len(set(levels)) != len(levels):
        raise HotspotInputError("alpha_levels must be one to three distinct significance levels")
    if not all(0.0 < a < 1.0 for a in levels):
        raise HotspotInputError("alpha_levels must lie strictly between 0 and 1")
    return levels


def _as_vector(values: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise HotspotInputError(f"{name} has {arr.size} values for {n} grids")
    return arr


# --------------------------------------------------------------------------- trends


def mann_kendall_trend(
    monthly_counts: ArrayLike,
    *,
    alpha: float = 0.05,
    fdr: bool = True,
    index: pd.Index | Sequence | None = None,
) -> pd.DataFrame:
    """Mann-Kendall trend test per grid over a [month, grid] array, all grids at once.

    Columns: ``S`` (the MK statistic: rising pairs minus falling pairs), ``var_s``
    (with the correction for tied months, which zero-heavy counts always have),
    ``z`` (continuity-corrected), ``p`` (two-sided normal), ``tau`` (S over the number
    of pairs), ``sen_slope`` (median pairwise slope, complaints per month: the size
    of the trend, which S does not give), and ``direction``: +1 getting worse, −1
    getting better, 0 no trend at ``alpha``.

    With ``fdr`` (default) the direction needs p under the Benjamini–Hochberg cut-off
    over all grids, for the same reason as the hot spots: at α = 0.05, ~15 of 309
    trendless grids would otherwise be flagged. The normal approximation wants about
    ten or more months; the test assumes months are independent, so a strong
    seasonal cycle over a short window can pass for a trend.
    """
    x = np.asarray(monthly_counts, dtype=float)
    if x.ndim != 2:
        raise HotspotInputError("monthly_counts must be a 2-D array [month, grid]")
    if not np.all(np.isfinite(x)):
        raise HotspotInputError("monthly_counts must be finite")
    if not 0.0 < alpha < 1.0:
        raise HotspotInputError("alpha must lie strictly between 0 and 1")
    t, g = x.shape
    i, j = np.triu_indices(t, k=1)  # all month pairs i < j
    diffs = x[j] - x[i]  # (pairs, grids)
    s = np.sign(diffs).sum(axis=0)
    # Σ over tie groups of t(t−1)(2t+5) = Σ over months of (c−1)(2c+5), c = size of its group.
    ties = (x[:, None, :] == x[None, :, :]).sum(axis=1)
    tie_term = ((ties - 1) * (2 * ties + 5)).sum(axis=0)
    var_s = (t * (t - 1) * (2 * t + 5) - tie_term) / 18.0
    sd = np.sqrt(var_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var_s > 0, (s - np.sign(s)) / sd, 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    n_pairs = len(i)
    tau = s / n_pairs if n_pairs else np.zeros(g)
    if n_pairs:
        sen = np.median(diffs / (j - i)[:, None].astype(float), axis=0)
    else:
        sen = np.zeros(g)
    cut = float(esda.fdr(p, alpha)) if (fdr and g) else alpha
    direction = np.where(p <= cut, np.sign(s), 0).astype(np.int8)
    out = pd.DataFrame(
        {
            "S": s.astype(np.int64),
            "var_s": var_s,
            "z": z,
            "p": p,
            "tau": tau,
            "sen_slope": sen,
            "direction": direction,
        },
        index=pd.RangeIndex(g) if index is None else pd.Index(index),
    )
    out.attrs.update({"alpha": alpha, "fdr": bool(fdr), "cutoff": cut, "months": t})
    return out


# --------------------------------------------------------------------------- Local Moran's I


def local_moran(
    grids: gpd.GeoDataFrame,
    values: ArrayLike,
    *,
    alpha: float = 0.05,
    fdr: bool = True,
    permutations: int = 999,
    seed: int = 0,
    snap_m: float = 0.0,
) -> pd.DataFrame:
    """Anselin's Local Moran's I per grid (esda ``Moran_Local``), classed HH/LL/HL/LH or ``ns``.

    ``values`` (counts or rates, NaN: not analysed) are aligned with ``grids``. Queen
    weights, row-standardised (the LISA convention). Columns: ``I``; ``z`` (the
    permutation z-score, esda's ``z_sim``); ``p`` (its two-sided normal p, which, unlike
    the pseudo p, has no floor of 1/(permutations + 1) that FDR over hundreds of grids
    could never pass, the same reason as for Gi*); ``quadrant`` (1 HH, 2 LH, 3 LL, 4 HL,
    0 not analysed) and ``lisa``: the quadrant's name where p is under the BH cut-off
    for ``alpha`` over the analysed grids (plain ``alpha`` without ``fdr``), else ``ns``.
    """
    n = len(grids)
    y = _as_vector(values, n, "values")
    usable = np.isfinite(y)
    out = pd.DataFrame(
        {"I": np.nan, "z": np.nan, "p": np.nan, "quadrant": np.zeros(n, dtype=np.int64), "lisa": LISA_NS},
        index=grids.index,
    )
    positions = np.flatnonzero(usable)
    if len(positions) < 3 or np.ptp(y[positions]) == 0:
        out.attrs.update({"alpha": alpha, "fdr": bool(fdr), "cutoff": np.nan})
        return out
    geoms = np.asarray(grids.geometry.values, dtype=object)[positions]
    graph = queen_neighbours(geoms, snap_m=snap_m)
    linked = graph.cardinalities.to_numpy() > 0
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.filterwarnings("ignore", category=UserWarning)  # islands: esda warns, they are dropped
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        lisa = esda.Moran_Local(
            y[positions], graph, transformation="r", permutations=permutations, seed=seed, n_jobs=1
        )
    z = np.asarray(lisa.z_sim, dtype=float)
    p = 2.0 * stats.norm.sf(np.abs(z))
    p[~linked] = np.nan
    tested = positions[linked]
    out.iloc[positions, out.columns.get_loc("I")] = np.asarray(lisa.Is, dtype=float)
    out.iloc[tested, out.columns.get_loc("z")] = z[linked]
    out.iloc[tested, out.columns.get_loc("p")] = p[linked]
    out.iloc[tested, out.columns.get_loc("quadrant")] = np.asarray(lisa.q, dtype=np.int64)[linked]
    cut = float(esda.fdr(p[linked], alpha)) if (fdr and linked.any()) else alpha
    significant = np.zeros(n, dtype=bool)
    significant[tested] = p[linked] <= cut
    quadrant = out["quadrant"].to_numpy()
    out["lisa"] = np.where(significant, [LISA_CLASSES.get(int(q), LISA_NS) for q in quadrant], LISA_NS)
    out.attrs.update({"alpha": alpha, "fdr": bool(fdr), "cutoff": cut})
    return out


# --------------------------------------------------------------------------- emerging hot spots


def space_time_gi_star(
    grids: gpd.GeoDataFrame, monthly_counts: ArrayLike, *, time_lag: int = 1, snap_m: float = 0.0
) -> NDArray[np.float64]:
    """Gi* z-scores for every [month, grid] bin of a space-time cube, shape as given.

    A bin's window is its grid and the grid's Queen neighbours in the same month and in
    each of the ``time_lag`` months before (ArcGIS's neighbourhood time step), binary
    weights; the mean and spread are the whole cube's, as in ArcGIS's space-time Gi*::

        z_i = (Σ_j w_ij x_j − x̄ W_i) / (S √((N W_i − W_i²) / (N − 1)))

    with W_i = Σ_j w_ij (= Σ_j w_ij² for binary weights), N bins, S the cube's standard
    deviation. A cube without variation gives NaN.
    """
    x = np.asarray(monthly_counts, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(grids):
        raise HotspotInputError("monthly_counts must be [month, grid] with one column per grid")
    if time_lag < 0:
        raise HotspotInputError("time_lag must be 0 or more")
    t, n = x.shape
    space = queen_neighbours(np.asarray(grids.geometry.values, dtype=object), snap_m=snap_m).sparse.tocsr()
    window = (space + sparse.identity(n, format="csr")).astype(float)
    lags = sparse.csr_matrix((t, t))
    for k in range(time_lag + 1):
        lags = lags + sparse.eye(t, t, k=-k, format="csr")  # month m sees months m, m−1, …, m−k
    w = sparse.kron(lags, window, format="csr")
    flat = x.reshape(-1)
    big_n = flat.size
    mean = flat.mean()
    sd = np.sqrt((flat**2).mean() - mean**2)
    wsum = np.asarray(w.sum(axis=1)).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (w @ flat - mean * wsum) / (sd * np.sqrt((big_n * wsum - wsum**2) / (big_n - 1)))
    if not np.isfinite(sd) or sd == 0:
        z[:] = np.nan
    return z.reshape(t, n)


def emerging_hotspots(
    grids: gpd.GeoDataFrame,
    monthly_counts: ArrayLike,
    *,
    alpha: float = 0.05,
    fdr: bool = True,
    time_lag: int = 1,
    trend_alpha: float = 0.05,
    snap_m: float = 0.0,
) -> pd.DataFrame:
    """ArcGIS-style Emerging Hot Spot Analysis over a [month, grid] cube, one row per grid.

    Gi* per bin (``space_time_gi_star``), significance at ``alpha`` with Benjamini–Hochberg
    over all bins (``fdr``), Mann-Kendall on each grid's z series (``trend_alpha``, not
    FDR-corrected, as ArcGIS), then ``EMERGING_CLASSES``. Columns: ``emerging`` (the class
    code), ``emerging_label``, ``hot_months``, ``cold_months``, ``final_z``, ``trend_z``,
    ``trend_p``, ``trend`` (+1/−1/0). ``attrs["z"]`` keeps the [month, grid] z-scores.
    """
    x = np.asarray(monthly_counts, dtype=float)
    z = space_time_gi_star(grids, x, time_lag=time_lag, snap_m=snap_m)
    t, n = z.shape
    p = 2.0 * stats.norm.sf(np.abs(z))
    finite = np.isfinite(p)
    cut = float(esda.fdr(p[finite], alpha)) if (fdr and finite.any()) else alpha
    sig = finite & (p <= cut)
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    if t >= 2 and finite.all():
        mk = mann_kendall_trend(z, alpha=trend_alpha, fdr=False)
        trend = mk["direction"].to_numpy()
        trend_z, trend_p = mk["z"].to_numpy(), mk["p"].to_numpy()
    else:
        trend = np.zeros(n, dtype=np.int8)
        trend_z = trend_p = np.full(n, np.nan)
    codes = [_emerging_class(hot[:, i], cold[:, i], int(trend[i])) for i in range(n)]
    out = pd.DataFrame(
        {
            "emerging": codes,
            "emerging_label": [EMERGING_LABELS[c] for c in codes],
            "hot_months": hot.sum(axis=0).astype(np.int64),
            "cold_months": cold.sum(axis=0).astype(np.int64),
            "final_z": z[-1] if t else np.full(n, np.nan),
            "trend_z": trend_z,
            "trend_p": trend_p,
            "trend": trend.astype(np.int8),
        },
        index=grids.index,
    )
    out.attrs.update(
        {"alpha": alpha, "fdr": bool(fdr), "cutoff": cut, "time_lag": time_lag, "months": t, "z": z}
    )
    return out


def _emerging_class(hot: NDArray, cold: NDArray, trend: int) -> str:
    """ESRI's class for one grid's series of significant hot/cold months (``EMERGING_CLASSES``)."""
    t = len(hot)
    if t == 0:
        return "no_pattern"
    for kind, same, other, rising in (("hot", hot, cold, 1), ("cold", cold, hot, -1)):
        share = same.sum() / t
        if not same[-1]:
            if share >= 0.9:
                return f"historical_{kind}"
            continue
        if share >= 0.9:
            if trend == rising:
                return f"intensifying_{kind}"
            if trend == -rising:
                return f"diminishing_{kind}"
            return f"persistent_{kind}"
        if same.sum() == 1:
            return f"new_{kind}"
        run = t - int(np.flatnonzero(~same)[-1]) - 1  # trailing run of significant months
        if run >= 2 and same[: t - run].sum() == 0:
            return f"consecutive_{kind}"
        if other.any():
            return f"oscillating_{kind}"
        return f"sporadic_{kind}"
    return "no_pattern"
