"""Counts, rates, months, H3 cells and map classes: sums that must add up, edges that must hold."""

from __future__ import annotations

import time
import warnings

import h3
import mapclassify
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.aggregate import NO_DATA
from geo.aggregate import AggregateInputError
from geo.aggregate import classify
from geo.aggregate import counts_by_grid
from geo.aggregate import fisher_jenks_breaks
from geo.aggregate import h3_counts
from geo.aggregate import month_labels
from geo.aggregate import monthly_counts
from geo.aggregate import rates_per_1000
from geo.crs import MetricFrame

DALI = (113.10, 23.05, 113.20, 23.15)  # lon/lat box around the town


def dali_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(DALI[0], DALI[2], n), rng.uniform(DALI[1], DALI[3], n)


# --------------------------------------------------------------------------- counts and rates


def test_counts_by_grid_skips_complaints_in_no_grid():
    counts = counts_by_grid(np.array([0, 2, 2, -1, 4, 2, -1]), 6)
    assert counts.tolist() == [1, 0, 3, 0, 1, 0]
    assert counts_by_grid(np.array([], dtype=np.int32), 3).tolist() == [0, 0, 0]
    for bad in (np.array([0, 6]), np.array([-2]), np.array([0.5])):
        with pytest.raises(AggregateInputError):
            counts_by_grid(bad, 6)


def test_rates_per_1000_leave_grids_without_residents_undefined():
    rates = rates_per_1000([5, 0, 3, 7], [2500, 1000, 0, np.nan])
    assert rates[:2].tolist() == [2.0, 0.0]
    assert np.isnan(rates[2:]).all()
    with pytest.raises(AggregateInputError):
        rates_per_1000([1, 2], [1000])


# --------------------------------------------------------------------------- months


def test_monthly_counts_bin_by_china_month_and_drop_the_rest():
    times = pd.to_datetime(
        [
            "2025-01-05 10:00",
            "2025-01-31 23:30",
            "2025-02-01 00:10",
            "2025-03-15 12:00",
            "2024-12-31 23:59",  # before the range
            "2025-04-01 00:00",  # after it
            "2025-02-10 09:00",  # in no grid
        ]
    )
    positions = np.array([0, 1, 1, 2, 0, 0, -1])
    table = monthly_counts(times, positions, 3, "2025-01-01", "2025-03-31")
    assert table.shape == (3, 3)
    assert table.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert month_labels("2025-01-01", "2025-03-31") == ["2025-01", "2025-02", "2025-03"]
    assert table.sum() == 4


def test_monthly_counts_use_china_time_for_aware_timestamps():
    # 16:30 UTC on 31 January is 00:30 on 1 February in Foshan.
    aware = pd.DatetimeIndex(["2025-01-31 16:30"], tz="UTC")
    table = monthly_counts(aware, [0], 1, "2025-01", "2025-02")
    assert table[:, 0].tolist() == [0, 1]
    with pytest.raises(AggregateInputError):
        monthly_counts(aware, [0], 1, "2025-03", "2025-02")


def test_monthly_counts_feed_the_trend_test():
    from geo.hotspots import mann_kendall_trend

    rng = np.random.default_rng(0)
    n = 4000
    day = rng.integers(0, 730, n)
    # grid 1 gets ever more complaints: its share of the days grows through the two years
    grid = np.where(rng.random(n) < day / 730 * 0.6, 1, rng.integers(0, 3, n))
    times = np.datetime64("2024-01-01") + day.astype("timedelta64[D]")
    table = monthly_counts(times, grid, 3, "2024-01", "2025-12")
    assert table.shape == (24, 3) and table.sum() == n
    trend = mann_kendall_trend(table)
    assert trend.direction.tolist()[1] == 1


# --------------------------------------------------------------------------- H3


def test_h3_counts_sum_to_the_points_and_cells_hold_their_points():
    lon, lat = dali_points(3000)
    lon = np.append(lon, [np.nan, 200.0])
    lat = np.append(lat, [23.1, 23.1])
    cells = h3_counts(lon, lat, res=9)
    assert cells["count"].sum() == 3000 and cells.attrs["dropped"] == 2
    assert cells.crs.to_epsg() == 4326 and cells.hex_id.is_unique
    assert cells["count"].is_monotonic_decreasing
    assert all(h3.get_resolution(h) == 9 for h in cells.hex_id)
    # Each point lies in the polygon of its own cell: lon/lat not swapped anywhere.
    own = np.array([h3.latlng_to_cell(y, x, 9) for x, y in zip(lon[:200], lat[:200], strict=True)])
    polygons = cells.set_index("hex_id").geometry
    assert shapely.contains_xy(polygons.loc[own].values, lon[:200], lat[:200]).all()


def test_h3_res9_cells_are_about_a_tenth_of_a_square_kilometre():
    lon, lat = dali_points(500, seed=1)
    cells = h3_counts(lon, lat, res=9)
    areas = np.array([h3.cell_area(h, unit="km^2") for h in cells.hex_id])
    assert np.all((areas > 0.095) & (areas < 0.115)), areas.min()
    assert h3.average_hexagon_area(9, unit="km^2") == pytest.approx(0.105, abs=0.001)
    frame = MetricFrame.for_lonlat(113.15, 23.1)
    measured = shapely.area(frame.project(np.asarray(cells.geometry.values))) / 1e6
    np.testing.assert_allclose(measured, areas, rtol=0.01)  # the polygons are the cells


def test_h3_counts_of_nothing_and_of_duplicates():
    empty = h3_counts([], [], res=9)
    assert len(empty) == 0 and list(empty.columns) == ["hex_id", "count", "geometry"]
    same = h3_counts([113.15] * 7, [23.1] * 7, res=8)
    assert same["count"].tolist() == [7]
    with pytest.raises(AggregateInputError):
        h3_counts([113.15], [23.1], res=16)


def test_h3_counts_of_50000_points_are_quick():
    lon, lat = dali_points(50_000, seed=2)
    start = time.perf_counter()
    cells = h3_counts(lon, lat, res=9)
    elapsed = time.perf_counter() - start
    assert cells["count"].sum() == 50_000
    assert elapsed < 1.0, elapsed


# --------------------------------------------------------------------------- classes


@pytest.mark.parametrize("scheme", ["fisher_jenks", "natural_breaks", "quantiles", "equal_interval"])
def test_classify_puts_every_value_in_a_class_whose_bounds_hold_it(scheme):
    values = np.random.default_rng(0).negative_binomial(2, 0.15, 309).astype(float)
    result = classify(values, scheme, k=5)
    assert result.k == 5 and len(result.labels) == 5 and result.counts.sum() == 309
    lows = np.concatenate([[-np.inf], result.bins[:-1]])
    assert np.all(values > lows[result.classes]) and np.all(values <= result.bins[result.classes])
    assert result.bins[-1] == values.max()
    assert result.labels[0].startswith(f"{values.min():.0f}")


@pytest.mark.parametrize("scheme", ["fisher_jenks", "natural_breaks", "quantiles", "equal_interval"])
@pytest.mark.parametrize(
    "values",
    [np.zeros(309), np.full(20, 3.0), np.array([0, 0, 0, 1, 1, 2.0]), np.array([7.0])],
    ids=["all-zero", "constant", "three-values", "one-value"],
)
def test_classify_few_distinct_values_gives_one_class_per_value(scheme, values):
    result = classify(values, scheme, k=5)
    distinct = np.unique(values)
    assert result.k == len(distinct)
    np.testing.assert_array_equal(result.bins, distinct)
    assert result.labels == [f"{v:.0f}" for v in distinct]
    np.testing.assert_array_equal(result.bins[result.classes], values)


def test_classify_handles_nan_empty_and_ties():
    result = classify([np.nan, 1, 2, 3, 4, 5, 6, 8.5], "equal_interval", k=3)
    assert result.classes[0] == NO_DATA and result.counts.sum() == 7
    assert result.labels == ["1–3.5", "3.5–6", "6–8.5"]
    empty = classify([], "quantiles")
    assert empty.k == 0 and empty.labels == []
    # 90 zeros: every quantile below the 90th is 0, so only two quantile classes exist
    ties = classify(np.array([0] * 90 + list(range(1, 11)), dtype=float), "quantiles", k=5)
    assert ties.k == 2 and ties.labels == ["0", "1–10"] and ties.counts.tolist() == [90, 10]
    with pytest.raises(AggregateInputError):
        classify([1, 2, 3], "jenks")


def test_integer_legends_read_as_whole_ranges():
    values = np.array([0, 1, 2, 3, 10, 11, 12, 30, 31, 60, 61, 100], dtype=float)
    result = classify(values, "fisher_jenks", k=4)
    assert result.labels[0].startswith("0–")
    for label, lo in zip(result.labels[1:], result.bins[:-1], strict=True):
        assert label.startswith(f"{lo + 1:.0f}")


@pytest.mark.parametrize("seed", range(4))
def test_fisher_jenks_matches_mapclassify(seed):
    rng = np.random.default_rng(seed)
    values = rng.negative_binomial(2, 0.2, 200).astype(float) if seed % 2 else rng.lognormal(1, 1, 150)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        reference = mapclassify.FisherJenks(values, k=5)

    def within_ss(bins: np.ndarray) -> float:
        cls = np.searchsorted(bins, values)
        return sum(((values[cls == c] - values[cls == c].mean()) ** 2).sum() for c in np.unique(cls))

    ours = fisher_jenks_breaks(values, 5)
    # mapclassify accumulates in float32; equal optimum, possibly another tie-break
    assert within_ss(ours) <= within_ss(np.asarray(reference.bins)) * (1 + 1e-6)
    assert within_ss(ours) < within_ss(classify(values, "quantiles", 5).bins)


def test_classify_is_deterministic():
    values = np.random.default_rng(9).lognormal(1, 1, 400)
    runs = {tuple(classify(values, "natural_breaks").bins) for _ in range(3)}
    assert len(runs) == 1
