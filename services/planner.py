"""The planner's analysis: where complaints cluster, where they are rising, per grid and per month.

The complaints matching a date range, categories, states and channels are aggregated
here, on the server, into what every layer of the planner's map draws: counts and
rates per grid (raw, and smoothed by empirical Bayes for the rate map and the rate
Gi*), Getis-Ord Gi* hot and cold spots (FDR-corrected, ``geo.hotspots``) with each
grid's own count, its presented class (热点, or 邻近热点 when only its neighbours make
it significant) and its hot cluster, Local Moran's I (HH/LL/HL/LH), an emerging
hot-spot class per grid over the complete months, Mann-Kendall trends, top categories,
a heat map, a monthly animation and H3 cells (``analyse``), and the per-grid table the
exports hold (``grid_table``).

Analyses are cached per grid version, filters and state of the complaint record (its
size, last id and last change, ``store.complaints_stamp``), so a second look at the same
view costs one query, and any new or changed complaint makes the next request compute
afresh.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Container
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from complaints import intake
from complaints import workflow
from geo.aggregate import Classification
from geo.aggregate import classify
from geo.aggregate import counts_by_grid
from geo.aggregate import eb_rates_per_1000
from geo.aggregate import h3_counts
from geo.aggregate import month_labels
from geo.aggregate import monthly_counts
from geo.aggregate import rates_per_1000
from geo.heat import ANIM_CELL_M
from geo.heat import MonthlyHeat
from geo.heat import WeightedPoints
from geo.heat import monthly_heat
from geo.heat import weighted_points
from geo.hotspots import emerging_hotspots
from geo.hotspots import gi_star
from geo.hotspots import local_moran
from geo.hotspots import mann_kendall_trend
from geo.timeutil import BEIJING_TZ_NAME
from geo.timeutil import end_of_day
from geo.timeutil import start_of_day
from services.caching import Memo
from services.cases import ComplaintService
from services.csvsafe import safe_csv
from services.grids import GridService
from services.grids import GridSet

FRAME_COLUMNS = ["lon", "lat", "reported_at", "category_code", "grid_code"]
H3_RES = 9
CLASSES = 5
TOP_CATEGORIES = 3
MIN_TREND_MONTHS = 6
ANALYSIS_CACHE = 8
#: the longest span of months analysed (and drawn): the latest 20 years of the record. A single
#: complaint dated 1600 (stored by an older version) would otherwise make every monthly array
#: four centuries long, gigabytes for the heat-map animation.
MAX_MONTHS = 240
#: the years a planner's since/until may name; others are named as problems and ignored
YEARS = (2000, 2999)


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
            out["since"] = start_of_day(self.since)
        if self.until:
            out["until"] = start_of_day(self.until + datetime.timedelta(days=1))
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

    def many(name: str, known: Container[str]) -> tuple[str, ...]:
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
            day = datetime.date.fromisoformat(value)
        except ValueError:
            problems.append(f"{name}={value[:40]}")
            return None
        if not YEARS[0] <= day.year <= YEARS[1]:
            problems.append(f"{name}={value} (outside {YEARS[0]}–{YEARS[1]})")
            return None
        return day

    since, until = day("since"), day("until")
    if since and until and until < since:
        problems.append(f"until={until.isoformat()} < since={since.isoformat()}")
        since, until = until, since
    filters = Filters(
        since,
        until,
        many("category", categories),
        many("state", {s.value for s in workflow.State}),
        many("channel", intake.CHANNELS),
    )
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
    eb_rates: NDArray[np.float64]  # the same, smoothed by empirical Bayes (what the rate map draws)
    count_classes: Classification
    rate_classes: Classification  # of the smoothed rates
    gi: pd.DataFrame  # geo.hotspots.gi_star's columns (own, spot, cluster … included)
    lisa: pd.DataFrame  # geo.hotspots.local_moran's columns, on the values Gi* analysed
    months: list[str]  # YYYY-MM
    complete: NDArray[np.bool_]  # months the record covers whole (only these are trend-tested)
    monthly: NDArray[np.int64]  # [month, grid]
    trend: pd.DataFrame | None  # Mann-Kendall per grid, None with too few complete months
    emerging: pd.DataFrame | None  # geo.hotspots.emerging_hotspots on the complete months, or None
    top: list[list[tuple[str, int]]]  # per grid: (category code, complaints), busiest first
    heat: WeightedPoints
    animation: MonthlyHeat
    hexes: gpd.GeoDataFrame  # H3 cells: hex_id, count, geometry
    hex_classes: Classification


def analyse(
    grid_set: GridSet,
    frame: pd.DataFrame,
    *,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    h3_res: int = H3_RES,
    permutations: int = 999,
) -> Analysis:
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
    eb_rates = eb_rates_per_1000(counts, population)
    geoms = gpd.GeoDataFrame(geometry=list(grid_set.index.geoms), crs="EPSG:4326")
    has_population = bool(np.isfinite(population).any() and (population > 0).any())
    gi = gi_star(
        geoms,
        counts,
        population=population if has_population else None,
        permutations=permutations,
        smooth=True,
    )
    lisa = local_moran(geoms, gi["value"].to_numpy(dtype=float), permutations=max(permutations, 99))

    times = pd.to_datetime(frame["reported_at"], utc=True)
    if start is None and len(frame):
        start = times.min()
    if end is None and len(frame):
        end = times.max()
    start = _bounded_start(start, end)
    months = month_labels(start, end) if start is not None and end is not None else []
    if months:
        monthly = monthly_counts(times, pos, n, start, end)
        complete = _complete_months(months, pd.Timestamp(start), pd.Timestamp(end))
    else:
        monthly = np.zeros((0, n), dtype=np.int64)
        complete = np.zeros(0, dtype=bool)
    trend = None
    emerging = None
    if complete.sum() >= MIN_TREND_MONTHS:
        trend = mann_kendall_trend(monthly[complete])
        emerging = emerging_hotspots(geoms, monthly[complete])

    categories = frame["category_code"].astype(object).fillna("").to_numpy()
    top = _top_categories(pos, categories, n)
    ref_lat = float(np.mean(grid_set.index.bounds[1::2]))
    heat = weighted_points(lon, lat, ref_lat=ref_lat)
    if months:
        animation = monthly_heat(lon, lat, times, start=start, end=end, ref_lat=ref_lat)
    else:
        animation = MonthlyHeat([], [], np.zeros(0, dtype=np.int64), ANIM_CELL_M)
    hexes = h3_counts(lon[located], lat[located], h3_res)
    return Analysis(
        n_total=len(frame),
        n_located=int(located.sum()),
        n_in_grids=int(counts.sum()),
        counts=counts,
        population=population,
        rates=rates,
        eb_rates=eb_rates,
        count_classes=classify(counts, "fisher_jenks", CLASSES),
        rate_classes=classify(eb_rates, "fisher_jenks", CLASSES),
        gi=gi,
        lisa=lisa,
        months=months,
        complete=complete,
        monthly=monthly,
        trend=trend,
        emerging=emerging,
        top=top,
        heat=heat,
        animation=animation,
        hexes=hexes,
        hex_classes=classify(hexes["count"].to_numpy(dtype=float), "fisher_jenks", CLASSES),
    )


def _bounded_start(start, end):
    """``start``, moved up so that [start, end] spans at most ``MAX_MONTHS`` months."""
    if start is None or end is None:
        return start
    earliest = pd.Timestamp(end) - pd.DateOffset(months=MAX_MONTHS - 1)
    earliest = earliest.tz_convert(BEIJING_TZ_NAME) if earliest.tzinfo else earliest
    earliest = earliest.replace(day=1, hour=0, minute=0, second=0, microsecond=0, nanosecond=0)
    return max(pd.Timestamp(start), earliest)


def _complete_months(months: list[str], start: pd.Timestamp, end: pd.Timestamp) -> NDArray[np.bool_]:
    """Months wholly inside [start, end] in China time (a day's slack at the end: records close
    at the last complaint, which is seldom at midnight)."""

    def local(ts: pd.Timestamp) -> pd.Timestamp:
        return ts.tz_convert(BEIJING_TZ_NAME).tz_localize(None) if ts.tzinfo else ts

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


def grid_table(analysis: Analysis, grid_set: GridSet, category_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per grid: what the CSV and GeoJSON exports hold (and the page's top list)."""
    grids = grid_set.grids
    communities = grid_set.communities
    trend = analysis.trend
    table = pd.DataFrame(
        {
            "code": grids["code"].astype(str).to_numpy(),
            "name": grids["name"].to_numpy(dtype=object),
            "community_code": grids["community_code"].astype(str).to_numpy(),
            "community": [(communities.get(c) or {}).get("name") for c in grids["community_code"]],
            "population": analysis.population,
            "complaints": analysis.counts,
            "rate_per_1000": np.round(analysis.rates, 3),
            "rate_eb_per_1000": np.round(analysis.eb_rates, 3),
            "count_class": analysis.count_classes.classes + 1,
            "rate_class": analysis.rate_classes.classes + 1,
            "gi_z": np.round(analysis.gi["z"].to_numpy(dtype=float), 4),
            "gi_p": np.round(analysis.gi["p"].to_numpy(dtype=float), 6),
            "gi_bin": analysis.gi["gi_bin"].to_numpy(dtype=np.int64),
            "gi_label": analysis.gi["label"].to_numpy(dtype=object),
            "gi_spot": analysis.gi["spot"].to_numpy(dtype=object),
            "gi_spot_label": analysis.gi["spot_label"].to_numpy(dtype=object),
            "hot_cluster": analysis.gi["cluster"].to_numpy(dtype=np.int64),
            "hot_cluster_size": analysis.gi["cluster_size"].to_numpy(dtype=np.int64),
            "hot_cluster_total": analysis.gi["cluster_total"].to_numpy(dtype=np.int64),
            "lisa": analysis.lisa["lisa"].to_numpy(dtype=object),
            "lisa_p": np.round(analysis.lisa["p"].to_numpy(dtype=float), 6),
            "emerging": analysis.emerging["emerging"].to_numpy(dtype=object)
            if analysis.emerging is not None
            else "",
            "emerging_label": analysis.emerging["emerging_label"].to_numpy(dtype=object)
            if analysis.emerging is not None
            else "",
            "trend": trend["direction"].to_numpy(dtype=np.int64) if trend is not None else 0,
            "sen_slope": np.round(trend["sen_slope"].to_numpy(dtype=float), 3)
            if trend is not None
            else np.nan,
            "top_categories": [
                "; ".join(f"{category_names.get(c, c)}:{k}" for c, k in top) for top in analysis.top
            ],
        }
    )
    # class 0 in the table is "no data" (no population for a rate)
    table.loc[analysis.rate_classes.classes < 0, "rate_class"] = 0
    months = pd.DataFrame(analysis.monthly.T, columns=analysis.months) if analysis.months else None
    return pd.concat([table, months], axis=1) if months is not None else table


def table_csv(table: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows reads the names right."""
    return ("\ufeff" + safe_csv(table, index=False, float_format="%.6g")).encode("utf-8")


def table_geojson(table: pd.DataFrame, grid_set: GridSet, analysis: Analysis, filters: Filters) -> bytes:
    """The table as a FeatureCollection in WGS84, months as one array per grid."""
    month_cols = list(analysis.months)
    plain = table.drop(columns=month_cols)
    features = []
    for i, (row, geom) in enumerate(zip(plain.to_dict("records"), grid_set.index.geoms, strict=True)):
        props = {k: _plain(v) for k, v in row.items()}
        props["monthly"] = analysis.monthly[:, i].tolist()
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    body = {
        "type": "FeatureCollection",
        "grid_version": grid_set.version.id,
        "months": month_cols,
        "filters": {
            "since": filters.since and filters.since.isoformat(),
            "until": filters.until and filters.until.isoformat(),
            "categories": list(filters.categories),
            "states": list(filters.states),
            "channels": list(filters.channels),
        },
        "features": features,
    }
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


@dataclass(frozen=True)
class PlannerView:
    """One analysis with what it was made from; ``key`` names it for caches of renderings."""

    grid_set: GridSet
    filters: Filters
    problems: list[str]
    analysis: Analysis
    key: tuple


class PlannerService:
    def __init__(self, grids: GridService, cases: ComplaintService) -> None:
        self.grids = grids
        self.cases = cases
        self.analyses: Memo[Analysis] = Memo(ANALYSIS_CACHE)

    def category_names(self, lang: str) -> dict[str, str]:
        zh = lang == "zh"
        return {code: (c.name_zh if zh else c.name_en) for code, c in self.cases.catalog.categories.items()}

    def view(self, args: Mapping) -> PlannerView:
        """The analysis for filters given as query values (unknown values are named in ``problems``)."""
        filters, problems = parse_filters(args, self.cases.catalog.categories)
        grid_set = self.grids.grid_set(self.grids.active_version_id())
        stamp = self.cases.store.complaints_stamp()
        key = (grid_set.version.id, stamp, filters.key())

        def build() -> Analysis:
            frame = self.cases.store.complaints_frame(FRAME_COLUMNS, filters.store_filters())
            start, end = _range(filters, stamp)
            return analyse(grid_set, frame, start=start, end=end)

        return PlannerView(grid_set, filters, problems, self.analyses.get(key, build), key)


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
        start = max(start, pd.Timestamp(start_of_day(filters.since)))
    if filters.until:
        end = min(end, pd.Timestamp(end_of_day(filters.until)))
    if end < start:
        return None, None
    return _bounded_start(start, end), end
