"""Golden answers: the public HTTP API answers exactly as it did before the services move.

A broad list of requests (``READS`` on a read-only database, ``WRITES`` played in order on a
private copy) is sent through the Flask test client, and each answer is compared with the one
recorded in ``tests/fixtures/golden/answers.json`` on the code as it was before the refactor.
Only public HTTP and the command line (through ``tests/apps.py``) are used, so the test keeps
working when the code behind the routes moves.

Record again (only when a change of answers is intended, and review the diff)::

    REDGRID_RECORD_GOLDEN=1 python -m pytest tests/test_golden_answers.py

A normal run never writes any file.

Why the clock is frozen
    ``redgrid demo load`` generates its complaints (seeded, so otherwise deterministic) over the
    two years that end at the start of *today* (China time): report times, external ids,
    seasonal categories, states and deadlines all shift from one day to the next, and so do
    the counts. Answers also read the clock directly: ``deadline_status``, ``overdue=1``,
    ``deadline=``, ``/stats/departments`` (overdue now, on-time rate), ``/stats/overdue``
    (``overdue_days``), Open311 ``requests.json`` (its default window is the 90 days before
    now), the roster team of a grid (posts in force today) and the times stamped on writes.
    Normalising those fields could not make the counts stable, so instead this module builds
    its own demo database (same command as the session fixture: ``demo load --complaints
    3000``) and sends every request with ``datetime.datetime.now()`` / ``utcnow()`` /
    ``date.today()`` frozen at ``FROZEN_NOW`` (2026-06-15 10:00 China time). The freeze is
    confined to the repository's own modules (all imported first): their ``datetime`` names,
    however bound (``import datetime``, ``from datetime import datetime``, aliases), are swapped
    for stand-ins whose ``now`` is frozen and which make only real ``datetime`` objects;
    third-party code is left alone. ``time.time()`` is not frozen (nothing in RedGrid dates
    records with it). Two guards fail loudly if the freeze stops reaching the code: ``demo
    load`` must print ``today is 2026-06-15``, and the newest request in Open311's default
    window must be from 2026-06-14 (``test_the_clock_is_frozen_for_the_requests``).

Normalisations (everything else is compared as is)
    * error answers (status >= 400): only the status and ``error.code`` / ``error.message`` of
      the JSON body (the refactor adds RFC 9457 members such as type/title/status/detail, and
      may change the error Content-Type); Open311 error arrays keep only each element's
      ``code`` and ``description``; XML error bodies are compared as text;
    * ``created_at`` / ``activated_at`` anywhere in a JSON body (when grid versions were
      imported and activated) become ``"<timestamp>"`` when set (``None`` stays ``None``):
      creation times say when the fixture database was made, not what the code does;
    * JSON floats are rounded to 12 significant digits, so a last-bit difference of a
      projection between machines is not a failure;
    * successful answers keep their mimetype and the headers in ``KEPT_HEADERS``; bodies whose
      canonical JSON exceeds ``INLINE_LIMIT`` characters (whole GeoJSON layers, long lists) are
      kept as the SHA-256 of that canonical JSON plus a small summary (top-level scalars and
      list lengths, feature counts), which keeps the fixture small;
    * API keys are random tokens made by ``redgrid apikey create``: they are sent, never stored.
    * not normalised, because the frozen clock makes them stable and they are behaviour worth
      guarding: ``deadline_status``, ``overdue_days``, on-time rates, report/dispatch/deadline
      times, event times of the writes (all ``FROZEN_NOW``), the demo's external ids.

Run::

    python -m pytest tests/test_golden_answers.py
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib
import json
import math
import os
import pkgutil
import sqlite3
import sys
import types
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest

from tests.apps import REPO_ROOT
from tests.apps import Db
from tests.apps import cli_ok

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "golden" / "answers.json"
RECORD = os.environ.get("REDGRID_RECORD_GOLDEN") == "1"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
FROZEN_NOW = datetime.datetime(2026, 6, 15, 10, 0, 0, tzinfo=CHINA)
DEMO_COMPLAINTS = "3000"
INLINE_LIMIT = 24_000
KEPT_HEADERS = (
    "Cache-Control",
    "ETag",
    "X-RedGrid-Version",
    "Content-Disposition",
    "Access-Control-Allow-Origin",
)
API = "/api/v1"
O311 = "/open311/v2"

# --- places in the demo (computed once from data/shapes, written out so the requests never move) ---

INSIDE_A = "113.1661766,23.1185822"  # in 440605125001001 (its representative point)
INSIDE_B = "113.1542497,23.1000631"  # in 440605125018004
INSIDE_C = "113.1249424,23.0996694"  # in 440605125046003
INSIDE_A_GCJ02 = "113.1716013,23.1160018"  # INSIDE_A as GCJ-02
INSIDE_A_BD09 = "113.1780297,23.1222776"  # INSIDE_A as BD-09
ON_EDGE = "113.15295256299203,23.10387378808906"  # mid-point of the edge 440605125018004 | …018002
NEAR_EDGE = "113.1529816,23.1037885"  # 10 m inside 440605125018004 from that edge
DATUM_SUSPECT = "113.2009727,23.1077157"  # outside as WGS84, inside a grid when read as GCJ-02
OUTSIDE_2KM = "113.22,23.11"
FAR_AWAY = "116.397,39.909"  # Beijing
GRID = "440605125018004"
GRID_2 = "440605125001001"
COMMUNITY = "440605125018"


@dataclass(frozen=True)
class Spec:
    """One request: method, path, query, which key to present, and a body."""

    name: str
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    auth: str | None = None  # None, "personal", "write", "plain" (no scope) or "bogus"
    json: Any = None
    data: bytes | dict | None = None
    content_type: str | None = None


def get(name: str, path: str, auth: str | None = None, **query: str) -> Spec:
    return Spec(name, "GET", path, dict(query), auth)


def post(
    name: str,
    path: str,
    *,
    auth: str | None = None,
    query: dict | None = None,
    json: Any = None,
    data: bytes | dict | None = None,
    content_type: str | None = None,
) -> Spec:
    return Spec(name, "POST", path, dict(query or {}), auth, json, data, content_type)


POINTS_JSON = [
    [113.1661766, 23.1185822],
    [113.1542497, 23.1000631],
    [113.22, 23.11],
    [116.397, 39.909],
    [23.11, 113.14],
    [113.15295256299203, 23.10387378808906],
]
POINTS_OBJECTS = [
    {"id": "a", "lon": 113.1661766, "lat": 23.1185822},
    {"id": "b", "lng": 113.1249424, "lat": 23.0996694},
    {"id": "c", "lon": 113.1529816, "lat": 23.1037885},
]
POINTS_CSV = (
    b"id,lon,lat\np1,113.1661766,23.1185822\np2,113.1542497,23.1000631\np3,113.22,23.11\n"
    b"p4,,\np5,200,100\np6,113.1529816,23.1037885\n"
)
POINTS_GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "g1",
            "properties": {"id": "g1"},
            "geometry": {"type": "Point", "coordinates": [113.1661766, 23.1185822]},
        },
        {
            "type": "Feature",
            "id": "g2",
            "properties": {"id": "g2"},
            "geometry": {"type": "Point", "coordinates": [113.2009727, 23.1077157]},
        },
    ],
}


def _point_specs() -> list[Spec]:
    specs = []
    for label, coords in (
        ("inside_a", INSIDE_A),
        ("inside_b", INSIDE_B),
        ("inside_c", INSIDE_C),
        ("on_edge", ON_EDGE),
        ("near_edge", NEAR_EDGE),
        ("datum_suspect", DATUM_SUSPECT),
        ("outside_2km", OUTSIDE_2KM),
        ("far_away", FAR_AWAY),
        ("swapped", "23.1185822,113.1661766"),
        ("out_of_range", "200,100"),
        ("nan", "nan,23.1"),
        ("inf", "inf,23.1"),
        ("words", "abc,def"),
        ("three_numbers", "113.1,23.1,5"),
        ("one_number", "113.1"),
    ):
        specs.append(get(f"point/wgs84/{label}", f"{API}/point/wgs84/{coords}"))
    specs += [
        get("point/gcj02/inside_a", f"{API}/point/gcj02/{INSIDE_A_GCJ02}"),
        get("point/bd09/inside_a", f"{API}/point/bd09/{INSIDE_A_BD09}"),
        get("point/cgcs2000/inside_a", f"{API}/point/cgcs2000/{INSIDE_A}"),
        get("point/gcj02/wgs84_coords", f"{API}/point/gcj02/{INSIDE_B}"),
        get("point/alias/GCJ-02", f"{API}/point/GCJ-02/{INSIDE_A_GCJ02}"),
        get("point/unknown_coordsys", f"{API}/point/utm49/{INSIDE_A}"),
        get("point/personal_key", f"{API}/point/wgs84/{INSIDE_A}", auth="personal"),
        get("point/plain_key", f"{API}/point/wgs84/{INSIDE_A}", auth="plain"),
        get("point/bogus_key", f"{API}/point/wgs84/{INSIDE_A}", auth="bogus"),
        get("point/version_1", f"{API}/point/wgs84/{INSIDE_B}", version="1"),
        get("point/version_999", f"{API}/point/wgs84/{INSIDE_B}", version="999"),
        get("point/version_word", f"{API}/point/wgs84/{INSIDE_B}", version="one"),
        get("point/at_2020", f"{API}/point/wgs84/{INSIDE_B}", at="2020-01-01"),
        get("point/at_frozen_day", f"{API}/point/wgs84/{INSIDE_B}", at="2026-06-15"),
        get("point/at_garbage", f"{API}/point/wgs84/{INSIDE_B}", at="yesterday"),
    ]
    return specs


def _batch_specs() -> list[Spec]:
    pairs = json.dumps(POINTS_JSON).encode()
    return [
        post("points/json_pairs", f"{API}/points", data=pairs, content_type="application/json"),
        post(
            "points/json_pairs/grid",
            f"{API}/points",
            query={"fields": "grid"},
            data=pairs,
            content_type="application/json",
        ),
        post(
            "points/json_objects",
            f"{API}/points",
            data=json.dumps(POINTS_OBJECTS).encode(),
            content_type="application/json",
        ),
        post(
            "points/json_pairs/ndjson",
            f"{API}/points",
            query={"format": "ndjson"},
            data=pairs,
            content_type="application/json",
        ),
        post(
            "points/json_pairs/csv",
            f"{API}/points",
            query={"format": "csv"},
            data=pairs,
            content_type="application/json",
        ),
        post(
            "points/json_pairs/gcj02",
            f"{API}/points",
            query={"coordsys": "gcj02"},
            data=pairs,
            content_type="application/json",
        ),
        post(
            "points/json_pairs/version_1",
            f"{API}/points",
            query={"version": "1"},
            data=pairs,
            content_type="application/json",
        ),
        post("points/csv", f"{API}/points", data=POINTS_CSV, content_type="text/csv"),
        post(
            "points/csv/grid",
            f"{API}/points",
            query={"fields": "grid"},
            data=POINTS_CSV,
            content_type="text/csv",
        ),
        post(
            "points/csv/to_json",
            f"{API}/points",
            query={"format": "json"},
            data=POINTS_CSV,
            content_type="text/csv",
        ),
        post(
            "points/csv/to_ndjson/full",
            f"{API}/points",
            query={"format": "ndjson", "fields": "full"},
            data=POINTS_CSV,
            content_type="text/csv",
        ),
        post(
            "points/geojson",
            f"{API}/points",
            data=json.dumps(POINTS_GEOJSON).encode(),
            content_type="application/geo+json",
        ),
        post(
            "points/geojson/csv",
            f"{API}/points",
            query={"format": "csv"},
            data=json.dumps(POINTS_GEOJSON).encode(),
            content_type="application/geo+json",
        ),
        post("points/empty_list", f"{API}/points", data=b"[]", content_type="application/json"),
        post("points/not_a_list", f"{API}/points", data=b'{"points": 3}', content_type="application/json"),
        post("points/bad_pair", f"{API}/points", data=b'[[1, "x"]]', content_type="application/json"),
        post("points/csv_without_columns", f"{API}/points", data=b"a,b\n1,2\n", content_type="text/csv"),
        post("points/unsupported_type", f"{API}/points", data=b"x", content_type="text/plain"),
        post(
            "points/unknown_format",
            f"{API}/points",
            query={"format": "yaml"},
            data=pairs,
            content_type="application/json",
        ),
        post(
            "points/unknown_coordsys",
            f"{API}/points",
            query={"coordsys": "mars"},
            data=pairs,
            content_type="application/json",
        ),
    ]


def _grid_specs() -> list[Spec]:
    return [
        get("health", f"{API}/health"),
        get("grids", f"{API}/grids"),
        get("grids/version_1", f"{API}/grids", version="1"),
        get("grids/version_999", f"{API}/grids", version="999"),
        get("grids.geojson", f"{API}/grids.geojson"),
        get("grids.geojson/simplify_20", f"{API}/grids.geojson", simplify="20"),
        get("grids.geojson/simplify_bad", f"{API}/grids.geojson", simplify="lots"),
        get("grids.geojson/gcj02", f"{API}/grids.geojson", coordsys="gcj02"),
        get("grid", f"{API}/grids/{GRID}"),
        get("grid/personal_key", f"{API}/grids/{GRID}", auth="personal"),
        get("grid/other", f"{API}/grids/{GRID_2}"),
        get("grid/unknown", f"{API}/grids/440605125999999"),
        get("grid.geojson", f"{API}/grids/{GRID}.geojson"),
        get("grid.geojson/bd09", f"{API}/grids/{GRID}.geojson", coordsys="bd09"),
        get("grid.geojson/simplify", f"{API}/grids/{GRID}.geojson", simplify="10"),
        get("grid.geojson/unknown", f"{API}/grids/440605125999999.geojson"),
        get("communities.geojson", f"{API}/communities.geojson"),
        get("communities.geojson/simplify", f"{API}/communities.geojson", simplify="30"),
        get("community.geojson", f"{API}/communities/{COMMUNITY}.geojson"),
        get("community.geojson/unknown", f"{API}/communities/440605125999.geojson"),
        get("versions", f"{API}/versions"),
        get("version/1", f"{API}/versions/1"),
        get("version/999", f"{API}/versions/999"),
        get("unknown_route", f"{API}/nothing-here"),
    ]


def _complaint_specs() -> list[Spec]:
    c = f"{API}/complaints"
    return [
        get("complaints", c),
        get("complaints/page_1", c, limit="5"),
        get("complaints/page_2", c, limit="5", offset="5"),
        get("complaints/far_page", c, limit="5", offset="2998"),
        get("complaints/personal_key", c, auth="personal", limit="3"),
        get("complaints/grid", c, grid=GRID, limit="5"),
        get("complaints/two_grids", c, grid=f"{GRID},{GRID_2}", limit="3"),
        get("complaints/community", c, community=COMMUNITY, limit="3"),
        get("complaints/category", c, category="noise", limit="5"),
        get("complaints/categories", c, category="noise,rubbish", limit="3"),
        get("complaints/state_closed", c, state="closed", limit="4"),
        get("complaints/state_open", c, state="dispatched,reopened", limit="4"),
        get("complaints/department", c, department="urban_management", limit="3"),
        get("complaints/channel", c, channel="hotline", limit="3"),
        get("complaints/source", c, source="demo", limit="2"),
        get("complaints/since_until", c, since="2026-01-01", until="2026-03-31", limit="5"),
        get("complaints/since_time", c, since="2026-06-01T08:00:00+08:00", limit="5"),
        get("complaints/overdue", c, overdue="1", limit="5"),
        get("complaints/deadline_overdue", c, deadline="overdue", limit="5"),
        get("complaints/deadline_due_soon", c, deadline="due_soon", limit="5"),
        get("complaints/deadline_on_time", c, deadline="on_time", limit="5"),
        get("complaints/deadline_bad", c, deadline="late"),
        get("complaints/limit_bad", c, limit="ten"),
        get("complaints/limit_huge", c, limit="5000", category="gas_leak"),
        get("complaints/since_bad", c, since="someday"),
        get("complaint/1", f"{c}/1"),
        get("complaint/2/personal_key", f"{c}/2", auth="personal"),
        get("complaint/2", f"{c}/2"),
        get("complaint/777", f"{c}/777"),
        get("complaint/1500/personal_key", f"{c}/1500", auth="personal"),
        get("complaint/2999", f"{c}/2999"),
        get("complaint/3000/plain_key", f"{c}/3000", auth="plain"),
        get("complaint/unknown", f"{c}/999999"),
        get("complaint/bogus_key", f"{c}/1", auth="bogus"),
        get("photo/without_personal", f"{c}/1/photos/1"),
        get("photo/unknown", f"{c}/1/photos/1", auth="personal"),
    ]


def _stats_specs() -> list[Spec]:
    s = f"{API}/stats"
    return [
        get("stats/counts", f"{s}/counts"),
        get("stats/counts/category_state", f"{s}/counts", by="category_code,state"),
        get("stats/counts/month", f"{s}/counts", by="month"),
        get("stats/counts/channel_grid_filter", f"{s}/counts", by="channel", grid=GRID),
        get("stats/counts/department_since", f"{s}/counts", by="department_code", since="2026-01-01"),
        get("stats/counts/csv", f"{s}/counts", by="category_code", format="csv"),
        get("stats/counts/bad_by", f"{s}/counts", by="colour"),
        get("stats/departments", f"{s}/departments"),
        get("stats/departments/csv", f"{s}/departments", format="csv"),
        get("stats/departments/community", f"{s}/departments", community=COMMUNITY),
        get("stats/satisfaction", f"{s}/satisfaction"),
        get("stats/satisfaction/department", f"{s}/satisfaction", by="department_code"),
        get("stats/satisfaction/category", f"{s}/satisfaction", by="category_code"),
        get("stats/satisfaction/grid", f"{s}/satisfaction", by="grid_code"),
        get("stats/satisfaction/community_csv", f"{s}/satisfaction", by="community_code", format="csv"),
        get("stats/satisfaction/bad_by", f"{s}/satisfaction", by="colour"),
        get("stats/overdue", f"{s}/overdue"),
        get("stats/overdue/csv", f"{s}/overdue", format="csv"),
        get("stats/overdue/category", f"{s}/overdue", category="rubbish"),
    ]


def _geocode_specs() -> list[Spec]:
    return [
        get("geocode/number", f"{API}/geocode", q="奇槎大道1号"),
        get("geocode/with_town", f"{API}/geocode", q="广东省佛山市南海区大沥镇奇槎大道2号"),
        get("geocode/road_only", f"{API}/geocode", q="奇槎大道"),
        get("geocode/typo", f"{API}/geocode", q="奇槎大路1号"),
        get("geocode/unknown", f"{API}/geocode", q="火星路88号"),
        get("geocode/empty", f"{API}/geocode", q=""),
        get("reverse/wgs84", f"{API}/reverse/wgs84/113.0917,23.1056"),
        get("reverse/wgs84_k2", f"{API}/reverse/wgs84/{INSIDE_B}", k="2"),
        get("reverse/gcj02", f"{API}/reverse/gcj02/{INSIDE_A_GCJ02}", k="3"),
        get("reverse/bad_coords", f"{API}/reverse/wgs84/abc"),
        get("reverse/bad_k", f"{API}/reverse/wgs84/{INSIDE_B}", k="many"),
        get("catalog", f"{API}/catalog"),
    ]


def _open311_specs() -> list[Spec]:
    return [
        get("open311/discovery.json", f"{O311}/discovery.json"),
        get("open311/discovery.xml", f"{O311}/discovery.xml"),
        get("open311/services.json", f"{O311}/services.json"),
        get("open311/services.xml", f"{O311}/services.xml"),
        get("open311/services.csv", f"{O311}/services.csv"),
        get("open311/service/noise.json", f"{O311}/services/noise.json"),
        get("open311/service/noise.xml", f"{O311}/services/noise.xml"),
        get("open311/service/ufo.json", f"{O311}/services/ufo.json"),
        get("open311/service/ufo.xml", f"{O311}/services/ufo.xml"),
        get("open311/requests.json", f"{O311}/requests.json"),
        get("open311/requests.json/page_size", f"{O311}/requests.json", page_size="3"),
        get("open311/requests.json/page_2", f"{O311}/requests.json", page_size="3", page="2"),
        get(
            "open311/requests.json/window",
            f"{O311}/requests.json",
            start_date="2026-03-01T00:00:00+08:00",
            end_date="2026-03-03T00:00:00+08:00",
        ),
        get("open311/requests.json/status_open", f"{O311}/requests.json", status="open", page_size="4"),
        get(
            "open311/requests.json/status_closed_noise",
            f"{O311}/requests.json",
            status="closed",
            service_code="noise",
            page_size="4",
        ),
        get("open311/requests.json/extensions", f"{O311}/requests.json", page_size="2", extensions="true"),
        get("open311/requests.json/ids", f"{O311}/requests.json", service_request_id="1,2,999999"),
        get("open311/requests.xml/page_size", f"{O311}/requests.xml", page_size="2"),
        get("open311/requests.json/bad_status", f"{O311}/requests.json", status="pending"),
        get(
            "open311/requests.json/long_window",
            f"{O311}/requests.json",
            start_date="2025-01-01",
            end_date="2026-01-01",
        ),
        get("open311/requests.json/bad_date", f"{O311}/requests.json", start_date="soon"),
        get("open311/requests.json/bad_page_size", f"{O311}/requests.json", page_size="many"),
        get("open311/request/1.json", f"{O311}/requests/1.json"),
        get("open311/request/1.xml", f"{O311}/requests/1.xml"),
        get("open311/request/2.json/extensions", f"{O311}/requests/2.json", extensions="true"),
        get("open311/request/2.xml/extensions", f"{O311}/requests/2.xml", extensions="true"),
        get("open311/request/unknown.json", f"{O311}/requests/999999.json"),
        get("open311/request/unknown.xml", f"{O311}/requests/999999.xml"),
        get("open311/request/1.yaml", f"{O311}/requests/1.yaml"),
    ]


READS: list[Spec] = [
    *_grid_specs(),
    *_point_specs(),
    *_batch_specs(),
    *_complaint_specs(),
    *_stats_specs(),
    *_geocode_specs(),
    *_open311_specs(),
]

NEW_COMPLAINT = {
    "external_id": "GOLDEN-1",
    "reported_at": "2026-06-14T08:30:00+08:00",
    "category": "noise",
    "text": "夜间装修噪音",
    "lon": 113.1542497,
    "lat": 23.1000631,
    "reporter_name": "陈女士",
    "reporter_phone": "13800138000",
    "channel": "热线",
}
NEW_ID = 3001  # the demo holds 3000 complaints; the first one filed here gets the next id
OPEN311_ID = 3002
ACT = f"{API}/complaints/{NEW_ID}/actions"
OPEN311_FORM = {
    "service_code": "street_light",
    "lat": "23.0996694",
    "long": "113.1249424",
    "description": "路灯不亮",
    "address_string": "奇槎大道1号",
    "first_name": "小红",
    "last_name": "陈",
    "phone": "13900139000",
    "token": "golden-open311-1",
}

#: Played in this order on one private copy of the database: each step sees the ones before.
WRITES: list[Spec] = [
    post("write/file/no_key", f"{API}/complaints", json=NEW_COMPLAINT),
    post("write/file/read_key", f"{API}/complaints", auth="personal", json=NEW_COMPLAINT),
    post("write/file", f"{API}/complaints", auth="write", json=NEW_COMPLAINT),
    post("write/file/again", f"{API}/complaints", auth="write", json=NEW_COMPLAINT),
    post(
        "write/file/unknown_category",
        f"{API}/complaints",
        auth="write",
        json={**NEW_COMPLAINT, "external_id": "GOLDEN-2", "category": "ufo"},
    ),
    post(
        "write/file/future",
        f"{API}/complaints",
        auth="write",
        json={**NEW_COMPLAINT, "external_id": "GOLDEN-3", "reported_at": "2026-07-01T08:00:00+08:00"},
    ),
    post("write/file/not_json", f"{API}/complaints", auth="write", data=b"hello", content_type="text/plain"),
    get("write/read/new", f"{API}/complaints/{NEW_ID}"),
    post("write/act/no_version", ACT, auth="write", json={"action": "deliberate"}),
    post(
        "write/act/deliberate",
        ACT,
        auth="write",
        json={"action": "deliberate", "version": 1, "note": "网格议事"},
    ),
    post(
        "write/act/dispatch",
        ACT,
        auth="write",
        json={
            "action": "dispatch",
            "version": 2,
            "department": "urban_management",
            "deadline": "2026-06-30T18:00:00+08:00",
            "note": "派单",
        },
    ),
    post("write/act/stale_version", ACT, auth="write", json={"action": "resolve", "version": 2}),
    post(
        "write/act/illegal_step",
        ACT,
        auth="write",
        json={"action": "follow_up", "version": 3, "satisfied": True},
    ),
    post("write/act/unknown_action", ACT, auth="write", json={"action": "fly", "version": 3}),
    post(
        "write/act/unknown_department",
        ACT,
        auth="write",
        json={"action": "dispatch", "version": 3, "department": "moon_office"},
    ),
    post("write/act/read_key", ACT, auth="personal", json={"action": "resolve", "version": 3}),
    post("write/act/resolve_if_match", ACT, auth="write", json={"action": "resolve", "note": "已处理"}),
    post(
        "write/act/unknown_complaint",
        f"{API}/complaints/999999/actions",
        auth="write",
        json={"action": "deliberate", "version": 1},
    ),
    get("write/read/after/personal_key", f"{API}/complaints/{NEW_ID}", auth="personal"),
    get("write/read/after/list", f"{API}/complaints", grid=GRID, limit="2"),
    get("write/read/after/overdue", f"{API}/complaints", deadline="due_soon", limit="3"),
    post("write/open311/no_key", f"{O311}/requests.json", data=OPEN311_FORM),
    post("write/open311/read_key", f"{O311}/requests.json", data={**OPEN311_FORM, "api_key": "<personal>"}),
    post("write/open311/file", f"{O311}/requests.json", data={**OPEN311_FORM, "api_key": "<write>"}),
    post(
        "write/open311/bad_service",
        f"{O311}/requests.json",
        data={**OPEN311_FORM, "api_key": "<write>", "service_code": "ufo", "token": "golden-open311-2"},
    ),
    post(
        "write/open311/file.xml",
        f"{O311}/requests.xml",
        data={**OPEN311_FORM, "api_key": "<write>", "token": "golden-open311-3", "service_code": "rubbish"},
    ),
    get("write/open311/read", f"{O311}/requests/{OPEN311_ID}.json", extensions="true"),
    get("write/open311/read.xml", f"{O311}/requests/{OPEN311_ID}.xml"),
    get("write/stats/counts_after", f"{API}/stats/counts", by="state", since="2026-06-14"),
]
# the If-Match step carries its header instead of a JSON version
IF_MATCH = {"write/act/resolve_if_match": '"3"'}


# --- the frozen clock ---------------------------------------------------------------------------

_REAL_DATETIME = datetime.datetime
_REAL_DATE = datetime.date


class _DatetimeMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _REAL_DATETIME)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _REAL_DATETIME)


class _DateMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _REAL_DATE)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _REAL_DATE)


class _FrozenDatetime(_REAL_DATETIME, metaclass=_DatetimeMeta):
    """``datetime.datetime`` whose ``now`` is ``FROZEN_NOW``; every instance made is a real one."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        return _REAL_DATETIME(*args, **kwargs)

    @classmethod
    def now(cls, tz=None):
        return FROZEN_NOW.astimezone(tz) if tz is not None else FROZEN_NOW.astimezone().replace(tzinfo=None)

    @classmethod
    def utcnow(cls):
        return FROZEN_NOW.astimezone(datetime.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls):
        return cls.now()


class _FrozenDate(_REAL_DATE, metaclass=_DateMeta):
    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        return _REAL_DATE(*args, **kwargs)

    @classmethod
    def today(cls):
        return FROZEN_NOW.astimezone().date()


class _FrozenDatetimeModule(types.ModuleType):
    """The ``datetime`` module as repository code sees it: the clock frozen, the rest untouched."""

    datetime = _FrozenDatetime
    date = _FrozenDate

    def __getattr__(self, name: str):
        return getattr(datetime, name)


def _repository_modules() -> list[types.ModuleType]:
    """Every module of the repository's own packages (imported now, so none binds the real clock
    later); third-party code (Cython extensions check the datetime types) is left alone."""
    for child in sorted(REPO_ROOT.iterdir()):
        if child.name in ("tests", ".venv") or not (child / "__init__.py").exists():
            continue
        package = importlib.import_module(child.name)
        for info in pkgutil.walk_packages(package.__path__, f"{child.name}."):
            with contextlib.suppress(Exception):  # an optional extra that is not installed
                importlib.import_module(info.name)
    root = str(REPO_ROOT)
    return [
        m
        for m in list(sys.modules.values())
        if (getattr(m, "__file__", None) or "").startswith(root)
        and not (getattr(m, "__file__", None) or "").startswith(str(REPO_ROOT / ".venv"))
        and not m.__name__.startswith("tests")
    ]


@contextlib.contextmanager
def frozen_clock():
    """Inside the block, repository code reads ``FROZEN_NOW`` from ``datetime.datetime.now()``,
    ``utcnow()`` and ``date.today()``, however it imported them (``import datetime``,
    ``from datetime import datetime``, aliases)."""
    frozen_module = _FrozenDatetimeModule("datetime")
    originals = (datetime, _REAL_DATETIME, _REAL_DATE)
    stand_ins = {
        id(datetime): frozen_module,
        id(_REAL_DATETIME): _FrozenDatetime,
        id(_REAL_DATE): _FrozenDate,
    }
    swapped: list[tuple[types.ModuleType, str, Any]] = []
    for module in _repository_modules():
        for name, value in list(vars(module).items()):
            if any(value is original for original in originals):
                swapped.append((module, name, value))
    try:
        for module, name, value in swapped:
            setattr(module, name, stand_ins[id(value)])
        yield
    finally:
        for module, name, value in swapped:
            setattr(module, name, value)


# --- databases, keys and clients ------------------------------------------------------------------


@dataclass
class Golden:
    db: Db
    tokens: dict[str, str]


def _key(db: Db, name: str, *scopes: str) -> str:
    args = ["apikey", "create", name]
    for scope in scopes:
        args += ["--scope", scope]
    token = cli_ok(db.cli(*args)).stdout.strip()
    assert token.startswith("rg_"), token
    return token


@pytest.fixture(scope="module")
def clock():
    with frozen_clock():
        yield


@pytest.fixture(scope="module")
def golden(clock, tmp_path_factory) -> Golden:
    """The demo loaded on the frozen day, with three API keys; read only once made."""
    root = tmp_path_factory.mktemp("golden")
    # the same look-up-table cache as the session's demo (its keys make sharing safe)
    db = Db(root / "redgrid.db", tmp_path_factory.getbasetemp() / "lut-cache")
    loaded = cli_ok(db.cli("demo", "load", "--complaints", DEMO_COMPLAINTS))
    assert f"today is {FROZEN_NOW.date().isoformat()}" in loaded.stdout, (
        "the frozen clock did not reach `redgrid demo load`; the demo complaints now depend on the "
        f"day the test runs (does the code read the clock other than by datetime.now?)\n{loaded.stdout}"
    )
    tokens = {
        "personal": _key(db, "golden-reader", "personal_data"),
        # the dispatch centre's system: since issue 8 only it dispatches, follows up and closes
        "write": _key(db, "golden-writer", "write", "personal_data", "dispatch"),
        "plain": _key(db, "golden-plain"),
        "bogus": "rg_not-a-key",
    }
    return Golden(db, tokens)


@pytest.fixture(scope="module")
def read_client(golden):
    return golden.db.app().test_client()


@pytest.fixture
def write_client(golden, tmp_path):
    """A client on a private copy of the golden database (SQLite's backup API: WAL-safe)."""
    db = Db(tmp_path / "redgrid.db", golden.db.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(golden.db.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    return db.app().test_client()


# --- sending and normalising --------------------------------------------------------------------


def send(client, spec: Spec, tokens: dict[str, str]):
    headers = {}
    if spec.auth:
        headers["Authorization"] = f"Bearer {tokens[spec.auth]}"
    if spec.name in IF_MATCH:
        headers["If-Match"] = IF_MATCH[spec.name]
    kwargs: dict[str, Any] = {"query_string": spec.query, "headers": headers}
    if spec.json is not None:
        kwargs["json"] = spec.json
    elif isinstance(spec.data, dict):  # a form; "<write>" stands for that key's token
        kwargs["data"] = {
            k: tokens[v[1:-1]]
            if isinstance(v, str) and v.startswith("<") and v.endswith(">") and v[1:-1] in tokens
            else v
            for k, v in spec.data.items()
        }
    elif spec.data is not None:
        kwargs["data"] = spec.data
        kwargs["content_type"] = spec.content_type
    return client.open(spec.path, method=spec.method, **kwargs)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<timestamp>" if k in ("created_at", "activated_at") and v is not None else normalise(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    return value


def _json_or_none(response) -> Any:
    try:
        return json.loads(response.get_data(as_text=True))
    except ValueError:
        return None


def _summary(body: Any) -> Any:
    if isinstance(body, list):
        return {"items": len(body)}
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            if isinstance(value, list):
                out[f"len({key})"] = len(value)
            elif not isinstance(value, dict):
                out[key] = value
        return out
    return {"chars": len(body)}


def answer(response) -> dict:
    """What is compared of one response (see the module docstring)."""
    out: dict[str, Any] = {"status": response.status_code}
    if response.status_code >= 400:
        body = _json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            out["error"] = {"code": body["error"].get("code"), "message": body["error"].get("message")}
        elif isinstance(body, list):  # Open311 errors: [{"code": 404, "description": ...}]
            out["errors"] = [{"code": e.get("code"), "description": e.get("description")} for e in body]
        else:
            out["text"] = response.get_data(as_text=True)
        return out
    out["mimetype"] = response.mimetype
    out["headers"] = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    text = response.get_data(as_text=True)
    if response.mimetype in ("application/json", "application/geo+json"):
        body: Any = normalise(json.loads(text))
    elif response.mimetype == "application/x-ndjson":
        body = [normalise(json.loads(line)) for line in text.splitlines() if line.strip()]
    else:
        body = text
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if len(canonical) > INLINE_LIMIT:
        out["sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
        out["summary"] = _summary(body)
    else:
        out["body"] = body
    return out


# --- recording and comparing --------------------------------------------------------------------

_recorded: dict[str, dict] = {}


@pytest.fixture(scope="module")
def golden_answers():
    """The recorded answers; in record mode, the answers of this run are written at the end."""
    stored = json.loads(FIXTURE.read_text(encoding="utf-8")) if FIXTURE.exists() else {}
    yield stored
    if RECORD and _recorded:
        names = [s.name for s in (*READS, *WRITES)]
        merged = {**stored, **_recorded}
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(
            json.dumps({n: merged[n] for n in names if n in merged}, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )


def check(name: str, got: dict, golden_answers: dict) -> str | None:
    """A mismatch report, or None; in record mode, keep the answer instead."""
    if RECORD:
        _recorded[name] = got
        return None
    if name not in golden_answers:
        return f"{name}: no recorded answer (record with REDGRID_RECORD_GOLDEN=1)"
    want = golden_answers[name]
    if got != want:
        return (
            f"{name}: answer changed\n  recorded: {json.dumps(want, ensure_ascii=False)[:1500]}\n"
            f"  now:      {json.dumps(got, ensure_ascii=False)[:1500]}"
        )
    return None


def test_specs_have_unique_names():
    names = [s.name for s in (*READS, *WRITES)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_clock_is_frozen_for_the_requests(read_client, golden):
    """Open311's default window ends now: the newest demo request is from the day before FROZEN_NOW."""
    response = read_client.get(f"{O311}/requests.json", query_string={"page_size": "1"})
    newest = response.get_json()[0]["requested_datetime"]
    assert newest.startswith("2026-06-14"), (
        f"the newest complaint in the default window was requested at {newest}: the frozen clock "
        "no longer reaches the request handlers"
    )


@pytest.mark.parametrize("spec", READS, ids=[s.name for s in READS])
def test_read_answer_is_unchanged(spec: Spec, read_client, golden, golden_answers):
    problem = check(spec.name, answer(send(read_client, spec, golden.tokens)), golden_answers)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_write_answers_are_unchanged(write_client, golden, golden_answers):
    problems = [
        check(spec.name, answer(send(write_client, spec, golden.tokens)), golden_answers) for spec in WRITES
    ]
    problems = [p for p in problems if p]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
