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
from scipy import stats

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
    - ``status``: ``tested``, ``island``, ``no_population`` or ``no_variation``.

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
    out.attrs.update(
        {
            "value": value,
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
