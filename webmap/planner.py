"""研判 / The planner's page: where complaints cluster, where they are rising, per grid and per month.

``/planner`` (planners, dispatchers, administrators) shows the complaints matching a date
range, categories, states and channels as switchable layers: a heat map, a monthly
animation, complaints per grid, complaints per 1,000 residents, Getis-Ord Gi* hot and
cold spots (FDR-corrected, ``geo.hotspots``) and H3 cells. Each grid's popup gives its
numbers, its Gi* verdict, its Mann-Kendall trend and a sparkline of its months. The
per-grid table downloads as CSV (UTF-8 with BOM, for Excel) and GeoJSON, the map as one
HTML file.

Everything is aggregated here, on the server (``analyse``), and the page carries only what
the layers draw (see ``webmap.planner_maps``). Analyses and rendered maps are cached per
grid version, filters and state of the complaint record (its size, last id and last
change), so a second look at the same view costs a query, and any new or changed
complaint makes the next request compute afresh.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from numpy.typing import NDArray

from complaints import intake
from complaints import workflow
from geo.aggregate import Classification
from geo.aggregate import classify
from geo.aggregate import counts_by_grid
from geo.aggregate import h3_counts
from geo.aggregate import month_labels
from geo.aggregate import monthly_counts
from geo.aggregate import rates_per_1000
from geo.hotspots import gi_star
from geo.hotspots import mann_kendall_trend
from webmap import maps
from webmap import planner_maps as pm
from webmap.grid_service import GridSet
from webmap.i18n import lang
from webmap.i18n import t
from webmap.users import role_required

bp = Blueprint("planner", __name__)

CHINA = datetime.timezone(datetime.timedelta(hours=8))
LAYERS = ("heat", "animation", "counts", "rates", "hotspots", "h3")
DEFAULT_LAYER = "counts"
FRAME_COLUMNS = ["lon", "lat", "reported_at", "category_code", "grid_code"]
H3_RES = 9
CLASSES = 5
TOP_CATEGORIES = 3
MIN_TREND_MONTHS = 6
ANALYSIS_CACHE = 8
PAGE_CACHE = 16


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What the planner asked for; dates are China-time days, ``until`` inclusive."""

    since: datetime.date | None = None
    until: datetime.date | None = None
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def store_filters(self) -> dict:
        out: dict[str, Any] = {}
        if self.since:
            out["since"] = datetime.datetime.combine(self.since, datetime.time(), CHINA)
        if self.until:
            out["until"] = datetime.datetime.combine(self.until + datetime.timedelta(days=1),
                                                     datetime.time(), CHINA)
        if self.categories:
            out["category_code"] = list(self.categories)
        if self.states:
            out["state"] = list(self.states)
        if self.channels:
            out["channel"] = list(self.channels)
        return out

    def key(self) -> tuple:
        return (self.since, self.until, self.categories, self.states, self.channels)

    def query(self) -> list[tuple[str, str]]:
        """The filters as URL query pairs (for the export links)."""
        pairs = []
        if self.since:
            pairs.append(("since", self.since.isoformat()))
        if self.until:
            pairs.append(("until", self.until.isoformat()))
        pairs += [("category", c) for c in self.categories]
        pairs += [("state", s) for s in self.states]
        pairs += [("channel", c) for c in self.channels]
        return pairs


def parse_filters(args: Mapping, categories: Mapping[str, Any]) -> tuple[Filters, list[str]]:
    """Filters from a query string (repeated or comma-separated values); unknown values are named."""
    problems: list[str] = []

    def many(name: str, known) -> tuple[str, ...]:
        raw = args.getlist(name) if hasattr(args, "getlist") else [args.get(name, "")]
        values = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
        bad = [v for v in values if v not in known]
        problems.extend(f"{name}={v}" for v in bad)
        return tuple(sorted({v for v in values if v in known}))

    def day(name: str) -> datetime.date | None:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            problems.append(f"{name}={value}")
            return None

    since, until = day("since"), day("until")
    if since and until and until < since:
        problems.append(f"until={until.isoformat()} < since={since.isoformat()}")
        since, until = until, since
    filters = Filters(since, until, many("category", categories),
                      many("state", {s.value for s in workflow.State}), many("channel", intake.CHANNELS))
    return filters, problems


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Analysis:
    """The numbers behind every layer, per grid in the index's order (grids sorted by code)."""

    n_total: int  # complaints matching the filters
    n_located: int  # of which with coordinates
    n_in_grids: int  # of which in a grid of this version
    counts: NDArray[np.int64]
    population: NDArray[np.float64]
    rates: NDArray[np.float64]  # per 1,000 residents; NaN without a population
    count_classes: Classification
    rate_classes: Classification
    gi: pd.DataFrame  # geo.hotspots.gi_star's columns
    months: list[str]  # YYYY-MM
    complete: NDArray[np.bool_]  # months the record covers whole (only these are trend-tested)
    monthly: NDArray[np.int64]  # [month, grid]
    trend: pd.DataFrame | None  # Mann-Kendall per grid, None with too few complete months
    top: list[list[tuple[str, int]]]  # per grid: (category code, complaints), busiest first
    heat: pm.WeightedPoints
    animation: pm.MonthlyHeat
    hexes: gpd.GeoDataFrame  # H3 cells: hex_id, count, geometry
    hex_classes: Classification


def analyse(grid_set: GridSet, frame: pd.DataFrame, *, start=None, end=None, h3_res: int = H3_RES,
            permutations: int = 999) -> Analysis:
    """Aggregate the complaints in ``frame`` (``FRAME_COLUMNS``) on the grids of ``grid_set``.

    Months run from ``start``'s to ``end``'s (default: the complaints' first and last); a
    month counts as complete for the trend test only if [start, end] covers all of it.
    """
    n = len(grid_set.index.codes)
    lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    located = np.isfinite(lon) & np.isfinite(lat)
    pos = np.full(len(frame), -1, dtype=np.int64)
    if located.any():
        pos[located] = grid_set.index.locate_many(lon[located], lat[located], annotate=False).grid
    if (~located).any():  # placed by address without a point: keep the grid they were filed in
        by_code = grid_set.index.position
        codes = frame["grid_code"].to_numpy(dtype=object)[~located]
        pos[~located] = [by_code.get(c, -1) if isinstance(c, str) else -1 for c in codes]

    counts = counts_by_grid(pos, n)
    population = pd.to_numeric(grid_set.grids["population"], errors="coerce").to_numpy(dtype=float)
    rates = rates_per_1000(counts, population)
    geoms = gpd.GeoDataFrame(geometry=list(grid_set.index.geoms), crs="EPSG:4326")
    has_population = bool(np.isfinite(population).any() and (population > 0).any())
    gi = gi_star(geoms, counts, population=population if has_population else None,
                 permutations=permutations)

    times = pd.to_datetime(frame["reported_at"], utc=True)
    if start is None and len(frame):
        start = times.min()
    if end is None and len(frame):
        end = times.max()
    months = month_labels(start, end) if start is not None and end is not None else []
    if months:
        monthly = monthly_counts(times, pos, n, start, end)
        complete = _complete_months(months, pd.Timestamp(start), pd.Timestamp(end))
    else:
        monthly = np.zeros((0, n), dtype=np.int64)
        complete = np.zeros(0, dtype=bool)
    trend = None
    if complete.sum() >= MIN_TREND_MONTHS:
        trend = mann_kendall_trend(monthly[complete])

    categories = frame["category_code"].astype(object).fillna("").to_numpy()
    top = _top_categories(pos, categories, n)
    ref_lat = float(np.mean(grid_set.index.bounds[1::2]))
    heat = pm.weighted_points(lon, lat, ref_lat=ref_lat)
    if months:
        animation = pm.monthly_heat(lon, lat, times, start=start, end=end, ref_lat=ref_lat)
    else:
        animation = pm.MonthlyHeat([], [], np.zeros(0, dtype=np.int64), pm.ANIM_CELL_M)
    hexes = h3_counts(lon[located], lat[located], h3_res)
    return Analysis(
        n_total=len(frame), n_located=int(located.sum()), n_in_grids=int(counts.sum()),
        counts=counts, population=population, rates=rates,
        count_classes=classify(counts, "fisher_jenks", CLASSES),
        rate_classes=classify(rates, "fisher_jenks", CLASSES),
        gi=gi, months=months, complete=complete, monthly=monthly, trend=trend, top=top,
        heat=heat, animation=animation, hexes=hexes,
        hex_classes=classify(hexes["count"].to_numpy(dtype=float), "fisher_jenks", CLASSES))


def _complete_months(months: list[str], start: pd.Timestamp, end: pd.Timestamp) -> NDArray[np.bool_]:
    """Months wholly inside [start, end] in China time (a day's slack at the end: records close
    at the last complaint, which is seldom at midnight)."""
    def local(ts: pd.Timestamp) -> pd.Timestamp:
        return ts.tz_convert("Asia/Shanghai").tz_localize(None) if ts.tzinfo else ts

    s, e = local(start), local(end)
    first = pd.PeriodIndex(months, freq="M").to_timestamp()
    last = (pd.PeriodIndex(months, freq="M") + 1).to_timestamp()
    return np.asarray((first >= s.normalize()) & (last - pd.Timedelta(days=1) <= e), dtype=bool)


def _top_categories(pos: NDArray, categories: NDArray, n: int) -> list[list[tuple[str, int]]]:
    inside = pos >= 0
    codes, idx = np.unique(categories[inside].astype(str), return_inverse=True)
    if len(codes) == 0:
        return [[] for _ in range(n)]
    table = np.bincount(pos[inside] * len(codes) + idx.reshape(-1), minlength=n * len(codes))
    table = table.reshape(n, len(codes))
    order = np.argsort(-table, axis=1, kind="stable")[:, :TOP_CATEGORIES]
    return [[(str(codes[j]), int(table[i, j])) for j in order[i] if table[i, j] > 0] for i in range(n)]


# --------------------------------------------------------------------------- per-grid table


def trend_label(analysis: Analysis, i: int, tr) -> str:
    if analysis.trend is None:
        return tr("pl_trend_short")
    direction = int(analysis.trend["direction"].iat[i])
    slope = f"{float(analysis.trend['sen_slope'].iat[i]):+.2f}"
    if direction > 0:
        return tr("pl_trend_up", slope=slope)
    if direction < 0:
        return tr("pl_trend_down", slope=slope)
    return tr("pl_trend_none")


def grid_table(analysis: Analysis, grid_set: GridSet, category_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per grid: what the CSV and GeoJSON exports hold (and the page's top list)."""
    grids = grid_set.grids
    communities = grid_set.communities
    trend = analysis.trend
    table = pd.DataFrame({
        "code": grids["code"].astype(str).to_numpy(),
        "name": grids["name"].to_numpy(dtype=object),
        "community_code": grids["community_code"].astype(str).to_numpy(),
        "community": [(communities.get(c) or {}).get("name") for c in grids["community_code"]],
        "population": analysis.population,
        "complaints": analysis.counts,
        "rate_per_1000": np.round(analysis.rates, 3),
        "count_class": analysis.count_classes.classes + 1,
        "rate_class": analysis.rate_classes.classes + 1,
        "gi_z": np.round(analysis.gi["z"].to_numpy(dtype=float), 4),
        "gi_p": np.round(analysis.gi["p"].to_numpy(dtype=float), 6),
        "gi_bin": analysis.gi["gi_bin"].to_numpy(dtype=np.int64),
        "gi_label": analysis.gi["label"].to_numpy(dtype=object),
        "trend": trend["direction"].to_numpy(dtype=np.int64) if trend is not None else 0,
        "sen_slope": np.round(trend["sen_slope"].to_numpy(dtype=float), 3) if trend is not None else np.nan,
        "top_categories": ["; ".join(f"{category_names.get(c, c)}:{k}" for c, k in top)
                           for top in analysis.top],
    })
    # class 0 in the table is "no data" (no population for a rate)
    table.loc[analysis.rate_classes.classes < 0, "rate_class"] = 0
    months = pd.DataFrame(analysis.monthly.T, columns=analysis.months) if analysis.months else None
    return pd.concat([table, months], axis=1) if months is not None else table


def table_csv(table: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows reads the names right."""
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.6g")
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def table_geojson(table: pd.DataFrame, grid_set: GridSet, analysis: Analysis, filters: Filters) -> bytes:
    """The table as a FeatureCollection in WGS84, months as one array per grid."""
    month_cols = list(analysis.months)
    plain = table.drop(columns=month_cols)
    features = []
    for i, (row, geom) in enumerate(zip(plain.to_dict("records"), grid_set.index.geoms, strict=True)):
        props = {k: _plain(v) for k, v in row.items()}
        props["monthly"] = analysis.monthly[:, i].tolist()
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    body = {"type": "FeatureCollection", "grid_version": grid_set.version.id, "months": month_cols,
            "filters": {"since": filters.since and filters.since.isoformat(),
                        "until": filters.until and filters.until.isoformat(),
                        "categories": list(filters.categories), "states": list(filters.states),
                        "channels": list(filters.channels)},
            "features": features}
    return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _plain(value):
    if value is None:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if value is pd.NA:
        return None
    return value


# --------------------------------------------------------------------------- the map


def build_map(analysis: Analysis, grid_set: GridSet, *, tr, category_names: Mapping[str, str],
              tiles: str = "none", tianditu_key: str | None = None, layer: str = DEFAULT_LAYER,
              title: str | None = None, note: str | None = None) -> folium.Map:
    """The planner's folium map: six switchable layers (one shown at a time), outlines, legends."""
    if layer not in LAYERS:
        raise ValueError(f"layer={layer!r}; expected one of {', '.join(LAYERS)}")
    m = maps.base_map(grid_set.index.bounds, tiles=tiles, tianditu_key=tianditu_key)
    if title:
        m.get_root().title = title
    geoms = maps.shift_geoms(grid_set.index.geoms, tiles)
    names = grid_set.grids["name"].to_numpy(dtype=object)
    data = pm.GridData(geoms, grid_set.index.codes, [n if isinstance(n, str) else None for n in names],
                       grid_popups(analysis, grid_set, tr=tr, category_names=category_names))
    m.add_child(data)
    m.planner_grid_data = data  # the page's script reaches the popups through it

    heat = _shifted(analysis.heat, tiles)
    heat_layer = pm.heat_layer(heat, name=tr("pl_layer_heat"), show=layer == "heat")
    m.add_child(heat_layer)

    animation = dataclasses.replace(analysis.animation,
                                    frames=[_shifted(f, tiles) for f in analysis.animation.frames])
    anim_layer = None
    if animation.labels:
        anim_layer = pm.animation_layer(animation, name=tr("pl_layer_animation"), show=layer == "animation")
        m.add_child(anim_layer)

    count_tips = [f"{c:,}" for c in analysis.counts.tolist()]
    counts_group, _ = pm.class_layer(data, analysis.count_classes, pm.COUNT_COLORS,
                                     name=tr("pl_layer_counts"), tips=count_tips, show=layer == "counts")
    m.add_child(counts_group)
    rate_tips = ["–" if not np.isfinite(r) else f"{r:.1f}‰" for r in analysis.rates.tolist()]
    rates_group, _ = pm.class_layer(data, analysis.rate_classes, pm.RATE_COLORS,
                                    name=tr("pl_layer_rates"), tips=rate_tips, show=layer == "rates")
    m.add_child(rates_group)
    gi_tips = [pm.gi_bin_label(int(b), tr) if s == "tested" else tr("pl_gi_untested")
               for b, s in zip(analysis.gi["gi_bin"], analysis.gi["status"], strict=True)]
    hot_group, _ = pm.hotspot_layer(data, analysis.gi, name=tr("pl_layer_hotspots"), tips=gi_tips,
                                    show=layer == "hotspots")
    m.add_child(hot_group)

    hexes = analysis.hexes
    if tiles == "amap" and len(hexes):
        hexes = hexes.set_geometry(maps.shift_geoms(hexes.geometry.values, tiles))
    hex_tips = [f"{h} · {c:,}" for h, c in zip(hexes["hex_id"], hexes["count"].tolist(), strict=True)]
    h3_group, _ = pm.h3_layer(hexes, analysis.hex_classes, name=tr("pl_layer_h3"), tips=hex_tips,
                              show=layer == "h3")
    m.add_child(h3_group)
    m.add_child(pm.outline_layer(data, name=tr("pl_layer_outlines")))

    heat_note = tr("pl_heat_note", cell=f"{heat.cell_m:.0f}", n=f"{len(heat):,}", total=f"{heat.total:,}")
    if heat.coarse_m:
        heat_note += " " + tr("pl_heat_coarse", coarse=f"{heat.coarse_m:.0f}")
    m.add_child(pm.Legend(heat_layer, "heat", tr("pl_layer_heat"),
                          [(pm.HEAT_GRADIENT[0.2], tr("pl_few")), (pm.HEAT_GRADIENT[1.0], tr("pl_many"))],
                          note=heat_note))
    if anim_layer is not None:
        m.add_child(pm.Legend(anim_layer, "animation", tr("pl_layer_animation"), [],
                              note=tr("pl_anim_note", cell=f"{animation.cell_m:.0f}",
                                      months=len(animation.labels), scale=animation.scale,
                                      peak=animation.max_weight)))
    m.add_child(pm.Legend(counts_group, "counts", tr("pl_legend_counts"),
                          pm.class_legend_entries(analysis.count_classes, pm.COUNT_COLORS),
                          note=tr("pl_fisher_jenks")))
    m.add_child(pm.Legend(rates_group, "rates", tr("pl_legend_rates"),
                          pm.class_legend_entries(analysis.rate_classes, pm.RATE_COLORS,
                                                  tr("pl_no_population")),
                          note=tr("pl_fisher_jenks")))
    m.add_child(pm.Legend(hot_group, "hotspots", tr("pl_legend_hotspots"),
                          pm.hotspot_legend_entries(analysis.gi, tr),
                          note=tr("pl_gi_note", value=tr("pl_gi_value_" + analysis.gi.attrs["value"]))))
    m.add_child(pm.Legend(h3_group, "h3", tr("pl_legend_h3", res=analysis.hexes.attrs.get("res", H3_RES)),
                          pm.class_legend_entries(analysis.hex_classes, pm.H3_COLORS),
                          note=tr("pl_fisher_jenks")))
    if note:
        box = f'<div class="planner-export-note">{maps.text(note)}</div>'
        m.get_root().html.add_child(folium.Element(box))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _shifted(points: pm.WeightedPoints, tiles: str) -> pm.WeightedPoints:
    if maps.overlay_coordsys(tiles) == "wgs84" or not len(points):
        return points
    lon, lat = maps.shift_points(points.lon, points.lat, tiles)
    return dataclasses.replace(points, lon=np.asarray(lon, dtype=float), lat=np.asarray(lat, dtype=float))


def grid_popups(analysis: Analysis, grid_set: GridSet, *, tr, category_names: Mapping[str, str]) -> list[str]:
    grids = grid_set.grids
    status = analysis.gi["status"].to_numpy()
    bins = analysis.gi["gi_bin"].to_numpy(dtype=np.int64)
    z = analysis.gi["z"].to_numpy(dtype=float)
    monthly = analysis.monthly.T.tolist()
    names = grids["name"].tolist()
    codes = grids["code"].astype(str).tolist()
    community = [(grid_set.communities.get(c) or {}).get("short_name") for c in grids["community_code"]]
    out = []
    for i in range(len(codes)):
        tested = status[i] == "tested"
        label = pm.gi_bin_label(int(bins[i]), tr) if tested else tr("pl_gi_untested")
        if tested and np.isfinite(z[i]):
            label += f" (z = {z[i]:.2f})"
        out.append(pm.grid_popup(pm.GridFacts(
            name=names[i] if isinstance(names[i], str) else None, code=codes[i], community=community[i],
            count=int(analysis.counts[i]), population=float(analysis.population[i]),
            rate=float(analysis.rates[i]), gi_label=label, gi_bin=int(bins[i]) if tested else 0,
            trend=trend_label(analysis, i, tr), monthly=monthly[i], months=analysis.months,
            top=[(category_names.get(c, c), k) for c, k in analysis.top[i]]), tr))
    return out


# --------------------------------------------------------------------------- caching


class Lru:
    """A small thread-safe least-recently-used cache; builds outside the lock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = build()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class PlannerCaches:
    analyses: Lru = dataclasses.field(default_factory=lambda: Lru(ANALYSIS_CACHE))
    pages: Lru = dataclasses.field(default_factory=lambda: Lru(PAGE_CACHE))


@bp.record_once
def _init(state) -> None:
    state.app.extensions["redgrid.planner"] = PlannerCaches()


def caches() -> PlannerCaches:
    return current_app.extensions["redgrid.planner"]


def record_stamp(store) -> tuple:
    """The complaint record's state: its size, last id, last change, first and last report.

    Complaints are never deleted, so a new or changed complaint changes this, and every
    cache entry keyed on it is out of date at once.
    """
    c = store.t["complaints"].c
    query = sa.select(sa.func.count(), sa.func.max(c.id), sa.func.max(c.updated_at),
                      sa.func.min(c.reported_at), sa.func.max(c.reported_at))
    with store.engine.connect() as conn:
        count, last_id, changed, first, last = conn.execute(query).one()
    return (int(count), last_id, _iso(changed), _iso(first), _iso(last))


def _iso(value) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


@dataclass(frozen=True)
class Context:
    grid_set: GridSet
    filters: Filters
    problems: list[str]
    analysis: Analysis
    key: tuple


def _context() -> Context:
    grids = current_app.extensions["redgrid"]
    svc = current_app.extensions["redgrid.complaints"]
    filters, problems = parse_filters(request.args, svc.catalog.categories)
    grid_set = grids.grid_set(grids.active_version_id())
    stamp = record_stamp(svc.store)
    key = (grid_set.version.id, stamp, filters.key())

    def build() -> Analysis:
        frame = svc.store.complaints_frame(FRAME_COLUMNS, filters.store_filters())
        start, end = _range(filters, stamp)
        return analyse(grid_set, frame, start=start, end=end)

    return Context(grid_set, filters, problems, caches().analyses.get(key, build), key)


def _range(filters: Filters, stamp: tuple) -> tuple:
    """Months to show: the filter's days, within the record's first and last complaint."""
    first, last = stamp[3], stamp[4]
    if first is None:
        return None, None
    start = pd.Timestamp(first)
    end = pd.Timestamp(last)
    start = start if start.tzinfo else start.tz_localize("UTC")
    end = end if end.tzinfo else end.tz_localize("UTC")
    if filters.since:
        start = max(start, pd.Timestamp(datetime.datetime.combine(filters.since, datetime.time(), CHINA)))
    if filters.until:
        until = pd.Timestamp(datetime.datetime.combine(filters.until, datetime.time.max, CHINA))
        end = min(end, until)
    if end < start:
        return None, None
    return start, end


def category_names() -> dict[str, str]:
    svc = current_app.extensions["redgrid.complaints"]
    zh = lang() == "zh"
    return {code: (c.name_zh if zh else c.name_en) for code, c in svc.catalog.categories.items()}


def _layer() -> str:
    chosen = request.args.get("layer", DEFAULT_LAYER)
    return chosen if chosen in LAYERS else DEFAULT_LAYER


def _map_for(ctx: Context, layer: str, *, title: str | None = None, note: str | None = None) -> folium.Map:
    return build_map(ctx.analysis, ctx.grid_set, tr=t, category_names=category_names(),
                     tiles=current_app.config["MAP_TILES"],
                     tianditu_key=current_app.config.get("TIANDITU_KEY"), layer=layer, title=title, note=note)


# --------------------------------------------------------------------------- views


@bp.get("/planner")
@role_required("planner", "dispatcher")
def page():
    """研判 / The planner's map page."""
    ctx = _context()
    layer = _layer()
    tiles = current_app.config["MAP_TILES"]

    def render() -> tuple[maps.Embedded, str]:
        m = _map_for(ctx, layer)
        return maps.embed(m), m.planner_grid_data.get_name()

    embedded, grid_var = caches().pages.get((*ctx.key, tiles, lang(), layer), render)
    svc = current_app.extensions["redgrid.complaints"]
    a = ctx.analysis
    names = category_names()
    order = np.argsort(-a.counts, kind="stable")[:10]
    top_grids = [{"i": int(i), "code": ctx.grid_set.index.codes[i],
                  "name": ctx.grid_set.grids["name"].iat[i], "count": int(a.counts[i]),
                  "rate": None if not np.isfinite(a.rates[i]) else float(a.rates[i]),
                  "gi_bin": int(a.gi["gi_bin"].iat[i]),
                  "gi": pm.gi_bin_label(int(a.gi["gi_bin"].iat[i]), t) if a.gi["status"].iat[i] == "tested"
                  else t("pl_gi_untested")}
                 for i in order if a.counts[i] > 0]
    bins = a.gi["gi_bin"].to_numpy()
    query = ctx.filters.query()
    return render_template(
        "planner.html", embed=embedded, grid_var=grid_var, analysis=a, filters=ctx.filters,
        problems=ctx.problems, layer=layer, layers=LAYERS, top_grids=top_grids,
        categories=svc.catalog.categories,
        category_names=names, states=[s.value for s in workflow.State], channels=list(intake.CHANNELS),
        hot=int((bins > 0).sum()), cold=int((bins < 0).sum()), version=ctx.grid_set.version,
        export_csv=url_for("planner.export", fmt="csv") + _qs(query),
        export_geojson=url_for("planner.export", fmt="geojson") + _qs(query),
        export_html=url_for("planner.export", fmt="html") + _qs([*query, ("layer", layer)]),
        static_root=request.url_root.rstrip("/") + current_app.static_url_path + "/")


def _qs(pairs: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return ("?" + urlencode(pairs)) if pairs else ""


@bp.get("/planner/export.<fmt>")
@role_required("planner", "dispatcher")
def export(fmt: str):
    """The per-grid table as CSV or GeoJSON, or the map as one HTML file."""
    if fmt not in ("csv", "geojson", "html"):
        return Response("unknown export format", status=404, mimetype="text/plain")
    ctx = _context()
    stamp = datetime.datetime.now(CHINA).strftime("%Y%m%d-%H%M")
    if fmt == "html":
        body = _standalone_html(ctx, _layer())
        return _download(body, "text/html; charset=utf-8", f"redgrid-planner-{stamp}.html")
    table = grid_table(ctx.analysis, ctx.grid_set, category_names())
    if fmt == "csv":
        return _download(table_csv(table), "text/csv; charset=utf-8", f"redgrid-grids-{stamp}.csv")
    return _download(table_geojson(table, ctx.grid_set, ctx.analysis, ctx.filters),
                     "application/geo+json", f"redgrid-grids-{stamp}.geojson")


def _standalone_html(ctx: Context, layer: str) -> bytes:
    """The map as one HTML file; its scripts and styles load from this server's static files."""
    root = request.url_root.rstrip("/")
    static = current_app.static_url_path
    made = datetime.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")
    note = t("pl_export_note", when=made, n=f"{ctx.analysis.n_total:,}", host=root)
    m = _map_for(ctx, layer, title=f"{t('nav_planner')} · {t('app_name')}", note=note)
    html = m.get_root().render()
    html = html.replace(f'"{static}/', f'"{root}{static}/')
    style = ("<style>.planner-export-note{position:absolute;z-index:1000;left:50px;top:10px;max-width:60%;"
             "background:rgba(255,255,255,.92);padding:4px 8px;border-radius:4px;font:12px sans-serif;"
             "box-shadow:0 1px 4px rgba(0,0,0,.3)}</style>")
    css = f'<link rel="stylesheet" href="{root}{static}/css/planner.css"/>'
    return html.replace("</head>", f"{css}{style}</head>", 1).encode("utf-8")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype.split(";")[0])
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
