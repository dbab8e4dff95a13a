"""Generated demo complaints: two years of a town's record, so maps and statistics show something.

Real complaints are not uniform noise, and a demo that is would hide what the planner
page is for. So the generator builds in what a town's record really holds:

* a few persistent hotspots (a market street with parking and vending trouble, an old
  quarter with power and rented-housing complaints, a construction site, …) that stay
  in place for the whole two years;
* seasonal categories: waterlogging in the rainy months (May–September), noise and
  power cuts in the summer, cooking fumes in the winter;
* a background proportional to each grid's population;
* every complaint's life played through the real workflow rules and the real working-day
  calendar: most are closed after a follow-up call, some are resolved on site, some
  residents are unsatisfied and the case is reopened and re-dispatched, recent ones are
  still open, and some dispatched ones are overdue.

Everything here is invented; nothing describes real complaints in 大沥镇.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from faker import Faker

from complaints import workflow
from complaints.catalog import Catalog
from complaints.workdays import WorkCalendar
from complaints.workflow import Action
from geo.timeutil import BEIJING

#: Relative frequency of each category in the background, and the months it peaks in.
WEIGHTS = {
    "rubbish": 10,
    "illegal_parking": 9,
    "noise": 8,
    "street_vending": 6,
    "sidewalk_damage": 5,
    "road_damage": 5,
    "street_light": 5,
    "cooking_fumes": 4,
    "construction_noise": 4,
    "rental_housing": 4,
    "illegal_ads": 4,
    "sewer_blockage": 3,
    "construction_dust": 3,
    "waterlogging": 3,
    "power_supply": 3,
    "tree": 3,
    "public_security": 3,
    "illegal_construction": 2,
    "fire_lane": 2,
    "manhole_cover": 2,
    "abandoned_vehicle": 2,
    "food_safety": 2,
    "unlicensed_business": 2,
    "water_body": 2,
    "bus_stop": 1,
    "pipe_burst": 1,
    "fire_hazard": 1,
    "road_collapse": 0.3,
    "gas_leak": 0.3,
    "illegal_land_use": 0.5,
    "other": 3,
}
SEASONS = {
    "waterlogging": (5, 6, 7, 8, 9),
    "noise": (6, 7, 8),
    "power_supply": (7, 8),
    "tree": (6, 7, 8, 9),
    "cooking_fumes": (11, 12, 1, 2),
    "construction_dust": (10, 11, 12, 1, 2, 3),
}
#: Persistent hotspots: (name, categories, share of all complaints, spread in metres)
HOTSPOTS = (
    ("市场街", ("illegal_parking", "street_vending", "rubbish"), 0.035, 150),
    ("老城区", ("power_supply", "rental_housing", "fire_hazard"), 0.03, 220),
    ("工地", ("construction_noise", "construction_dust", "road_damage"), 0.02, 120),
    ("河涌", ("water_body", "waterlogging", "sewer_blockage"), 0.02, 250),
    ("夜市", ("noise", "cooking_fumes", "street_vending"), 0.025, 140),
    ("嘉州花园", ("sidewalk_damage", "street_light", "tree"), 0.015, 100),
)
TEMPLATES = {
    "default": (
        "{where}{what}，希望尽快处理。",
        "反映{where}{what}，已持续多日。",
        "{where}{what}，影响居民生活，请相关部门跟进。",
    ),
}
CHANNEL_SHARE = {"hotline": 0.45, "wechat": 0.25, "patrol": 0.2, "walk_in": 0.05, "system": 0.05}


@dataclass(frozen=True)
class DemoComplaint:
    row: dict  # intake fields: source, external_id, reported_at, channel, category_code, text, …
    events: list[workflow.Event]
    final: dict  # state, department_code, dispatched_at, deadline, resolved_at, closed_at, satisfied


def generate(
    grids: gpd.GeoDataFrame,
    catalog: Catalog,
    calendar: WorkCalendar,
    *,
    n: int = 50_000,
    end: datetime.datetime,
    years: float = 2.0,
    seed: int = 0,
    gazetteer: pd.DataFrame | None = None,
    community_kind: dict[str, str] | None = None,
) -> list[DemoComplaint]:
    """``n`` complaints reported over the ``years`` before ``end``, each with its history."""
    rng = np.random.default_rng(seed)
    start = end - datetime.timedelta(days=365.25 * years)
    categories = [c for c in WEIGHTS if c in catalog.categories]
    lon, lat, category, _hotspot = _places(grids, categories, n, rng)
    when = _times(category, n, start, end, rng)
    order = np.argsort(np.array(when, dtype=object))
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    addresses = _nearest_addresses(gazetteer, lon, lat)
    channels = rng.choice(list(CHANNEL_SHARE), size=n, p=list(CHANNEL_SHARE.values()))
    kinds = community_kind or {}
    grid_community = _grid_communities(grids, lon, lat)
    out = []
    for rank, i in enumerate(order):
        code = category[i]
        cat = catalog.categories[code]
        where = addresses[i] or "我家附近"
        what = cat.name_zh.split("（")[0]
        template = TEMPLATES["default"][int(rng.integers(len(TEMPLATES["default"])))]
        reported = when[i]
        row = {
            "source": "demo",
            "external_id": f"DEMO-{reported:%Y%m%d}-{rank + 1:06d}",
            "reported_at": reported,
            "channel": str(channels[i]),
            "category_code": code,
            "text": template.format(where=where, what=what),
            "address": addresses[i],
            "lon": float(lon[i]),
            "lat": float(lat[i]),
            "coordsys": "wgs84",
            "reporter_name": fake.name(),
            "reporter_phone": f"1380014{rank % 10000:04d}",
        }
        kind = kinds.get(grid_community[i], "urban")
        events, final = _play(code, kind, reported, end, catalog, calendar, rng)
        out.append(DemoComplaint(row, events, final))
    return out


def _places(
    grids: gpd.GeoDataFrame,
    categories: list[str],
    n: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points, their categories, and the hotspot each was drawn for (empty for none)."""
    geoms = np.asarray(grids.geometry.values, dtype=object)
    population = (
        grids["population"].fillna(1).to_numpy(float) if "population" in grids else np.ones(len(grids))
    )
    lon, lat = np.empty(n), np.empty(n)
    category = np.empty(n, dtype=object)
    spot = np.full(n, "", dtype=object)
    shares = np.array([h[2] for h in HOTSPOTS])
    in_spot = rng.random(n) < shares.sum()
    which = rng.choice(len(HOTSPOTS), size=n, p=shares / shares.sum())
    centres = shapely.point_on_surface(geoms[rng.choice(len(geoms), size=len(HOTSPOTS), replace=False)])
    cx, cy = shapely.get_x(centres), shapely.get_y(centres)
    k = np.flatnonzero(in_spot)
    town = shapely.union_all(geoms)
    shapely.prepare(town)
    todo = k
    for _ in range(50):  # a hotspot by the town edge spills over it: redraw those points
        spread = np.array([h[3] for h in HOTSPOTS])[which[todo]] / 111_000
        squeeze = np.cos(np.radians(cy[which[todo]]))
        lon[todo] = cx[which[todo]] + rng.normal(0, 1, len(todo)) * spread / squeeze
        lat[todo] = cy[which[todo]] + rng.normal(0, 1, len(todo)) * spread
        todo = todo[~shapely.contains_xy(town, lon[todo], lat[todo])]
        if not len(todo):
            break
    lon[todo], lat[todo] = cx[which[todo]], cy[which[todo]]
    for j, (name, cats, _, _) in enumerate(HOTSPOTS):
        sel = k[which[k] == j]
        category[sel] = rng.choice([c for c in cats if c in categories], size=len(sel))
        spot[sel] = name
    rest = np.flatnonzero(~in_spot)
    grid_of = rng.choice(len(geoms), size=len(rest), p=population / population.sum())
    lon[rest], lat[rest] = _points_in(geoms, grid_of, rng)
    weights = np.array([WEIGHTS[c] for c in categories])
    category[rest] = rng.choice(categories, size=len(rest), p=weights / weights.sum())
    return lon, lat, category, spot


def _points_in(
    geoms: np.ndarray,
    which: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside the given polygons, by rejection within their bounding boxes."""
    bounds = shapely.bounds(geoms)
    x, y = np.empty(len(which)), np.empty(len(which))
    todo = np.arange(len(which))
    shapely.prepare(geoms)
    while len(todo):
        b = bounds[which[todo]]
        tx = rng.uniform(b[:, 0], b[:, 2])
        ty = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(geoms[which[todo]], tx, ty)
        x[todo[ok]], y[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
    return x, y


def _times(
    category: np.ndarray, n: int, start: datetime.datetime, end: datetime.datetime, rng: np.random.Generator
) -> list[datetime.datetime]:
    """Report times: seasonal categories are redrawn until they fall in their season."""
    span = (end - start).total_seconds()
    seconds = rng.uniform(0, span, n)
    for code, months in SEASONS.items():
        sel = np.flatnonzero(category == code)
        for _ in range(20):
            month = np.array(
                [
                    (start + datetime.timedelta(seconds=float(s))).astimezone(BEIJING).month
                    for s in seconds[sel]
                ]
            )
            bad = sel[~np.isin(month, months) & (rng.random(len(sel)) < 0.85)]
            if not len(bad):
                break
            seconds[bad] = rng.uniform(0, span, len(bad))
            sel = bad
    # complaints come in office hours more than at night
    out = []
    for s in seconds:
        t = (start + datetime.timedelta(seconds=float(s))).astimezone(BEIJING)
        hour = int(np.clip(rng.normal(13, 4), 0, 23))
        out.append(
            t.replace(hour=hour, minute=int(rng.integers(60)), second=int(rng.integers(60)), microsecond=0)
        )
    return out


def _nearest_addresses(gazetteer: pd.DataFrame | None, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    if gazetteer is None or gazetteer.empty:
        return [None] * len(lon)
    tree = shapely.STRtree(shapely.points(gazetteer["lon"].to_numpy(float), gazetteer["lat"].to_numpy(float)))
    _, nearest = tree.query_nearest(shapely.points(lon, lat), all_matches=False)
    texts = gazetteer["text"].to_numpy(dtype=object)
    return [str(t) for t in texts[nearest]]


def _grid_communities(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    _, nearest = tree.query_nearest(shapely.points(lon, lat), all_matches=False)
    return grids["community_code"].astype(str).to_numpy(dtype=object)[nearest]


def _play(
    code: str,
    kind: str,
    reported: datetime.datetime,
    end: datetime.datetime,
    catalog: Catalog,
    calendar: WorkCalendar,
    rng: np.random.Generator,
) -> tuple[list[workflow.Event], dict]:
    """A plausible life for one complaint, through the real workflow and calendar."""
    routing = catalog.route(code, kind)
    case = workflow.Case()
    t = reported + datetime.timedelta(minutes=int(rng.integers(10, 240)))
    age_days = (end - reported).total_seconds() / 86400
    who_grid, who_dept = "网格员", routing.department.name_zh.split("（")[0]

    def at(hours: float) -> datetime.datetime:
        return min(t + datetime.timedelta(hours=hours), end - datetime.timedelta(minutes=1))

    def steps() -> Iterable[tuple[str, dict, float]]:
        if age_days < 1.5 and rng.random() < 0.7:
            return  # still collected
        if rng.random() < 0.15:
            yield Action.DELIBERATE, {"note": "网格议事：召集居民、物业协商"}, 20
        if rng.random() < 0.03:
            yield Action.REJECT, {"note": "非本镇事项，已告知反映人"}, 2
            return
        if rng.random() < 0.35:
            yield Action.RESOLVE_ON_SITE, {"note": "网格员现场协调解决"}, 6
        else:
            late = rng.random() < 0.12
            yield Action.DISPATCH, {"department": routing.department.code, "note": "红格发令，派单至部门"}, 2
            if age_days < routing.deadline_days * 1.6 and rng.random() < 0.6:
                return  # still with the department
            if late and rng.random() < 0.35:
                return  # overdue, still open
            days = routing.deadline_days * (rng.uniform(1.1, 2.5) if late else rng.uniform(0.2, 0.95))
            yield Action.RESOLVE, {"note": "部门已处理完毕"}, days * 24 * 1.4
        if rng.random() < 0.1:
            return  # awaiting the call-back
        happy = rng.random() > 0.12
        yield Action.FOLLOW_UP, {"satisfied": happy, "note": "回访满意" if happy else "回访不满意"}, 30
        if not happy:
            if rng.random() < 0.2:
                return  # reopened, waiting to be sent back to a department
            yield Action.DISPATCH, {"department": routing.department.code, "note": "不满意，重新派单"}, 4
            if rng.random() < 0.2:
                return  # back with the department
            yield Action.RESOLVE, {"note": "部门二次处理"}, routing.deadline_days * 24 * 0.8
            second = rng.random() > 0.3
            verdict = "二次回访满意" if second else "仍不满意"
            yield Action.FOLLOW_UP, {"satisfied": second, "note": verdict}, 30

    hours = 0.0
    for action, fields, gap in steps():
        hours += gap
        when = at(hours)
        if action == Action.DISPATCH:
            fields = {**fields, "deadline": calendar.add_workdays(when, routing.deadline_days)}
        who = who_dept if action == Action.RESOLVE else who_grid
        case = case.do(action, who=who, when=when, **fields)
    final: dict[str, object] = {
        "state": case.state.value,
        "department_code": None,
        "dispatched_at": None,
        "deadline": None,
        "resolved_at": None,
        "closed_at": None,
        "satisfied": None,
    }
    for event in case.events:
        if event.action == Action.DISPATCH:
            final.update(department_code=event.department, dispatched_at=event.when, deadline=event.deadline)
        if event.to_state in (workflow.State.RESOLVED, workflow.State.RESOLVED_ON_SITE):
            final["resolved_at"] = event.when
        if event.action == Action.FOLLOW_UP:
            final["satisfied"] = event.satisfied
        if event.to_state == workflow.State.CLOSED:
            final["closed_at"] = event.when
    return list(case.events), final
