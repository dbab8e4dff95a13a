"""Issue 8, item 5: no 500 from any input. Hypothesis throws bad values at the API.

Point lookups, batches, the complaints list/get/file/actions, statistics, geocoding and
Open311 are called through the Flask test client with values at the edges: unicode digits
(``²``, ``٣``), huge integers, dates at the ends of the range, control characters, JSON of
every shape and type, odd Arrow/Parquet bodies. Every answer must be below 500; a 4xx from
the JSON API must be a problem body, and an Open311 ``.xml`` answer must parse. The counts
(requests, bad inputs, 5xx) are printed at the end of the module for the closing note, and
written to ``fuzz-report.json`` in the session's temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections import Counter
from xml.etree import ElementTree as ET

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.apps import Db
from tests.test_complaints_service import api_key

API = "/api/v1"
EXAMPLES = int(os.environ.get("REDGRID_FUZZ_EXAMPLES", "150"))
COUNTS: Counter = Counter()
SERVER_ERRORS: list[tuple[str, str, int]] = []

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

# --- values at the edges ----------------------------------------------------------------------

EDGE_TEXT = [
    "",
    "²",
    "1²",
    "٣",
    "١٢٣",
    "９",
    "-1",
    "0",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    str(10**30),
    str(2**63),
    str(2**31),
    "9" * 400,
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-08:00",
    "1600-03-01",
    "2000-01-01",
    "1999-12-31T23:59:59+08:00",
    "2025-02-30",
    "2025-13-45 25:00",
    "\x00",
    "\x01\x1b[31m",
    "\ufffe",
    "=cmd|' /C calc'!A0",
    "'; DROP TABLE complaints; --",
    "<x>&amp;",
    "a" * 5000,
    "113.1457,23.1110",
    "true",
    "null",
]
edge_text = st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=40))
edge_number = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**31, 2**63, 10**30, -1, 0]),
)
json_scalar = st.one_of(st.none(), st.booleans(), edge_number, edge_text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the app under fuzz -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_app(demo_template: Db, tmp_path_factory):
    """A private copy of the demo database for the whole module (the fuzz files and acts)."""
    root = tmp_path_factory.mktemp("fuzz")
    db = Db(root / "redgrid.db", demo_template.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    return db.app()


@pytest.fixture(scope="module")
def keys(fuzz_app) -> dict[str, dict[str, str]]:
    _, writer = api_key(fuzz_app, "write", "personal_data", name="fuzz-writer")
    _, reader = api_key(fuzz_app, "write", "dispatch", "personal_data", name="fuzz-dispatch")
    return {"writer": {"Authorization": writer}, "reader": {"Authorization": reader}, "anonymous": {}}


@pytest.fixture(scope="module", autouse=True)
def report(request, tmp_path_factory):
    yield
    total = {
        "requests": COUNTS["requests"],
        "bad_inputs": COUNTS["bad_inputs"],
        "server_errors": len(SERVER_ERRORS),
        "by_endpoint": {k[4:]: v for k, v in sorted(COUNTS.items()) if k.startswith("req:")},
        "statuses": {k[7:]: v for k, v in sorted(COUNTS.items()) if k.startswith("status:")},
        "first_server_errors": SERVER_ERRORS[:10],
    }
    path = tmp_path_factory.getbasetemp() / "fuzz-report.json"
    path.write_text(json.dumps(total, ensure_ascii=False, indent=2))
    line = (
        f"fuzz (hypothesis): {total['requests']} requests, {total['bad_inputs']} bad inputs tried, "
        f"{total['server_errors']} 5xx; statuses {total['statuses']}; report {path}"
    )
    # shown after the session's summary (output of fixtures is captured and dropped when they pass)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        request.config.add_cleanup(lambda: reporter.write_line(line))


def call(client, endpoint: str, method: str, url: str, *, bad: bool = True, **kwargs):
    """One request, counted; the answer's body is read whole (a streamed answer to its end)."""
    response = getattr(client, method)(url, **kwargs)
    body = response.get_data()
    COUNTS["requests"] += 1
    COUNTS["bad_inputs"] += int(bad)
    COUNTS[f"req:{endpoint}"] += 1
    COUNTS[f"status:{response.status_code}"] += 1
    if response.status_code >= 500:
        SERVER_ERRORS.append((method.upper(), url[:200], response.status_code))
    assert response.status_code < 500, (method, url[:200], body[:500])
    if url.startswith(API) and 400 <= response.status_code < 500 and response.status_code not in (405,):
        problem = json.loads(body)
        assert problem["error"]["code"] and problem["detail"], problem
    if ".xml" in url.split("?")[0]:
        ET.fromstring(body)  # Open311's XML is always well-formed
    return response, body


# --- point lookup, grids ----------------------------------------------------------------------


@FUZZ
@given(
    coordsys=st.one_of(st.sampled_from(["wgs84", "gcj02", "bd09", "cgcs2000", "EPSG:4326"]), edge_text),
    lon=st.one_of(edge_text, edge_number.map(str)),
    lat=st.one_of(edge_text, edge_number.map(str)),
    version=st.one_of(st.none(), edge_text),
    at=st.one_of(st.none(), edge_text),
)
def test_point_lookup(fuzz_app, coordsys, lon, lat, version, at):
    client = fuzz_app.test_client()
    query = {k: v for k, v in {"version": version, "at": at}.items() if v is not None}
    coordsys = coordsys.replace("/", "") or "wgs84"
    coords = f"{lon},{lat}".replace("/", "").replace("?", "").replace("#", "") or "x"
    call(client, "point", "get", f"{API}/point/{coordsys}/{coords}", query_string=query)


@FUZZ
@given(
    args=st.dictionaries(st.sampled_from(["version", "at", "simplify", "coordsys"]), edge_text, max_size=3),
    code=edge_text,
)
def test_grids(fuzz_app, args, code):
    client = fuzz_app.test_client()
    call(client, "grids", "get", f"{API}/grids", query_string=args)
    safe = code.replace("/", "").replace("?", "").replace("#", "") or "x"
    call(client, "grids", "get", f"{API}/grids/{safe}", query_string=args)


# --- batch --------------------------------------------------------------------------------------


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


arrow_columns = st.one_of(
    st.lists(edge_number.filter(lambda v: isinstance(v, float)), min_size=1, max_size=5).map(pa.array),
    st.lists(st.sampled_from(EDGE_TEXT[:25]), min_size=1, max_size=5).map(lambda v: pa.array(v, pa.string())),
    st.lists(st.booleans(), min_size=1, max_size=5).map(pa.array),
    st.lists(st.lists(st.floats(allow_nan=False), max_size=2), min_size=1, max_size=5).map(pa.array),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=5).map(pa.array),
)


@st.composite
def columnar(draw):
    lon = draw(arrow_columns)
    lat = draw(arrow_columns)
    n = min(len(lon), len(lat))
    names = draw(st.sampled_from([("lon", "lat"), ("x", "y"), ("LON", "纬度"), ("a", "b")]))
    table = pa.table({names[0]: lon.slice(0, n), names[1]: lat.slice(0, n)})
    data = draw(st.sampled_from([_arrow, _parquet]))(table)
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(data))))
    kind = "application/vnd.apache.arrow.stream" if data[:4] != b"PAR1" else "application/vnd.apache.parquet"
    return kind, data if cut is None else data[:cut]


batch_body = st.one_of(
    json_value.map(lambda v: ("application/json", json.dumps(v).encode())),
    st.lists(st.lists(edge_number, max_size=3), max_size=5).map(
        lambda v: ("application/json", json.dumps(v).encode())
    ),
    st.lists(
        st.fixed_dictionaries({"lon": json_scalar, "lat": json_scalar, "id": json_scalar}), max_size=5
    ).map(lambda v: ("application/json", json.dumps(v).encode())),
    st.lists(json_value, max_size=4).map(
        lambda v: ("application/geo+json", json.dumps({"type": "FeatureCollection", "features": v}).encode())
    ),
    st.sampled_from([deep(3000), deep(100_000)]).map(lambda d: ("application/json", d)),
    st.binary(max_size=200).map(lambda b: ("text/csv", b"lon,lat\n" + b)),
    st.binary(max_size=200).map(lambda b: ("application/vnd.apache.arrow.stream", b)),
    st.binary(max_size=200).map(lambda b: ("application/vnd.apache.parquet", b"PAR1" + b + b"PAR1")),
    columnar(),
    st.tuples(
        st.sampled_from(["application/xml", "text/plain", "multipart/form-data"]), st.binary(max_size=50)
    ),
)


@FUZZ
@given(
    body=batch_body,
    fmt=st.one_of(st.none(), st.sampled_from(["json", "ndjson", "csv", "arrow"]), edge_text),
    coordsys=st.one_of(st.none(), edge_text),
)
def test_batch(fuzz_app, body, fmt, coordsys):
    client = fuzz_app.test_client()
    query = {k: v for k, v in {"format": fmt, "coordsys": coordsys}.items() if v is not None}
    mimetype, data = body
    call(client, "points", "post", f"{API}/points", data=data, content_type=mimetype, query_string=query)


# --- complaints ---------------------------------------------------------------------------------

LIST_PARAMS = [
    "limit",
    "offset",
    "since",
    "until",
    "deadline",
    "state",
    "grid",
    "category",
    "overdue",
    "source",
]


@FUZZ
@given(
    args=st.dictionaries(st.sampled_from(LIST_PARAMS), edge_text, max_size=4),
    who=st.sampled_from(["writer", "reader", "anonymous"]),
)
def test_complaints_list(fuzz_app, keys, args, who):
    call(
        fuzz_app.test_client(),
        "complaints.list",
        "get",
        f"{API}/complaints",
        query_string=args,
        headers=keys[who],
    )


@FUZZ
@given(
    complaint_id=st.one_of(st.integers(min_value=0, max_value=10**30), st.sampled_from(EDGE_TEXT[:16])),
    who=st.sampled_from(["writer", "reader", "anonymous"]),
)
def test_complaints_get(fuzz_app, keys, complaint_id, who):
    safe = str(complaint_id).replace("/", "") or "0"
    call(fuzz_app.test_client(), "complaints.get", "get", f"{API}/complaints/{safe}", headers=keys[who])


FILE_FIELDS = [
    "external_id",
    "reported_at",
    "channel",
    "category",
    "text",
    "address",
    "lon",
    "lat",
    "coordsys",
    "reporter_name",
    "reporter_phone",
    "source",
]


@st.composite
def complaint_body(draw):
    base = {"category": "noise", "text": "噪音", "lon": 113.1457, "lat": 23.1110}
    changes = draw(st.dictionaries(st.sampled_from(FILE_FIELDS), json_value, max_size=3))
    return draw(st.one_of(st.just({**base, **changes}), json_value))


@FUZZ
@given(
    body=st.one_of(
        complaint_body().map(lambda v: json.dumps(v).encode()), st.sampled_from([deep(50_000), b"{", b"\xff"])
    )
)
def test_complaints_file(fuzz_app, keys, body):
    call(
        fuzz_app.test_client(),
        "complaints.file",
        "post",
        f"{API}/complaints",
        data=body,
        content_type="application/json",
        headers=keys["writer"],
    )


@pytest.fixture(scope="module")
def a_case(fuzz_app, keys) -> int:
    response = fuzz_app.test_client().post(
        f"{API}/complaints",
        json={
            "external_id": "fuzz-target",
            "category": "noise",
            "text": "噪音",
            "lon": 113.1457,
            "lat": 23.1110,
        },
        headers=keys["writer"],
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.get_json()["id"]


ACTIONS = [
    "deliberate",
    "dispatch",
    "resolve",
    "resolve_on_site",
    "follow_up",
    "reopen",
    "reject",
    "mark_duplicate",
]


@FUZZ
@given(
    action=st.one_of(st.sampled_from(ACTIONS), json_value),
    fields=st.dictionaries(
        st.sampled_from(["version", "note", "department", "deadline", "satisfied", "duplicate_of"]),
        json_value,
        max_size=4,
    ),
    raw=st.one_of(st.none(), st.sampled_from([deep(50_000), b"[1]", b"null", b"\xff"])),
    if_match=st.one_of(st.none(), edge_text),
)
def test_complaints_actions(fuzz_app, keys, a_case, action, fields, raw, if_match):
    data = raw if raw is not None else json.dumps({"action": action, **fields}).encode()
    headers = dict(keys["writer"])
    if if_match is not None and if_match.isprintable() and if_match.isascii():
        headers["If-Match"] = if_match
    call(
        fuzz_app.test_client(),
        "complaints.actions",
        "post",
        f"{API}/complaints/{a_case}/actions",
        data=data,
        content_type="application/json",
        headers=headers,
    )


@FUZZ
@given(
    encoding=st.one_of(st.none(), edge_text),
    data=st.binary(max_size=300),
    name=st.sampled_from(["x.csv", "x.xlsx", "x"]),
)
def test_complaints_import(fuzz_app, keys, encoding, data, name):
    form = {
        "file": (io.BytesIO(b"\xe5\xb7\xa5\xe5\x8d\x95\xe7\xbc\x96\xe5\x8f\xb7,x\n" + data), name),
        "source": "api:fuzz-writer",
    }
    if encoding is not None and "\x00" not in encoding:
        form["encoding"] = encoding
    call(
        fuzz_app.test_client(),
        "complaints.import",
        "post",
        f"{API}/complaints/import",
        data=form,
        headers=keys["writer"],
    )


# --- statistics and geocoding -------------------------------------------------------------------


@FUZZ
@given(
    which=st.sampled_from(["counts", "departments", "satisfaction", "overdue"]),
    args=st.dictionaries(
        st.sampled_from(["by", "since", "until", "format", "grid", "state", "overdue"]), edge_text, max_size=4
    ),
)
def test_stats(fuzz_app, keys, which, args):
    call(
        fuzz_app.test_client(),
        "stats",
        "get",
        f"{API}/stats/{which}",
        query_string=args,
        headers=keys["reader"],
    )


@FUZZ
@given(q=edge_text, k=st.one_of(st.none(), edge_text), coords=edge_text)
def test_geocode(fuzz_app, q, k, coords):
    client = fuzz_app.test_client()
    call(client, "geocode", "get", f"{API}/geocode", query_string={"q": q})
    query = {"k": k} if k is not None else {}
    safe = coords.replace("/", "").replace("?", "").replace("#", "") or "x"
    call(client, "reverse", "get", f"{API}/reverse/wgs84/{safe}", query_string=query)


# --- Open311 ------------------------------------------------------------------------------------

OPEN311_PARAMS = [
    "service_request_id",
    "start_date",
    "end_date",
    "status",
    "service_code",
    "page",
    "page_size",
    "extensions",
]


@FUZZ
@given(
    fmt=st.sampled_from(["json", "xml"]),
    args=st.dictionaries(st.sampled_from(OPEN311_PARAMS), edge_text, max_size=4),
    request_id=st.integers(min_value=0, max_value=10**25),
)
def test_open311_reads(fuzz_app, fmt, args, request_id):
    client = fuzz_app.test_client()
    call(client, "open311.list", "get", f"/open311/v2/requests.{fmt}", query_string=args)
    call(client, "open311.get", "get", f"/open311/v2/requests/{request_id}.{fmt}", query_string=args)


@FUZZ
@given(
    fmt=st.sampled_from(["json", "xml"]),
    form=st.dictionaries(
        st.sampled_from(
            [
                "service_code",
                "description",
                "lat",
                "long",
                "address_string",
                "token",
                "first_name",
                "last_name",
                "phone",
            ]
        ),
        edge_text,
        max_size=6,
    ),
)
def test_open311_create(fuzz_app, keys, fmt, form):
    token = keys["writer"]["Authorization"].removeprefix("Bearer ")
    data = {
        "service_code": "noise",
        "description": "噪音",
        "lat": "23.1110",
        "long": "113.1457",
        **{k: v for k, v in form.items() if "\x00" not in v},
        "api_key": token,
    }
    call(fuzz_app.test_client(), "open311.create", "post", f"/open311/v2/requests.{fmt}", data=data)
