"""Gi* hot spots and Mann-Kendall trends on patterns whose answer is known in advance."""

from __future__ import annotations

import time

import esda
import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.aggregate import eb_rates_per_1000
from geo.hotspots import EMERGING_CLASSES
from geo.hotspots import EMERGING_LABELS
from geo.hotspots import NOT_SIGNIFICANT
from geo.hotspots import SPOT_HOT
from geo.hotspots import SPOT_HOT_NEARBY
from geo.hotspots import STATUS_ISLAND
from geo.hotspots import STATUS_NO_POPULATION
from geo.hotspots import STATUS_NO_VARIATION
from geo.hotspots import STATUS_TESTED
from geo.hotspots import HotspotInputError
from geo.hotspots import _emerging_class
from geo.hotspots import emerging_hotspots
from geo.hotspots import gi_star
from geo.hotspots import local_moran
from geo.hotspots import mann_kendall_trend
from geo.hotspots import queen_neighbours
from geo.hotspots import space_time_gi_star
from tests.shared_data import REPO_ROOT

N = 10
STEP = 0.005  # degrees, ~500 m: about one grid across


def lattice(n: int = N, shrink: float = 0.0) -> gpd.GeoDataFrame:
    """n × n square grids near Dali, row 0 south; shared edges bit-identical unless shrunk."""
    xs = 113.10 + np.arange(n + 1) * STEP
    ys = 23.10 + np.arange(n + 1) * STEP
    boxes = [
        shapely.box(xs[c] + shrink, ys[r] + shrink, xs[c + 1] - shrink, ys[r + 1] - shrink)
        for r in range(n)
        for c in range(n)
    ]
    return gpd.GeoDataFrame(
        {"row": np.repeat(np.arange(n), n), "col": np.tile(np.arange(n), n)}, geometry=boxes, crs=4326
    )


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return lattice()


def block_mask(g: gpd.GeoDataFrame, rows=(3, 5), cols=(3, 5)) -> np.ndarray:
    return (g.row.between(*rows) & g.col.between(*cols)).to_numpy()


def cell(g: gpd.GeoDataFrame, r: int, c: int) -> int:
    return int(np.flatnonzero((g.row == r).to_numpy() & (g.col == c).to_numpy())[0])


# --------------------------------------------------------------------------- known patterns


@pytest.mark.parametrize("seed", range(5))
def test_hot_block_is_a_99_percent_hot_spot_and_far_corners_are_not(grids, seed):
    rng = np.random.default_rng(seed)
    block = block_mask(grids)
    counts = np.where(block, rng.poisson(30, N * N), rng.poisson(2, N * N))
    result = gi_star(grids, counts, seed=seed)
    bins = result.gi_bin.to_numpy()
    # Every block grid is a significant hot spot. The centre and the edge middles have
    # 6–9 of the 9 grids in their window in the block: 99 %. A block corner has only 4
    # of 9, and with noise sometimes lands at 95 %: that is the statistic, not a bug.
    assert (bins[block] >= 2).all(), bins[block]
    majority = [cell(grids, r, c) for r, c in [(4, 4), (3, 4), (5, 4), (4, 3), (4, 5)]]
    assert (bins[majority] == 3).all()
    assert (result.label.to_numpy()[majority] == "热点 99%").all()
    for r, c in [(0, 0), (0, N - 1), (N - 1, 0), (N - 1, N - 1)]:
        assert bins[cell(grids, r, c)] == 0
        assert result.label.iloc[cell(grids, r, c)] == NOT_SIGNIFICANT
    assert (bins >= 0).all()  # a hot block makes nothing significantly cold


@pytest.mark.parametrize("seed", range(3))
def test_empty_block_in_a_busy_town_is_a_cold_spot(grids, seed):
    rng = np.random.default_rng(seed)
    block = block_mask(grids, rows=(5, 7), cols=(2, 4))
    counts = np.where(block, 0, rng.poisson(20, N * N))
    result = gi_star(grids, counts, seed=seed)
    bins = result.gi_bin.to_numpy()
    assert bins[cell(grids, 6, 3)] == -3
    assert result.label.iloc[cell(grids, 6, 3)] == "冷点 99%"
    assert (bins[block] <= 0).all() and (bins[block] < 0).sum() >= 7
    assert (bins <= 0).all()


def test_noise_gives_almost_no_spots_after_fdr_and_many_without(grids):
    """The false-positive control FDR exists for: 30 fields of pure Poisson noise."""
    with_fdr, without = [], []
    for seed in range(30):
        counts = np.random.default_rng(1000 + seed).poisson(2, N * N)
        with_fdr.append(int((gi_star(grids, counts, permutations=0).gi_bin != 0).sum()))
        without.append(int((gi_star(grids, counts, permutations=0, fdr=False).gi_bin != 0).sum()))
    # Under pure noise BH at 10 % flags anything in about one field in ten.
    assert max(with_fdr) <= 5
    assert sum(with_fdr) <= 15
    assert sum(1 for k in with_fdr if k) <= 6
    # Without it, about 10 % of the grids are "significant at 90 %" in every field.
    assert sum(without) >= 200


def test_noise_on_the_demo_grids_after_fdr():
    demo = gpd.read_file(REPO_ROOT / "data/shapes/dali-demo-grids.geojson")
    flagged = [
        int((gi_star(demo, np.random.default_rng(s).poisson(3, len(demo)), permutations=0).gi_bin != 0).sum())
        for s in range(10)
    ]
    assert sum(flagged) <= 10, flagged


# --------------------------------------------------------------------------- statistic and bins


def test_z_is_getis_ord_gi_star_with_binary_weights_and_self(grids):
    """esda's z equals the textbook Gi* (Ord & Getis 1995) with w_ii = 1, binary weights."""
    counts = np.random.default_rng(7).poisson(4, N * N).astype(float)
    counts[cell(grids, 2, 2)] += 25
    result = gi_star(grids, counts, permutations=0)
    w = (queen_neighbours(grids.geometry.values).sparse.toarray() > 0).astype(float)
    np.fill_diagonal(w, 1.0)
    n = len(counts)
    mean = counts.mean()
    s = np.sqrt((counts**2).mean() - mean**2)
    wsum = w.sum(axis=1)
    expected = (w @ counts - mean * wsum) / (s * np.sqrt((n * (w**2).sum(axis=1) - wsum**2) / (n - 1)))
    np.testing.assert_allclose(result.z.to_numpy(), expected, rtol=1e-9)
    assert result.neighbours.iloc[cell(grids, 0, 0)] == 3  # corner: queen
    assert result.neighbours.iloc[cell(grids, 4, 4)] == 8


@pytest.mark.parametrize("fdr", [True, False])
def test_bins_and_labels_follow_p_cutoffs_and_sign(grids, fdr):
    rng = np.random.default_rng(3)
    counts = np.where(block_mask(grids), rng.poisson(12, N * N), rng.poisson(3, N * N))
    counts = np.where(block_mask(grids, rows=(7, 9), cols=(6, 9)), 0, counts)
    result = gi_star(grids, counts, fdr=fdr)
    cut = result.attrs["cutoffs"]
    if not fdr:
        assert cut == {0.01: 0.01, 0.05: 0.05, 0.1: 0.1}
    else:
        assert cut[0.01] <= cut[0.05] <= cut[0.1] <= 0.1
    p, z, bins = result.p.to_numpy(), result.z.to_numpy(), result.gi_bin.to_numpy()
    level = np.select([p <= cut[0.01], p <= cut[0.05], p <= cut[0.1]], [3, 2, 1], 0)
    np.testing.assert_array_equal(bins, np.sign(z) * level)
    names = {3: "热点 99%", 2: "热点 95%", 1: "热点 90%", 0: "不显著"}
    names |= {-b: text.replace("热点", "冷点") for b, text in names.items() if b}
    assert result.label.tolist() == [names[b] for b in bins]
    assert {3, -3} <= set(bins.tolist())  # the pattern exercises both ends
    np.testing.assert_array_equal(result.p, result.p_norm)  # normal p decides by default


def test_fdr_never_adds_significance(grids):
    counts = np.random.default_rng(11).poisson(3, N * N)
    counts[block_mask(grids)] += 6
    corrected = gi_star(grids, counts).gi_bin.abs().to_numpy()
    raw = gi_star(grids, counts, fdr=False).gi_bin.abs().to_numpy()
    assert (corrected <= raw).all() and corrected.sum() < raw.sum()


def test_permutation_p_values_are_seeded_and_floored(grids):
    rng = np.random.default_rng(5)
    counts = np.where(block_mask(grids), rng.poisson(30, N * N), rng.poisson(2, N * N))
    a = gi_star(grids, counts, seed=1)
    b = gi_star(grids, counts, seed=1)
    c = gi_star(grids, counts, seed=2)
    np.testing.assert_array_equal(a.p_sim, b.p_sim)
    assert not np.array_equal(a.p_sim, c.p_sim)
    np.testing.assert_array_equal(a.gi_bin, c.gi_bin)  # normal p: the seed cannot move a bin
    assert a.p_sim.min() >= 2 / 1000  # two-sided floor with 999 permutations
    centre = cell(grids, 4, 4)
    assert a.p_sim.iloc[centre] == pytest.approx(2 / 1000) and a.z_sim.iloc[centre] > 3
    # Binning on the pseudo p: the centre is hot, but BH at 1 % over 100 grids needs
    # p ≤ 0.01·k/100, which the floor of 0.002 reaches only with k ≥ 20 grids.
    perm = gi_star(grids, counts, seed=1, p_value="permutation")
    assert perm.gi_bin.iloc[centre] in (1, 2)
    assert perm.gi_bin.max() < 3


def test_no_permutations_leaves_simulated_columns_empty(grids):
    counts = np.random.default_rng(2).poisson(3, N * N)
    result = gi_star(grids, counts, permutations=0)
    assert result.p_sim.isna().all() and result.z_sim.isna().all()
    np.testing.assert_array_equal(result.gi_bin, gi_star(grids, counts).gi_bin)
    with pytest.raises(HotspotInputError):
        gi_star(grids, counts, permutations=0, p_value="permutation")


# --------------------------------------------------------------------------- islands, rates, edge cases


def test_island_is_not_tested_and_not_in_the_fdr_family(grids):
    far = shapely.box(113.30, 23.30, 113.30 + STEP, 23.30 + STEP)
    with_island = gpd.GeoDataFrame(
        {"row": [*grids.row, -1], "col": [*grids.col, -1]},
        geometry=[*grids.geometry, far],
        crs=4326,
    )
    rng = np.random.default_rng(0)
    # An ordinary value: the island is untested, but its value is still one of the town's
    # and so enters the mean and variance every other grid is measured against.
    counts = np.append(np.where(block_mask(grids), rng.poisson(30, N * N), rng.poisson(2, N * N)), 3)
    result = gi_star(with_island, counts)
    island = result.iloc[-1]
    assert island.status == STATUS_ISLAND and island.neighbours == 0
    assert island.gi_bin == 0 and np.isnan(island.z) and np.isnan(island.p)
    assert island.label == "未检验：无相邻网格"
    assert result.attrs["n_islands"] == 1 and result.attrs["n_tested"] == N * N
    assert (result.status.iloc[:-1] == STATUS_TESTED).all()
    assert result.gi_bin.iloc[cell(grids, 4, 4)] == 3


def test_snap_joins_neighbours_that_do_not_share_vertices():
    gapped = lattice(shrink=1e-7)  # ~1 cm gaps: no vertex or edge in common
    counts = np.random.default_rng(0).poisson(3, N * N)
    exact = gi_star(gapped, counts, permutations=0)
    assert (exact.status == STATUS_ISLAND).all() and (exact.gi_bin == 0).all()
    snapped = gi_star(gapped, counts, permutations=0, snap_m=0.5)
    assert (snapped.status == STATUS_TESTED).all()
    np.testing.assert_array_equal(snapped.neighbours, gi_star(lattice(), counts, permutations=0).neighbours)


def test_rates_find_what_counts_hide_and_vice_versa(grids):
    """Dense block, same rate everywhere: counts see a hot spot, rates see none."""
    rng = np.random.default_rng(4)
    block = block_mask(grids)
    population = np.where(block, 8000, 800)
    counts = rng.poisson(population * 5 / 1000)
    by_count = gi_star(grids, counts, population=population, value="count")
    by_rate = gi_star(grids, counts, population=population)  # auto: rate
    assert by_rate.attrs["value"] == "rate" and by_count.attrs["value"] == "count"
    np.testing.assert_allclose(by_rate.value, counts * 1000 / population)
    assert (by_count.gi_bin.to_numpy()[block] > 0).all()
    assert (by_rate.gi_bin == 0).all()
    # and the reverse: a block where few residents complain a lot
    counts = rng.poisson(np.where(block, 60, 4) * 800 / 1000)
    hot = gi_star(grids, counts, population=np.full(N * N, 800))
    assert hot.gi_bin.iloc[cell(grids, 4, 4)] == 3


def test_grids_without_population_are_left_out_of_a_rate_analysis(grids):
    g = grids.assign(population=np.where(grids.col == 0, 0, 1000))
    counts = np.random.default_rng(1).poisson(3, N * N)
    result = gi_star(g, counts, population="population")
    west = (g.col == 0).to_numpy()
    assert (result.status.to_numpy()[west] == STATUS_NO_POPULATION).all()
    assert result.value.to_numpy()[west].tolist() == [pytest.approx(np.nan, nan_ok=True)] * N
    assert (result.label.to_numpy()[west] == "未检验：无人口数据").all()
    assert result.neighbours.iloc[cell(g, 4, 1)] == 5  # its western neighbours are gone
    assert result.attrs["n_tested"] == N * N - N


def test_all_zero_and_constant_counts_test_nothing(grids):
    for counts in (np.zeros(N * N), np.full(N * N, 4)):
        result = gi_star(grids, counts)
        assert (result.status == STATUS_NO_VARIATION).all()
        assert (result.gi_bin == 0).all() and result.z.isna().all()


def test_bad_input_is_refused(grids):
    with pytest.raises(HotspotInputError):
        gi_star(grids, np.ones(N * N - 1))
    with pytest.raises(HotspotInputError):
        gi_star(grids, -np.ones(N * N))
    with pytest.raises(HotspotInputError):
        gi_star(grids, np.ones(N * N), value="rate")
    with pytest.raises(HotspotInputError):
        gi_star(grids, np.ones(N * N), alpha_levels=(0.01, 1.5))


def test_two_levels_give_bins_up_to_two(grids):
    rng = np.random.default_rng(0)
    counts = np.where(block_mask(grids), rng.poisson(30, N * N), rng.poisson(2, N * N))
    result = gi_star(grids, counts, alpha_levels=(0.05, 0.01))
    assert result.gi_bin.max() == 2 and result.label.iloc[cell(grids, 4, 4)] == "热点 99%"


def test_runtime_on_the_309_demo_grids_is_fit_for_a_web_request():
    demo = gpd.read_file(REPO_ROOT / "data/shapes/dali-demo-grids.geojson")
    counts = np.random.default_rng(0).poisson(5, len(demo))
    start = time.perf_counter()
    gi_star(demo, counts, population="population", permutations=999)  # cold: builds the graph
    cold = time.perf_counter() - start
    start = time.perf_counter()
    result = gi_star(demo, counts, population="population", permutations=999, seed=1)
    warm = time.perf_counter() - start
    assert len(result) == 309 and result.attrs["n_islands"] == 0
    assert cold < 2.0 and warm < 1.0, (cold, warm)


# --------------------------------------------------------------------------- Mann-Kendall


def brute_force_mk(x: np.ndarray) -> tuple[int, float]:
    t = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(t) for j in range(i + 1, t))
    _, ties = np.unique(x, return_counts=True)
    var = (t * (t - 1) * (2 * t + 5) - sum(k * (k - 1) * (2 * k + 5) for k in ties)) / 18
    return int(s), float(var)


def test_trend_detects_rising_and_falling_grids_and_not_flat_ones():
    rng = np.random.default_rng(0)
    months = np.arange(24)
    flat = rng.poisson(5, (24, 60))
    rising = rng.poisson((2 + 0.5 * months)[:, None], (24, 5))
    falling = rng.poisson((14 - 0.5 * months)[:, None], (24, 5))
    result = mann_kendall_trend(np.hstack([flat, rising, falling]))
    assert (result.direction.iloc[60:65] == 1).all()
    assert (result.direction.iloc[65:70] == -1).all()
    assert (result.direction.iloc[:60] != 0).sum() <= 2
    assert (result.sen_slope.iloc[60:65] > 0.2).all() and (result.sen_slope.iloc[65:70] < -0.2).all()


def test_trend_statistics_match_the_definition_with_ties():
    rng = np.random.default_rng(1)
    x = rng.poisson(1.5, (15, 8)).astype(float)  # many ties
    x[:, 0] = 0.0  # all tied: no information
    result = mann_kendall_trend(x)
    for g in range(8):
        s, var = brute_force_mk(x[:, g])
        assert result.S.iloc[g] == s
        assert result.var_s.iloc[g] == pytest.approx(var)
    assert result.p.iloc[0] == 1.0 and result.direction.iloc[0] == 0
    line = mann_kendall_trend(np.arange(12.0)[:, None] * 2.5 + 1)
    assert line.sen_slope.iloc[0] == pytest.approx(2.5) and line.tau.iloc[0] == 1.0
    assert line.S.iloc[0] == 66 and line.direction.iloc[0] == 1


def test_trend_fdr_is_optional_and_index_is_kept():
    rng = np.random.default_rng(2)
    x = rng.poisson(5, (18, 300))
    raw = mann_kendall_trend(x, fdr=False, index=[f"g{i}" for i in range(300)])
    corrected = mann_kendall_trend(x)
    assert raw.index[0] == "g0"
    assert (raw.direction != 0).sum() > (corrected.direction != 0).sum()
    with pytest.raises(HotspotInputError):
        mann_kendall_trend(np.ones(5))


# --------------------------------------------------------------------------- presented as hot, clusters


def test_zero_count_neighbours_of_one_hot_grid_are_not_presented_as_hot_on_their_own():
    g = lattice(12)
    counts = np.random.default_rng(0).poisson(1, 144).astype(float)
    centre = cell(g, 5, 5)
    ring = [cell(g, r, c) for r in (4, 5, 6) for c in (4, 5, 6) if (r, c) != (5, 5)]
    counts[ring] = 0
    counts[centre] = 60
    result = gi_star(g, counts, permutations=0)
    # the statistic puts the empty ring in a hot bin: its window holds the busy centre
    assert result.gi_bin.iloc[ring].min() > 0
    assert result.spot.iat[centre] == SPOT_HOT and result.spot_label.iat[centre].startswith("热点")
    assert (result.spot.iloc[ring] == SPOT_HOT_NEARBY).all()
    assert all(label.startswith("邻近热点") for label in result.spot_label.iloc[ring])
    assert (result.own.iloc[ring] == 0).all() and result.own.iat[centre] == 60
    # one cluster: the centre and its ring, with the centre's complaints as total
    assert set(result.cluster.iloc[[centre, *ring]]) == {1}
    assert result.cluster_size.iat[centre] == 9 and result.cluster_total.iat[centre] == 60
    assert not (result.spot == SPOT_HOT).to_numpy()[ring].any()


def test_a_grid_below_the_minimum_own_count_or_the_mean_is_not_hot_on_its_own(grids):
    counts = np.zeros(N * N)
    counts[block_mask(grids)] = 30
    one = cell(grids, 4, 4)
    counts[one] = 4  # above the town's mean (2.44), below a minimum of 5
    assert counts.mean() < 4
    assert gi_star(grids, counts, permutations=0).spot.iat[one] == SPOT_HOT
    strict = gi_star(grids, counts, permutations=0, min_own=5)
    assert strict.gi_bin.iat[one] == 3 and strict.spot.iat[one] == SPOT_HOT_NEARBY
    counts[one] = 2  # below the mean: next to hot grids whatever the minimum
    assert gi_star(grids, counts, permutations=0).spot.iat[one] == SPOT_HOT_NEARBY


def test_two_separate_hot_blocks_are_two_clusters_numbered_by_total(grids):
    counts = np.random.default_rng(4).poisson(2, N * N).astype(float)
    first = block_mask(grids, rows=(0, 2), cols=(0, 2))
    second = block_mask(grids, rows=(6, 8), cols=(6, 8))
    counts[first] = 25
    counts[second] = 40
    result = gi_star(grids, counts, permutations=0)
    hot = result.gi_bin.to_numpy() > 0
    assert result.attrs["n_clusters"] == 2
    assert (first & hot).sum() >= 5 and (second & hot).sum() >= 5
    assert set(result.cluster[second & hot]) == {1} and set(result.cluster[first & hot]) == {
        2
    }  # bigger total first
    assert (result.cluster[~hot] == 0).all() and (result.cluster[hot] > 0).all()
    for k in (1, 2):
        members = result.cluster.to_numpy() == k
        assert (result.cluster_size[members] == members.sum()).all()
        assert result.cluster_total[members].iat[0] == pytest.approx(counts[members].sum())
        # a cluster is connected and touches no other cluster
    assert not (
        queen_neighbours(grids.geometry.values)
        .sparse.toarray()[result.cluster == 1][:, result.cluster == 2]
        .any()
    )


# --------------------------------------------------------------------------- empirical Bayes


def test_eb_smoothing_pulls_a_small_populations_extreme_rate_to_the_mean():
    counts = np.array([2.0, 10.0, 20.0, 30.0])
    population = np.array([10.0, 1000.0, 1000.0, 1000.0])
    eb = eb_rates_per_1000(counts, population)
    # by hand: b = 62/3010 = 0.020598; s² = Σ p(r − b)²/Σ p = 0.52293/3010 = 1.7373e-4;
    # a = s² − b/752.5 = 1.4636e-4; w₀ = a/(a + b/10) = 0.06634;
    # EB₀ = 0.06634 · 0.2 + 0.93366 · 0.020598 = 0.03250 → 32.5 ‰ (raw 200 ‰)
    assert eb[0] == pytest.approx(32.50, abs=0.01)
    raw = counts * 1000 / population
    assert abs(eb[0] - 20.598) < abs(raw[0] - 20.598) / 10  # pulled most of the way
    # large populations barely move (w ≈ 0.84)
    assert np.all(np.abs(eb[1:] - raw[1:]) < np.abs(raw[1:] - 20.598))
    expected = esda.smoothing.Empirical_Bayes(counts, population).r.reshape(-1) * 1000
    np.testing.assert_allclose(eb, expected)
    assert np.isnan(eb_rates_per_1000([1.0, 2.0], [np.nan, 0.0])).all()


def test_rate_gi_star_can_run_on_smoothed_rates(grids):
    counts = np.random.default_rng(2).poisson(4, N * N).astype(float)
    counts[block_mask(grids)] += 20
    population = np.full(N * N, 2000.0)
    population[cell(grids, 9, 9)] = 20  # a handful of residents, one complaint: a huge raw rate
    counts[cell(grids, 9, 9)] = 3
    raw = gi_star(grids, counts, population=population, permutations=0)
    smooth = gi_star(grids, counts, population=population, permutations=0, smooth=True)
    assert smooth.attrs["smoothed"] and not raw.attrs["smoothed"]
    assert smooth.value.iat[cell(grids, 9, 9)] < raw.value.iat[cell(grids, 9, 9)] / 5
    assert (smooth.gi_bin[block_mask(grids)] > 0).all()


# --------------------------------------------------------------------------- Local Moran


def test_local_moran_finds_the_hh_block_and_its_low_neighbours(grids):
    counts = np.random.default_rng(5).poisson(3, N * N).astype(float)
    counts[block_mask(grids)] = 30
    result = local_moran(grids, counts, permutations=999, seed=1)
    assert result.lisa.iat[cell(grids, 4, 4)] == "HH"
    assert (result.lisa[block_mask(grids)] == "HH").sum() >= 7
    assert not (result.lisa[~block_mask(grids)] == "HH").any()
    low = cell(grids, 4, 2)  # a quiet grid beside the block: low among highs if significant
    assert result.lisa.iat[low] in ("LH", "ns")
    assert result.quadrant.iat[low] == 2
    far = cell(grids, 9, 9)
    assert result.lisa.iat[far] in ("LL", "ns")


def test_local_moran_on_noise_is_almost_all_not_significant(grids):
    counts = np.random.default_rng(6).poisson(5, N * N).astype(float)
    result = local_moran(grids, counts, permutations=199)
    assert (result.lisa != "ns").sum() <= 2


# --------------------------------------------------------------------------- emerging hot spots

MONTHS = 12


def cube(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(3, (MONTHS, N * N)).astype(float)


PATTERNS = {
    # a 3 × 3 block (rows and columns 3–5) over a Poisson(3) town, per month
    "new_hot": lambda m: np.where(np.arange(MONTHS) == MONTHS - 1, 40.0, np.nan)[
        m
    ],  # hot in the last month only
    "intensifying_hot": lambda m: np.linspace(20, 60, MONTHS)[m],  # hot throughout, rising
    "persistent_hot": lambda m: 35.0,  # hot throughout, flat
    "diminishing_hot": lambda m: np.linspace(60, 20, MONTHS)[m],  # hot throughout, fading
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("expected", list(PATTERNS))
def test_emerging_classes_on_constructed_space_time_patterns(grids, expected, seed):
    x = cube(seed)
    block = block_mask(grids)
    for m in range(MONTHS):
        value = PATTERNS[expected](m)
        if np.isfinite(value):
            x[m, block] = value
    result = emerging_hotspots(grids, x)
    centre = cell(grids, 4, 4)
    assert result.emerging.iat[centre] == expected
    assert (result.emerging[block] == expected).sum() >= 5  # the block's corners see less of it
    assert result.emerging_label.iat[centre] == EMERGING_LABELS[expected]
    far = [cell(grids, r, c) for r in (0, 9) for c in (0, 9)]
    assert (result.emerging.iloc[far] == "no_pattern").all()
    assert result.attrs["z"].shape == (MONTHS, N * N)
    if expected == "new_hot":
        assert result.hot_months.iat[centre] == 1
    else:
        assert result.hot_months.iat[centre] == MONTHS


def test_emerging_classes_from_series_follow_esri_definitions():
    t, f = True, False
    h = np.array
    assert _emerging_class(h([f] * 11 + [t]), h([f] * 12), 0) == "new_hot"
    assert _emerging_class(h([f] * 9 + [t] * 3), h([f] * 12), 1) == "consecutive_hot"
    assert _emerging_class(h([f, t, f, t, f, f, t, f, f, f, t, t]), h([f] * 12), 0) == "sporadic_hot"
    assert _emerging_class(h([f, t, f, t, f, f, t, f, f, f, t, t]), h([t] + [f] * 11), 0) == "oscillating_hot"
    assert _emerging_class(h([t] * 11 + [f]), h([f] * 12), 0) == "historical_hot"
    assert _emerging_class(h([t] * 12), h([f] * 12), 1) == "intensifying_hot"
    assert _emerging_class(h([t] * 12), h([f] * 12), -1) == "diminishing_hot"
    assert _emerging_class(h([t] * 12), h([f] * 12), 0) == "persistent_hot"
    assert _emerging_class(h([f] * 12), h([t] * 12), -1) == "intensifying_cold"
    assert _emerging_class(h([f] * 12), h([f] * 11 + [t]), 0) == "new_cold"
    assert _emerging_class(h([t] + [f] * 11), h([f] * 12), 0) == "no_pattern"
    assert set(EMERGING_LABELS) == set(EMERGING_CLASSES)


def test_space_time_gi_star_matches_the_formula_by_brute_force(grids):
    x = cube(3)
    x[4:, block_mask(grids)] += 10
    z = space_time_gi_star(grids, x, time_lag=1)
    adjacency = queen_neighbours(grids.geometry.values).sparse.toarray() + np.eye(N * N)
    flat, n_bins = x.reshape(-1), x.size
    mean, sd = flat.mean(), flat.std()
    for m, i in ((0, cell(grids, 4, 4)), (5, cell(grids, 0, 0)), (11, cell(grids, 3, 6))):
        window = adjacency[i] > 0
        months = [m] if m == 0 else [m, m - 1]
        total = sum(x[k, window].sum() for k in months)
        w = window.sum() * len(months)
        expected = (total - mean * w) / (sd * np.sqrt((n_bins * w - w**2) / (n_bins - 1)))
        assert z[m, i] == pytest.approx(expected)
