"""The planner's page (研判): layer builders, aggregation, popups, exports, filters, access, caching.

The answers are computed independently where possible: cells and months with pandas,
classes with mapclassify, hot spots with ``geo.hotspots.gi_star`` on a pattern with a
known hot block, and the page's numbers against the store's own counts.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import re
import sqlite3
import warnings

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import aggregate as geo_aggregate
from geo.aggregate import classify
from geo.heat import M_PER_DEG
from geo.heat import monthly_heat
from geo.heat import weighted_points
from geo.hotspots import EMERGING_CLASSES
from geo.hotspots import gi_star
from geo.lookup import GridIndex
from services import planner
from services.grids import GridSet
from store.base import VersionInfo
from tests.apps import Db
from tests.apps import create_user
from webmap import maps
from webmap.i18n import translate
from webmap.maps import choropleth
from webmap.maps import heatmap
from webmap.maps import hotspots
from webmap.maps import planner_map
from webmap.maps.popups import sparkline_svg

CHINA = datetime.timezone(datetime.timedelta(hours=8))
STEP = 0.005  # degrees, ~500 m


def tr(key: str, **values) -> str:
    """Chinese page text without a request (what ``webmap.i18n.t`` gives for lang=zh)."""
    return translate(key, "zh", **values)


def lattice_set(n: int = 9, *, names: dict[int, str] | None = None, population: float = 2000.0) -> GridSet:
    """n × n square grids near Dali (row 0 south) as a GridSet, codes in row-major order."""
    xs = 113.10 + np.arange(n + 1) * STEP
    ys = 23.10 + np.arange(n + 1) * STEP
    geoms = [shapely.box(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(n) for c in range(n)]
    codes = [f"440605125001{k:03d}" for k in range(n * n)]
    index = GridIndex(codes, geoms)
    grids = pd.DataFrame(
        {
            "code": codes,
            "name": [(names or {}).get(k, f"第{k:03d}网格") for k in range(n * n)],
            "community_code": "440605125001",
            "area_m2": 250_000.0,
            "population": population,
            "households": 800,
        }
    )
    version = VersionInfo(
        1,
        "test",
        "440605125",
        datetime.datetime.now(datetime.UTC),
        None,
        None,
        None,
        None,
        n * n,
        None,
        None,
        None,
        True,
        None,
    )
    communities = {"440605125001": {"name": "测试社区居委会", "short_name": "测试社区"}}
    return GridSet(version, index, grids, communities, {"code": "440605125", "name": "大沥镇"})


def cell_of(n: int, r: int, c: int) -> int:
    return r * n + c


def complaints_in(
    grid_set: GridSet, per_grid: np.ndarray, *, seed: int = 0, start: str = "2025-01-01", months: int = 12
) -> pd.DataFrame:
    """``per_grid[i]`` complaints spread inside grid i, at random times over ``months``."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp(start, tz=CHINA)
    span = (t0 + pd.DateOffset(months=months)) - t0
    cats = ["noise", "rubbish", "illegal_parking"]
    for i, k in enumerate(per_grid):
        xmin, ymin, xmax, ymax = grid_set.index.geoms[i].bounds
        for _ in range(int(k)):
            rows.append(
                {
                    "lon": rng.uniform(xmin + 1e-5, xmax - 1e-5),
                    "lat": rng.uniform(ymin + 1e-5, ymax - 1e-5),
                    "reported_at": (t0 + span * rng.uniform()).tz_convert("UTC"),
                    "category_code": cats[int(rng.integers(len(cats)))],
                    "grid_code": grid_set.index.codes[i],
                }
            )
    return pd.DataFrame(rows, columns=planner.FRAME_COLUMNS)


def hot_block_counts(n: int = 9, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(5, n * n)
    for r in range(3, 6):
        for c in range(3, 6):
            counts[cell_of(n, r, c)] = 40 + rng.integers(0, 5)
    return counts


# --------------------------------------------------------------------------- heat points


def clustered_points(n: int = 30_000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = n // 3
    lon = np.concatenate(
        [rng.uniform(113.09, 113.20, n - 2 * k), rng.normal(113.15, 0.001, k), rng.normal(113.12, 0.0005, k)]
    )
    lat = np.concatenate(
        [rng.uniform(23.06, 23.16, n - 2 * k), rng.normal(23.12, 0.001, k), rng.normal(23.09, 0.0005, k)]
    )
    return lon, lat


def test_heat_points_are_capped_and_their_weights_sum_to_the_complaints():
    lon, lat = clustered_points()
    uncapped = weighted_points(lon, lat, cell_m=50, cap=10**9)
    assert len(uncapped) > 5_000  # the background alone occupies thousands of 50 m cells
    for cap in (5_000, 2_000, 300, 1):
        points = weighted_points(lon, lat, cell_m=50, cap=cap)
        assert len(points) <= cap
        assert points.total == len(lon)
        assert points.weight.min() >= 1
    capped = weighted_points(lon, lat, cell_m=50, cap=2_000)
    assert capped.coarse_m is not None and capped.coarse_m >= 200
    # the busiest 50 m cells are kept as they are: the top fine cell's weight is the true maximum
    assert capped.n_fine > 0
    assert capped.weight[: capped.n_fine].max() == uncapped.weight.max()


def test_heat_cells_match_an_independent_binning():
    lon, lat = clustered_points(8_000, seed=2)
    lon = np.append(lon, [np.nan, 113.1])
    lat = np.append(lat, [23.1, np.inf])  # not drawable: dropped
    ref = 23.11
    points = weighted_points(lon, lat, cell_m=50, cap=10**9, ref_lat=ref)
    ok = np.isfinite(lon) & np.isfinite(lat)
    frame = pd.DataFrame(
        {
            "ix": np.floor(lon[ok] * M_PER_DEG * np.cos(np.radians(ref)) / 50).astype(int),
            "iy": np.floor(lat[ok] * M_PER_DEG / 50).astype(int),
            "lon": lon[ok],
            "lat": lat[ok],
        }
    )
    cells = frame.groupby(["ix", "iy"]).agg(n=("lon", "size"), lon=("lon", "mean"), lat=("lat", "mean"))
    assert points.total == ok.sum() == 8_000
    assert sorted(points.weight.tolist()) == sorted(cells["n"].tolist())
    ours = pd.DataFrame({"lon": points.lon, "lat": points.lat}).sort_values(["lon", "lat"])
    theirs = cells.reset_index(drop=True).sort_values(["lon", "lat"])
    np.testing.assert_allclose(ours[["lon", "lat"]].to_numpy(), theirs[["lon", "lat"]].to_numpy(), atol=1e-9)


def test_heat_points_handle_nothing_to_draw():
    points = weighted_points([], [])
    assert len(points) == 0 and points.total == 0 and points.rows() == []


# --------------------------------------------------------------------------- monthly frames


def test_monthly_frames_count_the_complaints_of_each_china_month():
    rng = np.random.default_rng(3)
    n = 6_000
    lon, lat = clustered_points(n, seed=3)
    start = pd.Timestamp("2024-11-05", tz="UTC")
    times = start + pd.to_timedelta(rng.uniform(0, 200, n), unit="D")
    # 31 Jan 17:00 UTC is 1 Feb 01:00 in Foshan: a February complaint
    times = times.append(pd.DatetimeIndex([pd.Timestamp("2025-01-31T17:00Z")]))
    lon, lat = np.append(lon, 113.15), np.append(lat, 23.12)
    heat = monthly_heat(lon, lat, times, start=times.min(), end=times.max(), cap=150, total_cap=10**6)
    expected = pd.Series(times.tz_convert("Asia/Shanghai").strftime("%Y-%m")).value_counts().sort_index()
    assert heat.labels == expected.index.tolist()
    assert heat.labels[0] == "2024-11" and all(re.fullmatch(r"\d{4}-\d{2}", m) for m in heat.labels)
    assert heat.totals.tolist() == expected.tolist()
    assert [f.total for f in heat.frames] == expected.tolist()
    assert all(len(f) <= 150 for f in heat.frames)
    feb = heat.labels.index("2025-02")
    assert heat.totals[feb] == expected["2025-02"]


def test_monthly_frames_share_a_total_cap():
    lon, lat = clustered_points(12_000, seed=4)
    times = pd.date_range("2020-01-01", periods=12_000, freq="4h", tz="UTC")  # ~24 months
    heat = monthly_heat(lon, lat, times, start=times[0], end=times[-1], cap=600, total_cap=2_400)
    per_frame = 2_400 // len(heat.labels)
    assert sum(len(f) for f in heat.frames) <= 2_400
    assert all(len(f) <= per_frame for f in heat.frames)
    assert heat.totals.sum() == 12_000


def test_animation_layer_has_one_frame_per_month_with_labels_and_no_jquery():
    lon, lat = clustered_points(3_000, seed=5)
    times = pd.date_range("2025-01-01", periods=3_000, freq="2h", tz="UTC")
    heat = monthly_heat(lon, lat, times, start=times[0], end=times[-1])
    layer = heatmap.animation_layer(heat, name="逐月动画")
    assert layer.index == heat.labels
    assert len(layer.data) == len(heat.labels)
    assert [sum(p[2] for p in frame) for frame in layer.data] == heat.totals.tolist()
    m = folium.Map(location=[23.1, 113.1], tiles=None)
    m.add_child(layer)
    html = m.get_root().render()
    assert "$.extend" not in html and "L.extend" in html
    assert json.dumps(heat.labels, ensure_ascii=False).replace(" ", "") in html.replace(" ", "")
    assert f"maxValue: {heat.scale}" in html


# --------------------------------------------------------------------------- choropleths and Gi*


def test_choropleth_classes_match_mapclassify_fisher_jenks():
    grid_set = lattice_set(12)
    counts = np.random.default_rng(7).negative_binomial(2, 0.05, 144).astype(float)
    classification = classify(counts, "fisher_jenks", 5)
    data = choropleth.GridData(
        grid_set.index.geoms, grid_set.index.codes, list(grid_set.grids["name"]), [""] * 144
    )
    _, polygons = choropleth.class_layer(
        data, classification, choropleth.COUNT_COLORS, name="诉求数", tips=[str(int(c)) for c in counts]
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        reference = mapclassify.FisherJenks(counts, k=5)
    np.testing.assert_allclose(classification.bins, reference.bins)
    assert polygons.classes == np.asarray(reference.yb).tolist()
    assert polygons.fills == [choropleth.COUNT_COLORS[c] for c in reference.yb]
    entries = choropleth.class_legend_entries(classification, choropleth.COUNT_COLORS)
    assert [color for color, _ in entries] == list(choropleth.COUNT_COLORS)
    assert [label.split(" (")[0] for _, label in entries] == classification.labels
    assert [int(label.rsplit("(", 1)[1][:-1]) for _, label in entries] == np.bincount(reference.yb).tolist()


def test_rates_without_population_are_no_data_not_the_lowest_class():
    rates = np.array([1.0, 2.0, np.nan, 8.0, 9.0, 30.0, np.nan])
    classification = classify(rates, "fisher_jenks", 5)
    entries = choropleth.class_legend_entries(classification, choropleth.RATE_COLORS, "无人口数据")
    assert entries[-1] == (None, "无人口数据 (2)")
    layer = choropleth.ClassedPolygons(
        classification.classes,
        choropleth.palette_for(classification.k, choropleth.RATE_COLORS),
        rings=[[[0, 0], [1, 0], [1, 1]]] * 7,
    )
    assert layer.fills[2] is None and layer.fills[6] is None
    assert all(f is not None for i, f in enumerate(layer.fills) if i not in (2, 6))


@pytest.mark.parametrize("seed", range(3))
def test_hotspot_layer_colours_follow_gi_bin_on_a_known_hot_block(seed):
    n = 9
    grid_set = lattice_set(n)
    counts = hot_block_counts(n, seed)
    geoms = gpd.GeoDataFrame(geometry=list(grid_set.index.geoms), crs=4326)
    gi = gi_star(geoms, counts, population=np.full(n * n, 2000.0))
    data = choropleth.GridData(
        grid_set.index.geoms, grid_set.index.codes, list(grid_set.grids["name"]), [""] * n * n
    )
    _, polygons = hotspots.hotspot_layer(data, gi, name="Gi*", tips=[""] * n * n)
    assert polygons.fills == [hotspots.GI_COLORS[int(b)] for b in gi["gi_bin"]]
    centre = cell_of(n, 4, 4)
    assert gi["gi_bin"].iat[centre] == 3 and polygons.fills[centre] == "#b2182b"  # hot, 99 %
    for corner in (cell_of(n, 0, 0), cell_of(n, 0, 8), cell_of(n, 8, 0), cell_of(n, 8, 8)):
        assert gi["gi_bin"].iat[corner] <= 0
        assert polygons.fills[corner] in [hotspots.GI_COLORS[b] for b in (0, -1, -2, -3)]
    legend = {label.split(" (")[0]: color for color, label in hotspots.hotspot_legend_entries(gi, tr)}
    assert legend["热点 99%"] == hotspots.GI_COLORS[3] and legend["冷点 99%"] == hotspots.GI_COLORS[-3]


def test_untested_grids_are_grey_in_the_hotspot_layer():
    n = 5
    grid_set = lattice_set(n)
    counts = np.random.default_rng(1).poisson(5, n * n)
    population = np.full(n * n, 2000.0)
    population[0] = np.nan
    geoms = gpd.GeoDataFrame(geometry=list(grid_set.index.geoms), crs=4326)
    gi = gi_star(geoms, counts, population=population)
    data = choropleth.GridData(
        grid_set.index.geoms, grid_set.index.codes, list(grid_set.grids["name"]), [""] * n * n
    )
    _, polygons = hotspots.hotspot_layer(data, gi, name="Gi*", tips=[""] * n * n)
    assert gi["status"].iat[0] == "no_population"
    assert polygons.fills[0] == hotspots.UNTESTED_COLOR


# --------------------------------------------------------------------------- analysis, popups, escaping


@pytest.fixture(scope="module")
def hot_analysis():
    n = 9
    grid_set = lattice_set(n, names={0: "<script>alert(1)</script>", 1: 'A & B "网格"'})
    counts = hot_block_counts(n)
    frame = complaints_in(grid_set, counts)
    return grid_set, counts, frame, planner.analyse(grid_set, frame, permutations=99)


def test_analysis_counts_rates_and_gi_agree_with_the_input(hot_analysis):
    grid_set, counts, frame, a = hot_analysis
    assert a.counts.tolist() == counts.tolist()
    assert a.n_total == a.n_located == a.n_in_grids == counts.sum()
    np.testing.assert_allclose(a.rates, counts * 1000.0 / 2000.0)
    geoms = gpd.GeoDataFrame(geometry=list(grid_set.index.geoms), crs=4326)
    expected = gi_star(geoms, counts, population=np.full(81, 2000.0), permutations=99)
    assert a.gi["gi_bin"].tolist() == expected["gi_bin"].tolist()
    assert a.gi["gi_bin"].iat[cell_of(9, 4, 4)] == 3
    assert a.heat.total == counts.sum()
    assert a.animation.totals.sum() == counts.sum()
    assert a.monthly.sum() == counts.sum() and a.monthly.shape == (len(a.months), 81)
    assert a.hexes["count"].sum() == counts.sum()
    # top categories per grid, from the frame itself
    for i in (0, 1, cell_of(9, 4, 4)):
        own = frame[frame["grid_code"] == grid_set.index.codes[i]]["category_code"].value_counts()
        assert [k for _, k in a.top[i]] == sorted(own.tolist(), reverse=True)[:3]
        assert all(own[code] == k for code, k in a.top[i])


def test_popup_sparkline_has_one_point_per_month(hot_analysis):
    grid_set, counts, _, a = hot_analysis
    popups = planner_map.grid_popups(a, grid_set, tr=tr, category_names={"noise": "生活噪音"})
    assert len(popups) == 81
    months = len(a.months)
    assert months == 12
    for i in (0, 5, cell_of(9, 4, 4)):
        svg = re.search(r"<svg[^>]*>.*?</svg>", popups[i]).group(0)
        points = re.search(r'<polyline[^>]*points="([^"]+)"', svg).group(1).split()
        assert len(points) == months
        ys = [float(p.split(",")[1]) for p in points]
        monthly = a.monthly[:, i]
        # higher counts are drawn higher (smaller y): the line follows the months
        assert monthly[int(np.argmin(ys))] == monthly.max()
        assert monthly[int(np.argmax(ys))] == monthly.min()
    hot = popups[cell_of(9, 4, 4)]
    assert "热点 99%" in hot and f">{counts[cell_of(9, 4, 4)]:,}<" in hot
    assert "生活噪音" in hot or "rubbish" in hot or "illegal_parking" in hot


def test_sparkline_alone():
    svg = sparkline_svg([0, 3, 1, 0, 5], label="逐月")
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(points) == 5
    assert [float(p.split(",")[1]) for p in points][4] < [float(p.split(",")[1]) for p in points][1]
    assert sparkline_svg([]) == ""
    assert len(re.search(r'points="([^"]+)"', sparkline_svg([0, 0, 0])).group(1).split()) == 3


def test_grid_name_with_a_script_tag_is_escaped_everywhere(hot_analysis):
    grid_set, _, _, a = hot_analysis
    m = planner_map.build_map(a, grid_set, tr=tr, category_names={})
    html = m.get_root().render()
    assert "<script>alert(1)</script>" not in html
    assert "alert(1)<" not in html
    popups = planner_map.grid_popups(a, grid_set, tr=tr, category_names={})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popups[0]
    assert "A &amp; B &quot;网格&quot;" in popups[1]
    names = json.loads(re.search(r"_names = (\[.*?\]);\n", html).group(1))
    assert names[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    # the popups survive the trip through the page's script as the same HTML
    shipped = json.loads(re.search(r"_popups = (\[.*?\]);\n", html).group(1))
    assert shipped == popups
    assert "</" not in re.search(r"_popups = (\[.*?\]);\n", html).group(1)


def test_js_json_cannot_close_the_script_element():
    text = maps.js_json({"a": "</script><script>alert(1)</script>", "b": "<!-- x", "c": "\u2028"})
    assert "</" not in text and "<!" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "<!-- x", "c": "\u2028"}


def test_map_has_all_six_layers_one_shown_and_legends(hot_analysis):
    grid_set, _, _, a = hot_analysis
    for layer in planner_map.LAYERS:
        m = planner_map.build_map(a, grid_set, tr=tr, category_names={}, layer=layer)
        html = m.get_root().render()
        names = [tr(f"pl_layer_{k}") for k in planner_map.LAYERS]
        control = re.search(r"base_layers : \{(.*?)\},", html, re.S).group(1)
        assert all(json.dumps(name) in control for name in names)  # radio buttons: one at a time
        for key in planner_map.LAYERS:
            assert f"div.setAttribute('data-legend', \"{key}\")" in html
        shown = [
            c for c in m._children.values() if getattr(c, "show", False) and not getattr(c, "overlay", True)
        ]
        assert len(shown) == 1 and shown[0].layer_name == tr(f"pl_layer_{layer}")


def test_amap_tiles_shift_the_overlays_to_gcj02(hot_analysis):
    grid_set, _, _, a = hot_analysis
    plain = planner_map.build_map(a, grid_set, tr=tr, category_names={}, tiles="none")
    amap = planner_map.build_map(a, grid_set, tr=tr, category_names={}, tiles="amap")
    first = {}
    for name, m in (("none", plain), ("amap", amap)):
        html = m.get_root().render()
        geo = json.loads(re.search(r"var grid_data_\w+ = (\{.*?\});\n", html).group(1))
        first[name] = np.asarray(geo["features"][0]["geometry"]["coordinates"][0][0])
    dx_m = (first["amap"] - first["none"]) * [M_PER_DEG * np.cos(np.radians(23.1)), M_PER_DEG]
    assert 300 < np.hypot(*dx_m) < 900  # GCJ-02 is some hundreds of metres off WGS84 here


def test_complete_months_only_are_trend_tested():
    months = ["2024-11", "2024-12", "2025-01"]
    complete = planner._complete_months(
        months, pd.Timestamp("2024-11-24T20:00Z"), pd.Timestamp("2025-01-31T15:00Z")
    )  # 23:00 on 31 Jan, China
    assert complete.tolist() == [False, True, True]
    complete = planner._complete_months(
        months,
        pd.Timestamp("2024-10-31T16:00Z"),  # 1 Nov 00:00 China
        pd.Timestamp("2025-01-20T00:00Z"),
    )
    assert complete.tolist() == [True, True, False]


# --------------------------------------------------------------------------- the page, on the demo


@pytest.fixture(scope="module")
def planner_db(demo_template, tmp_path_factory) -> Db:
    """A private copy of the demo (3,000 complaints) with one user of each role."""
    root = tmp_path_factory.mktemp("planner")
    db = Db(root / "redgrid.db", demo_template.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    app = db.app()
    store = app.extensions["redgrid"].store
    create_user(store, "planner", "李研判", "planner-pass-123", "planner")
    create_user(store, "dispatcher", "王调度", "dispatcher-pass-123", "dispatcher")
    create_user(store, "boss", "管理员", "admin-pass-1234", "admin")
    create_user(store, "roads", "道路科", "roads-pass-123", "department", department_code="urban_mgmt")
    return db


@pytest.fixture(scope="module")
def planner_app(planner_db):
    return planner_db.app(WTF_CSRF_ENABLED=False)


def client_as(app, username: str, password: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.data
    return client


@pytest.fixture(scope="module")
def client(planner_app):
    return client_as(planner_app, "planner", "planner-pass-123")


def page_total(response) -> int:
    return int(re.search(r'id="pl-total" data-value="(\d+)"', response.get_data(as_text=True)).group(1))


#: the per-grid table's fields (the CSV heads them in the page's language)
GRID_TABLE_FIELDS = (
    "code",
    "name",
    "community_code",
    "community",
    "population",
    "complaints",
    "rate_per_1000",
    "rate_eb_per_1000",
    "count_class",
    "rate_class",
    "gi_z",
    "gi_p",
    "gi_bin",
    "gi_label",
    "gi_spot",
    "gi_spot_label",
    "hot_cluster",
    "hot_cluster_size",
    "hot_cluster_total",
    "lisa",
    "lisa_p",
    "emerging",
    "emerging_label",
    "trend",
    "sen_slope",
    "top_categories",
)


def read_csv(response) -> pd.DataFrame:
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark, for Excel
    # the headers are in the page's language (Chinese here): back to the table's field names
    header, rest = body.decode("utf-8-sig").split("\n", 1)
    fields = {translate(f"grid_col_{f}", "zh"): f for f in GRID_TABLE_FIELDS}
    named = ",".join(fields.get(h, h) for h in next(csv.reader([header])))
    assert set(GRID_TABLE_FIELDS) <= set(named.split(",")), header
    text = named + "\n" + rest
    return pd.read_csv(io.StringIO(text), dtype={"code": str, "community_code": str})


def test_anonymous_visitors_are_sent_to_login(planner_app):
    client = planner_app.test_client()
    for url in ("/planner", "/planner/export.csv", "/planner/export.html"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"] and "next=" in response.headers["Location"]


def test_planner_dispatcher_and_admin_may_open_it_departments_may_not(planner_app):
    for username, password in (
        ("planner", "planner-pass-123"),
        ("dispatcher", "dispatcher-pass-123"),
        ("boss", "admin-pass-1234"),
    ):
        response = client_as(planner_app, username, password).get("/planner")
        assert response.status_code == 200, username
        assert 'href="/planner"' in response.get_data(as_text=True)  # the nav link
    assert client_as(planner_app, "roads", "roads-pass-123").get("/planner").status_code == 403


def test_page_is_chinese_first_offline_and_light(client):
    response = client.get("/planner")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in html and "研判" in html and "热点分析（Getis-Ord Gi*）" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # every script and style is our own
    for host in ("jsdelivr", "unpkg", "bootstrapcdn", "cdnjs", "code.jquery"):
        assert host not in html
    assert "$.extend" not in html
    assert len(response.data) < 1_500_000
    english = client.get("/planner?lang=en").get_data(as_text=True)
    assert "Hot spots (Gi*)" in english and "Complaints per grid" in english
    client.get("/planner?lang=zh")


def test_page_numbers_match_the_store(client, planner_app):
    store = planner_app.extensions["redgrid"].store
    response = client.get("/planner")
    assert page_total(response) == store.count_complaints({}) == 3000


def test_filters_change_the_numbers_as_expected(client, planner_app):
    store = planner_app.extensions["redgrid"].store
    summer = {
        "since": datetime.datetime(2025, 6, 1, tzinfo=CHINA),
        "until": datetime.datetime(2025, 9, 1, tzinfo=CHINA),
    }
    cases = [
        ("category=noise", {"category_code": ["noise"]}),
        ("category=noise&category=rubbish", {"category_code": ["noise", "rubbish"]}),
        ("category=noise,rubbish", {"category_code": ["noise", "rubbish"]}),
        ("state=closed&state=reopened", {"state": ["closed", "reopened"]}),
        ("channel=patrol", {"channel": ["patrol"]}),
        ("since=2025-06-01&until=2025-08-31", summer),
        (
            "since=2025-06-01&until=2025-08-31&category=waterlogging",
            {**summer, "category_code": ["waterlogging"]},
        ),
    ]
    everything = page_total(client.get("/planner"))
    for query, filters in cases:
        expected = store.count_complaints(filters)
        assert 0 < expected < everything, query
        assert page_total(client.get(f"/planner?{query}")) == expected, query
        table = read_csv(client.get(f"/planner/export.csv?{query}"))
        assert table["complaints"].sum() == expected, query
        frame = store.complaints_frame(["grid_code"], filters)
        by_grid = frame["grid_code"].value_counts()
        got = table.set_index("code")["complaints"]
        assert (got[got > 0].sort_index() == by_grid.sort_index()).all(), query
    summer = client.get("/planner?since=2025-06-01&until=2025-08-31").get_data(as_text=True)
    assert "2025-06 – 2025-08 (3)" in summer


def test_unknown_filter_values_are_named_and_ignored(client):
    response = client.get("/planner?category=nonsense&state=<b>x</b>&since=2025-13-01")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page_total(response) == 3000
    assert "category=nonsense" in html and "since=2025-13-01" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_exports_parse_back_with_the_same_numbers(client):
    query = "since=2025-01-01&until=2025-12-31&layer=hotspots"
    table = read_csv(client.get(f"/planner/export.csv?{query}"))
    response = client.get(f"/planner/export.geojson?{query}")
    assert response.headers["Content-Type"].startswith("application/geo+json")
    assert "attachment" in response.headers["Content-Disposition"]
    collection = json.loads(response.data)
    assert len(table) == len(collection["features"]) == 309
    assert collection["months"] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert collection["filters"]["since"] == "2025-01-01"
    props = pd.DataFrame([f["properties"] for f in collection["features"]])
    for column in ("code", "complaints", "gi_bin", "count_class", "rate_class", "trend"):
        assert table[column].tolist() == props[column].tolist(), column
    np.testing.assert_allclose(table["rate_per_1000"], props["rate_per_1000"], rtol=1e-5)
    np.testing.assert_allclose(table["gi_z"], props["gi_z"].astype(float), rtol=1e-4)
    months = collection["months"]
    assert (table[months].sum(axis=1) == table["complaints"]).all()
    assert [sum(m) for m in props["monthly"]] == table["complaints"].tolist()
    assert table[months].to_numpy().tolist() == props["monthly"].tolist()
    assert table["name"].str.contains("网格").all()
    np.testing.assert_allclose(
        table["rate_per_1000"], table["complaints"] * 1000 / table["population"], rtol=1e-3, atol=1e-3
    )
    # the classes of both choropleths are Fisher-Jenks, k = 5, as mapclassify computes them
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        counts_fj = mapclassify.FisherJenks(table["complaints"].to_numpy(dtype=float), k=5)
        # the rate map draws the empirical-Bayes rates (issue 10: small populations smoothed)
        eb = geo_aggregate.eb_rates_per_1000(table["complaints"], table["population"])
        np.testing.assert_allclose(table["rate_eb_per_1000"], eb, atol=1e-3)
        rates_fj = mapclassify.FisherJenks(eb, k=5)
    assert (table["count_class"] == np.asarray(counts_fj.yb) + 1).all()
    assert (table["rate_class"] == np.asarray(rates_fj.yb) + 1).all()
    geoms = [shapely.geometry.shape(f["geometry"]) for f in collection["features"]]
    assert all(g.is_valid and g.area > 0 for g in geoms)
    page = client.get(f"/planner?{query}").get_data(as_text=True)
    assert page_total(client.get(f"/planner?{query}")) == table["complaints"].sum()
    assert "export.csv?since=2025-01-01&amp;until=2025-12-31" in page


def test_standalone_html_export_links_the_apps_static_files(client):
    response = client.get("/planner/export.html?layer=h3&category=noise")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!DOCTYPE html>")
    assert "attachment" in response.headers["Content-Disposition"]
    assert '"http://localhost/static/vendor/leaflet/dist/leaflet.js"' in html
    assert '"/static/' not in html
    assert "<title>" in html and "planner-export-note" in html and "http://localhost" in html
    assert "L.control.layers" in html and "TDHeatmap" in html
    assert "_popups = [" in html


def test_second_look_is_cached_and_a_change_recomputes(demo_db):
    app = demo_db.app(WTF_CSRF_ENABLED=False)
    create_user(app.extensions["redgrid"].store, "planner", "李研判", "planner-pass-123", "planner")
    client = client_as(app, "planner", "planner-pass-123")
    analyses = app.extensions["redgrid"].planner.analyses
    pages = app.extensions["redgrid.planner_pages"]
    first = client.get("/planner?category=noise")
    misses = (analyses.misses, pages.misses)
    again = client.get("/planner?category=noise")
    assert (analyses.misses, pages.misses) == misses
    assert pages.hits >= 1 and page_total(again) == page_total(first)
    same_map = re.compile(rb'<div class="folium-map" id="(map_\w+)"')
    assert same_map.search(again.data).group(1) == same_map.search(first.data).group(1)
    # a new noise complaint changes the record: the next look counts it
    svc = app.extensions["redgrid"].cases
    from complaints import intake

    point = shapely.point_on_surface(svc.grids.grid_set(svc.grids.active_version_id()).index.geoms[0])
    item = intake.check(
        {
            "external_id": "planner-test-1",
            "reported_at": "2025-05-05 10:00",
            "channel": "hotline",
            "category": "noise",
            "text": "夜间施工噪音",
            "lon": str(point.x),
            "lat": str(point.y),
        },
        catalog=svc.catalog,
        source="test",
    )
    svc.file(item, actor="test")
    after = client.get("/planner?category=noise")
    assert page_total(after) == page_total(first) + 1
    assert analyses.misses == misses[0] + 1


def test_unknown_export_format_is_404(client):
    assert client.get("/planner/export.xlsx").status_code == 404


def test_filters_that_match_nothing_still_give_a_page_and_exports(client, planner_app):
    store = planner_app.extensions["redgrid"].store
    for query in (
        "since=2030-01-01&until=2030-12-31",  # after the record: no months at all
        "since=2025-01-01&until=2025-03-31&state=collected&category=gas_leak",
    ):  # months, no data
        response = client.get(f"/planner?{query}")
        assert response.status_code == 200, query
        assert page_total(response) == 0
        table = read_csv(client.get(f"/planner/export.csv?{query}"))
        assert len(table) == 309 and table["complaints"].sum() == 0
        collection = json.loads(client.get(f"/planner/export.geojson?{query}").data)
        assert len(collection["features"]) == 309
        assert client.get(f"/planner/export.html?{query}").status_code == 200
    assert (
        store.count_complaints(
            {
                "state": ["collected"],
                "category_code": ["gas_leak"],
                "until": datetime.datetime(2025, 4, 1, tzinfo=CHINA),
            }
        )
        == 0
    )
    months = json.loads(
        client.get(
            "/planner/export.geojson?since=2025-01-01&until=2025-03-31&state=collected&category=gas_leak"
        ).data
    )["months"]
    assert months == ["2025-01", "2025-02", "2025-03"]


def test_dates_given_the_wrong_way_round_are_swapped_and_named():
    from werkzeug.datastructures import MultiDict

    filters, problems = planner.parse_filters(
        MultiDict(
            [
                ("since", "2025-08-31"),
                ("until", "2025-06-01"),
                ("category", "noise,bogus"),
                ("state", "closed"),
            ]
        ),
        {"noise": None},
    )
    assert filters.since == datetime.date(2025, 6, 1) and filters.until == datetime.date(2025, 8, 31)
    assert filters.categories == ("noise",) and filters.states == ("closed",)
    assert any("until=2025-06-01" in p for p in problems) and "category=bogus" in problems


# --------------------------------------------------------------------------- hot spots that do not mislead (issue 10)


def lone_hot_grid_counts(n: int = 11, seed: int = 0) -> tuple[np.ndarray, int, list[int]]:
    """One busy grid in the middle, its eight neighbours without a complaint, a quiet town around."""
    counts = np.random.default_rng(seed).poisson(1, n * n)
    centre = cell_of(n, n // 2, n // 2)
    ring = [cell_of(n, r, c) for r in range(n // 2 - 1, n // 2 + 2) for c in range(n // 2 - 1, n // 2 + 2)]
    ring.remove(centre)
    counts[ring] = 0
    counts[centre] = 80
    return counts, centre, ring


@pytest.fixture(scope="module")
def lone_analysis():
    grid_set = lattice_set(11)
    counts, centre, ring = lone_hot_grid_counts()
    frame = complaints_in(grid_set, counts)
    return grid_set, counts, centre, ring, planner.analyse(grid_set, frame, permutations=99)


def test_empty_grids_next_to_a_hot_grid_are_not_presented_as_hot_on_their_own(lone_analysis):
    grid_set, _counts, centre, ring, a = lone_analysis
    # the statistic itself flags the empty ring (the window holds the busy centre) ...
    assert (a.gi["gi_bin"].iloc[ring] > 0).all()
    assert a.gi["spot"].iat[centre] == "hot"
    # ... but nothing on the page presents it as hot: popup, layer colour, tooltip, legend, table
    assert (a.gi["spot"].iloc[ring] == "hot_nearby").all()
    popups = planner_map.grid_popups(a, grid_set, tr=tr, category_names={})
    for i in ring:
        gi_cell = re.search(r"<tr><th>Gi\*（含邻近网格）</th><td>(.*?)</td></tr>", popups[i]).group(1)
        assert "邻近热点" in gi_cell and "本网格 0 件" in gi_cell
        assert "gi-hot" not in gi_cell and not re.search(r">热点", gi_cell)
        assert "热点簇" in popups[i] and "#1：9 个网格，共 80 件" in popups[i]
    centre_cell = re.search(r"<tr><th>Gi\*（含邻近网格）</th><td>(.*?)</td></tr>", popups[centre]).group(1)
    assert ">热点 " in centre_cell and "gi-hot" in centre_cell and "本网格 80 件" in centre_cell
    data = choropleth.GridData(grid_set.index.geoms, grid_set.index.codes, [None] * 121, [""] * 121)
    _, polygons = hotspots.hotspot_layer(data, a.gi, name="Gi*", tips=[""] * 121)
    assert all(polygons.fills[i] == hotspots.NEAR_HOT_COLOR for i in ring)
    assert polygons.fills[centre] in (hotspots.GI_COLORS[2], hotspots.GI_COLORS[3])
    legend = {label.split(" (")[0]: label for _, label in hotspots.hotspot_legend_entries(a.gi, tr)}
    assert legend["邻近热点：本网格自身不高"].endswith("(8)")
    table = planner.grid_table(a, grid_set, {})
    assert table["gi_spot"].iloc[ring].eq("hot_nearby").all()
    assert table["gi_spot_label"].iloc[ring].str.startswith("邻近热点").all()
    assert table["hot_cluster"].iloc[[centre, *ring]].eq(1).all()
    assert table["hot_cluster_size"].iat[centre] == 9 and table["hot_cluster_total"].iat[centre] == 80
    # the map's legend note says what the flag means
    html = planner_map.build_map(a, grid_set, tr=tr, category_names={}, layer="hotspots").get_root().render()
    assert "热点（含邻近网格）" in html and "邻近热点" in html


def test_two_hot_blocks_are_two_clusters_in_the_analysis():
    n = 11
    grid_set = lattice_set(n)
    counts = np.random.default_rng(2).poisson(2, n * n)
    first = [cell_of(n, r, c) for r in (1, 2, 3) for c in (1, 2, 3)]
    second = [cell_of(n, r, c) for r in (7, 8, 9) for c in (7, 8, 9)]
    counts[first] = 35
    counts[second] = 40
    a = planner.analyse(grid_set, complaints_in(grid_set, counts), permutations=0)
    assert a.gi.attrs["n_clusters"] == 2
    assert set(a.gi["cluster"].iloc[second]) - {0} == {1} and set(a.gi["cluster"].iloc[first]) - {0} == {2}
    assert a.gi["cluster"].iat[cell_of(n, 8, 8)] == 1 and a.gi["cluster"].iat[cell_of(n, 2, 2)] == 2
    assert (a.gi["cluster"] > 0).sum() == (a.gi["gi_bin"] > 0).sum()


def test_rate_map_and_rate_gi_use_empirical_bayes_rates():
    n = 9
    grid_set = lattice_set(n)
    population = np.full(n * n, 2000.0)
    small = cell_of(n, 0, 0)
    population[small] = 15.0  # 15 residents, 2 complaints: a raw rate of 133 ‰
    grid_set.grids["population"] = population
    counts = np.random.default_rng(3).poisson(6, n * n)
    counts[small] = 2
    a = planner.analyse(grid_set, complaints_in(grid_set, counts), permutations=0)
    raw = a.rates[small]
    assert raw == pytest.approx(2000 / 15)
    town = counts.sum() * 1000 / population.sum()
    assert abs(a.eb_rates[small] - town) < abs(raw - town) / 10
    np.testing.assert_allclose(a.gi["value"], a.eb_rates)
    assert a.gi.attrs["smoothed"]
    assert a.rate_classes.classes[small] < 4  # no longer the top class on two complaints


def test_local_moran_and_emerging_layers_are_drawn_with_legends(hot_analysis):
    grid_set, _, _, a = hot_analysis
    assert a.lisa["lisa"].iat[cell_of(9, 4, 4)] == "HH"
    assert a.emerging is not None and a.emerging.attrs["months"] == 12
    assert a.emerging["emerging"].iat[cell_of(9, 4, 4)].endswith("_hot")
    data = choropleth.GridData(grid_set.index.geoms, grid_set.index.codes, [None] * 81, [""] * 81)
    _, polygons = hotspots.moran_layer(data, a.lisa, name="LISA", tips=[""] * 81)
    assert polygons.fills[cell_of(9, 4, 4)] == hotspots.LISA_COLORS["HH"]
    _, polygons = hotspots.emerging_layer(data, a.emerging, 81, name="EHSA", tips=[""] * 81)
    assert (
        polygons.fills[cell_of(9, 4, 4)]
        == hotspots.EMERGING_COLORS[a.emerging["emerging"].iat[cell_of(9, 4, 4)]]
    )
    html = planner_map.build_map(a, grid_set, tr=tr, category_names={}, layer="emerging").get_root().render()
    assert "时空热点趋势" in html and "ArcGIS" in html and "局部空间自相关" in html
    popups = planner_map.grid_popups(a, grid_set, tr=tr, category_names={})
    assert "高-高" in popups[cell_of(9, 4, 4)] and "时空趋势" in popups[cell_of(9, 4, 4)]
    table = planner.grid_table(a, grid_set, {})
    assert table["lisa"].iat[cell_of(9, 4, 4)] == "HH"
    assert table["emerging"].iat[cell_of(9, 4, 4)] == a.emerging["emerging"].iat[cell_of(9, 4, 4)]
    assert set(hotspots.EMERGING_COLORS) == set(EMERGING_CLASSES)
    for code in EMERGING_CLASSES:
        assert translate(f"pl_emerging_{code}", "zh") != f"pl_emerging_{code}"


def test_top_grids_table_is_sortable_by_count_rate_and_z_without_inline_script(client):
    html = client.get("/planner").get_data(as_text=True)
    table = re.search(r'<table class="list pl-top-grids" id="pl-top-grids">(.*?)</table>', html, re.S).group(
        1
    )
    assert set(re.findall(r'<th data-sort="(\w+)"', table)) == {"count", "rate", "z", "cluster"}
    rows = re.findall(r"<tr data-i=[^>]*>", table)
    assert len(rows) >= 10
    assert all(re.search(r'data-count="\d+"', r) and 'data-z="' in r and 'data-rate="' in r for r in rows)
    assert "含邻近网格" in table
    assert '<script src="/static/js/planner-table.js"></script>' in html
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert all("nonce=" in attrs for attrs in inline)  # the only inline script is folium's, nonced
    with client.get("/static/js/planner-table.js") as script:
        assert script.status_code == 200 and b"data-sort" in script.data
    csv = read_csv(client.get("/planner/export.csv"))
    for column in ("gi_spot", "gi_spot_label", "hot_cluster", "rate_eb_per_1000", "lisa", "emerging"):
        assert column in csv.columns, column
