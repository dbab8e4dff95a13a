"""Issue 8, items 4, 5 and 10 (CSV): atomic actions, bounded stored data, no 500 from any input.

Each failure found (a 2027 dispatch answered 422 but saved, then breaking every list; a
complaint dated 1600 breaking the planner; a control character breaking the Open311 XML;
``²`` and huge integers, odd JSON/Arrow/Parquet, an unknown encoding giving 500s; formula
cells in CSV exports) is a test here.
"""

from __future__ import annotations

import datetime
import io
import json
from xml.etree import ElementTree as ET

import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from complaints import intake
from complaints.workdays import UnknownCalendarYear
from geo.errors import FileFormatError
from geo.errors import RowErrors
from services.csvsafe import safe_csv
from services.csvsafe import safe_frame
from services.errors import Invalid
from tests.apps import inside_point
from tests.test_complaints_service import Clock
from tests.test_complaints_service import api_key
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install

API = "/api/v1"


def names(body, *fields: str) -> bool:
    """Whether a problem body names every one of ``fields`` (its ``field`` member or its text)."""
    text = json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body
    return all(f in text for f in fields)


@pytest.fixture
def clock() -> Clock:
    return Clock("2026-11-30T09:00:00+08:00")


@pytest.fixture
def svc(fresh_app, clock):
    return install(fresh_app, clock)


@pytest.fixture
def reader(fresh_app) -> dict:
    _, header = api_key(fresh_app, "write", "personal_data", name="reader-key")
    return {"Authorization": header}


# --- 4. atomic actions, and readers that tolerate what is stored ------------------------------


def _first_unknown_year() -> int:
    from complaints.workdays import WorkCalendar

    return next(y for y in range(2027, 2200) if not WorkCalendar().knows(y))


def test_a_dispatch_with_a_deadline_in_a_year_without_a_schedule_is_kept_as_provisional(
    svc, clock, demo_grids
):
    # issue 9: such a dispatch is no longer refused; the deadline is stored, marked provisional
    year = _first_unknown_year()
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "atomic-1", "2026-11-29 09:00")
    deadline = datetime.datetime(year, 1, 5, 18, 0, tzinfo=datetime.UTC)
    svc.transition(
        case.id,
        "dispatch",
        expected_version=case.row_version,
        actor="test",
        department="urban_management",
        deadline=deadline,
    )
    after = svc.store.complaint(case.id)
    assert (after.state, after.row_version, after.deadline) == ("dispatched", 2, deadline)
    assert after.deadline_provisional is True
    assert [e.action for e in svc.store.complaint_events(case.id)] == ["collect", "dispatch"]


def test_a_refused_dispatch_on_a_calendar_without_provisional_years_changes_nothing(svc, clock, demo_grids):
    from complaints.workdays import WorkCalendar

    year = _first_unknown_year()
    svc.calendar = WorkCalendar()  # the library alone: a year without a schedule is refused
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "atomic-1b", "2026-11-29 09:00")
    with pytest.raises(UnknownCalendarYear):
        svc.transition(
            case.id,
            "dispatch",
            expected_version=case.row_version,
            actor="test",
            department="urban_management",
            deadline=datetime.datetime(year, 1, 5, 18, 0, tzinfo=datetime.UTC),
        )
    after = svc.store.complaint(case.id)
    assert (after.state, after.row_version, after.deadline) == ("collected", 1, None)
    assert [e.action for e in svc.store.complaint_events(case.id)] == ["collect"]


def test_a_deadline_years_ahead_or_a_long_note_is_refused_before_writing(svc, demo_grids):
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "atomic-2", "2026-11-29 09:00")
    with pytest.raises(Invalid) as info:
        svc.transition(
            case.id,
            "dispatch",
            expected_version=1,
            actor="t",
            department="urban_management",
            deadline=datetime.datetime(2026, 12, 30, tzinfo=datetime.UTC) + datetime.timedelta(days=800),
        )
    assert info.value.field == "deadline"
    with pytest.raises(Invalid) as info:
        svc.transition(case.id, "deliberate", expected_version=1, actor="t", note="长" * 5000)
    assert info.value.field == "note"
    assert svc.store.complaint(case.id).row_version == 1


def _store_dispatch_as_an_older_version_did(svc, case, deadline: datetime.datetime) -> None:
    now = svc.now()
    svc.store.update_complaint(
        case.id,
        case.row_version,
        {
            "state": "dispatched",
            "department_code": "urban_management",
            "dispatched_at": now,
            "deadline": deadline,
        },
        {
            "at": now,
            "actor": "old-version",
            "action": "dispatch",
            "from_state": "collected",
            "to_state": "dispatched",
            "note": None,
            "department_code": "urban_management",
            "deadline": deadline,
            "satisfied": None,
            "duplicate_of": None,
        },
    )


def test_a_case_stored_with_a_deadline_in_an_unknown_year_still_shows_everywhere(
    fresh_app, fresh_client, svc, demo_grids, reader
):
    year = _first_unknown_year()
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "atomic-3", "2026-11-29 09:00")
    _store_dispatch_as_an_older_version_did(svc, case, datetime.datetime(year, 1, 8, 18, tzinfo=datetime.UTC))
    far = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "atomic-4", "2026-11-29 09:00")
    _store_dispatch_as_an_older_version_did(svc, far, datetime.datetime(2900, 1, 8, tzinfo=datetime.UTC))

    assert svc.deadline_status(svc.store.complaint(case.id)).value in ("on_time", "due_soon")
    assert svc.deadline_status(svc.store.complaint(far.id)).value == "on_time"
    for url in (
        f"{API}/complaints",
        f"{API}/complaints?deadline=on_time",
        f"{API}/complaints/{case.id}",
        f"{API}/complaints/{far.id}",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{case.id}.xml",
    ):
        response = fresh_client.get(url, headers=reader)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    listed = fresh_client.get(f"{API}/complaints?source=test", headers=reader).get_json()["complaints"]
    assert {c["id"] for c in listed} >= {case.id, far.id}


def test_a_complaint_dated_1600_does_not_make_the_planner_allocate_centuries(fresh_app, svc, demo_grids):
    from services.planner import MAX_MONTHS

    item = intake.check(
        {
            "external_id": "old-1600",
            "reported_at": "2025-01-01 09:00",
            "category": "noise",
            "text": "老数据",
            "lon": inside_point(demo_grids, sorted(demo_grids["code"])[5])[0],
            "lat": inside_point(demo_grids, sorted(demo_grids["code"])[5])[1],
        },
        catalog=svc.catalog,
        source="legacy",
    )
    row, event = svc._record(item, svc.place(item))
    row["reported_at"] = event["at"] = datetime.datetime(1600, 3, 1, tzinfo=datetime.UTC)
    svc.store.add_complaints([row], [[event]])  # as an older version, without today's intake check
    planner = fresh_app.extensions["redgrid"].planner
    view = planner.view({})
    assert 0 < len(view.analysis.months) <= MAX_MONTHS
    assert view.analysis.monthly.shape[0] == len(view.analysis.months)
    # and a planner's since= at the edge of the range is named, not a crash
    assert any("since" in p for p in planner.view({"since": "0001-01-01"}).problems)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reported_at", "1999-12-31 23:59", "before 2000-01-01"),
        ("reported_at", "1600-03-01", "before 2000-01-01"),
        ("reported_at", "0001-01-01T00:00:00+08:00", "before 2000-01-01"),
        ("reported_at", "9999-12-31T23:59:59-08:00", "in the future"),
        ("reported_at", "2999-01-01 00:00", "in the future"),
        ("text", "长" * 4001, "at most 4000"),
        ("address", "地" * 501, "at most 500"),
        ("reporter_name", "名" * 101, "at most 100"),
        ("reporter_phone", "1" * 41, "at most 40"),
        ("external_id", "x" * 129, "at most 128"),
        ("text", {"a": 1}, "not an object"),
        ("lon", [113.1, 23.1], "not a list"),
        ("lon", "1²3", "not a number"),
        ("lat", 10**30, "out of range"),
    ],
)
def test_intake_bounds_every_field_and_names_it(svc, field, value, message):
    values = {"external_id": "b-1", "reported_at": "2025-01-01 09:00", "category": "noise", "text": "噪音"}
    values |= {"lon": 113.14, "lat": 23.11}
    values[field] = value
    with pytest.raises(RowErrors) as info:
        intake.check(values, catalog=svc.catalog, source="test")
    assert [e.field for e in info.value.errors] == [field]
    assert message in info.value.errors[0].message


def test_a_source_name_longer_than_the_store_holds_is_refused(svc):
    values = {
        "external_id": "s",
        "reported_at": "2025-01-01",
        "category": "noise",
        "text": "x",
        "address": "a",
    }
    with pytest.raises(RowErrors) as info:
        intake.check(values, catalog=svc.catalog, source="s" * 65)
    assert [e.field for e in info.value.errors] == ["source"]


def test_control_characters_never_reach_the_store(svc):
    values = {
        "external_id": "c\x00",
        "reported_at": "2025-01-01",
        "category": "noise",
        "text": "a\x01b\tc\nd",
    }
    item = intake.check(values | {"address": "振兴路80号\x0b"}, catalog=svc.catalog, source="test")
    assert (item.external_id, item.text, item.address) == ("c", "ab\tc\nd", "振兴路80号")


# --- 5. no 500 from any input: the cases found ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{API}/complaints?limit=²", "limit"),
        (f"{API}/complaints?limit=" + "9" * 30, "limit"),
        (f"{API}/complaints?offset=" + "9" * 30, "offset"),
        (f"{API}/complaints?since=0001-01-01", "since"),
        (f"{API}/complaints?until=9999-12-31T23:59:59-08:00", "until"),
        (f"{API}/point/wgs84/113.1457,23.1110?version=" + "9" * 30, "version"),
        (f"{API}/point/wgs84/113.1457,23.1110?version=²", "version"),
        (f"{API}/point/wgs84/113.1457,23.1110?at=0001-01-01", "at"),
        (f"{API}/point/wgs84/113.1457,23.1110?at=9999-12-31T23:00-08:00", "at"),
        (f"{API}/stats/counts?since=0001-01-01T00:00+08:00", "since"),
        (f"{API}/reverse/wgs84/113.1457,23.1110?k=" + "9" * 40, "k"),
    ],
)
def test_bad_query_values_are_4xx_naming_the_parameter(fresh_client, reader, url, field):
    response = fresh_client.get(url, headers=reader)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert names(response.get_json(), field)


@pytest.mark.parametrize("complaint_id", ["9" * 25, str(2**31), str(2**63)])
def test_huge_ids_are_not_found(fresh_client, reader, complaint_id):
    assert fresh_client.get(f"{API}/complaints/{complaint_id}", headers=reader).status_code == 404
    response = fresh_client.post(
        f"{API}/complaints/{complaint_id}/actions",
        json={"action": "deliberate", "version": 1},
        headers=reader,
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "deliberate", "version": "9" * 30}, "version"),
        ({"action": "deliberate", "version": 1, "note": {"a": 1}}, "note"),
        ({"action": "deliberate", "version": 1, "note": "长" * 3000}, "note"),
        ({"action": "dispatch", "version": 1, "deadline": 5}, "deadline"),
        ({"action": "dispatch", "version": 1, "deadline": "0001-01-01T00:00+08:00"}, "deadline"),
        ({"action": "mark_duplicate", "version": 1, "duplicate_of": ["1"]}, "duplicate_of"),
    ],
)
def test_wrongly_typed_or_huge_action_fields_are_4xx_naming_the_field(
    fresh_client, svc, demo_grids, reader, body, field
):
    case = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "typed-1", "2026-11-29 09:00")
    response = fresh_client.post(f"{API}/complaints/{case.id}/actions", json=body, headers=reader)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code != 403:  # a key not allowed the action is refused before its fields
        assert names(response.get_json(), field)
    assert svc.store.complaint(case.id).row_version == 1


@pytest.mark.parametrize(
    "data",
    [b"[1, 2, 3]", b'"text"', b"null", b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000],
)
def test_json_that_is_not_an_object_or_is_deep_is_a_400(fresh_client, reader, data):
    response = fresh_client.post(
        f"{API}/complaints", data=data, content_type="application/json", headers=reader
    )
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"] in ("bad_json", "invalid_rows", "forbidden")


def test_wrongly_typed_complaint_fields_are_named(fresh_client, reader):
    body = {"category": "noise", "text": ["a"], "lon": {"x": 1}, "lat": 23.1, "reported_at": "1600-01-01"}
    response = fresh_client.post(f"{API}/complaints", json=body, headers=reader)
    assert response.status_code in (400, 403, 422)
    if response.status_code == 422:
        assert {r["field"] for r in response.get_json()["error"]["rows"]} >= {"text", "lon", "reported_at"}


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


ODD_BATCHES = [
    ("application/json", b'[[1, 2], {"lon": 1}]'),
    ("application/json", b'[{"lon": {"a": 1}, "lat": [1]}]'),
    ("application/json", b'{"type": "FeatureCollection", "features": [1, "x"]}'),
    ("application/json", b'{"type": "FeatureCollection", "features": {"a": 1}}'),
    ("application/json", b'{"type": "FeatureCollection", "features": [{"geometry": {"type": "Point"}}]}'),
    (
        "application/json",
        b'{"type":"FeatureCollection","features":[{"geometry":{"type":"Point","coordinates":"ab"}}]}',
    ),
    ("application/json", b"[[1e400, 2]]"),
    ("application/json", b"[" * 5000 + b"]" * 5000),
    ("text/csv", b"lon,lat\n\xff\xfe,1\n"),
    ("text/csv", b'lon,lat\n"1,2\n'),
    ("application/vnd.apache.arrow.stream", b"\xff\xff\xff\xff" + b"\x00" * 20),
    (
        "application/vnd.apache.arrow.stream",
        _arrow(pa.table({"lon": ["a", "113.1"], "lat": [23.1, 23.1]}))[:-40],
    ),
    ("application/vnd.apache.arrow.stream", _arrow(pa.table({"lon": [[1.0]], "lat": [[2.0]]}))),
    ("application/vnd.apache.arrow.stream", _arrow(pa.table({"lon": [{"a": 1}], "lat": [{"a": 2}]}))),
    ("application/vnd.apache.parquet", b"PAR1" + b"\x00" * 30 + b"PAR1"),
    ("application/vnd.apache.parquet", _parquet(pa.table({"lon": [[1.0]], "lat": [[2.0]]}))),
    ("application/vnd.apache.parquet", _parquet(pa.table({"lon": [True], "lat": [False]}))),
]


@pytest.mark.parametrize(("mimetype", "data"), ODD_BATCHES, ids=range(len(ODD_BATCHES)))
def test_odd_batch_bodies_are_4xx_or_answered(demo_client, mimetype, data):
    response = demo_client.post(f"{API}/points", data=data, content_type=mimetype)
    body = response.get_data()  # a streamed answer is read to its end
    assert response.status_code < 500, body[:300]


def test_a_text_column_of_numbers_in_arrow_is_still_read(demo_client):
    data = _arrow(pa.table({"lon": ["113.1457"], "lat": ["23.1110"]}))
    response = demo_client.post(
        f"{API}/points?format=json", data=data, content_type="application/vnd.apache.arrow.stream"
    )
    assert response.status_code == 200
    assert response.get_json()[0]["status"] == "ok"


def test_an_unknown_encoding_on_an_import_is_refused_naming_it(svc, tmp_path, fresh_client, reader):
    path = tmp_path / "x.csv"
    path.write_text("工单编号,受理时间,诉求类别,诉求内容\nA,2025-01-01,noise,噪音\n", encoding="utf-8")
    for encoding in ("no-such-codec", "rot13", "utf-8\x00"):
        with pytest.raises(FileFormatError) as info:
            svc.import_file(path, source="t", actor="t", encoding=encoding)
        assert info.value.code == "unknown_encoding"
    with pytest.raises(FileFormatError) as info:
        svc.import_file(path, source="t", actor="t", encoding="utf-16")
    assert info.value.code == "bad_encoding"
    with path.open("rb") as fh:
        response = fresh_client.post(
            f"{API}/complaints/import",
            data={"file": (fh, "x.csv"), "source": "api:reader-key", "encoding": "no-such-codec"},
            headers=reader,
        )
    assert 400 <= response.status_code < 500
    if response.status_code == 400:
        assert names(response.get_json(), "encoding")


# --- Open311: XML is always valid -------------------------------------------------------------


def test_open311_xml_stays_valid_with_control_characters_in_stored_text(fresh_app, svc, demo_grids, reader):
    item = intake.check(
        {
            "external_id": "ctl-1",
            "reported_at": "2026-11-29 09:00",
            "category": "noise",
            "text": "噪音",
            "lon": inside_point(demo_grids, sorted(demo_grids["code"])[9])[0],
            "lat": inside_point(demo_grids, sorted(demo_grids["code"])[9])[1],
        },
        catalog=svc.catalog,
        source="legacy",
    )
    row, event = svc._record(item, svc.place(item))
    row["text"] = "楼上\x01噪音\x1b[31m\ufffe 结束"  # stored by an older version, before intake stripped them
    row["address"] = "振兴路\x0880号"
    result = svc.store.add_complaints([row], [[event]])
    client = fresh_app.test_client()
    for headers in ({}, reader):
        for url in (
            "/open311/v2/requests.xml?extensions=true",
            f"/open311/v2/requests/{result.added[0]}.xml?extensions=true",
        ):
            response = client.get(url, headers=headers)
            assert response.status_code == 200
            root = ET.fromstring(response.get_data())  # raises on an XML-illegal character
            assert root.tag == "service_requests"


@pytest.mark.parametrize(
    "query",
    ["page_size=²", "page=" + "9" * 30, "service_request_id=²,1", "start_date=0001-01-01", "end_date=\x01"],
)
def test_open311_bad_parameters_are_4xx_in_valid_xml(demo_client, query):
    response = demo_client.get(f"/open311/v2/requests.xml?{query}")
    assert response.status_code < 500
    ET.fromstring(response.get_data())


# --- 10. CSV exports neutralise formulas ------------------------------------------------------


def test_safe_csv_neutralises_formula_cells_but_not_numbers():
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\t=1", "\r=1", "普通", None],
            "count": [-1, 2, 3, 4, 5, 6, 7, 8],
            "slope": [-0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        }
    )
    text = safe_csv(frame, index=False)
    back = safe_frame(frame)
    assert back["name"].tolist()[:7] == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
        "普通",
    ]
    assert back["count"].tolist()[0] == -1 and back["slope"].tolist()[0] == -0.5
    assert text.splitlines()[1].lstrip('"').startswith("'=HYPERLINK") and ",-1,-0.5" in text


def test_stats_csv_neutralises_formula_cells(fresh_app, fresh_client, reader, monkeypatch):
    cases = fresh_app.extensions["redgrid"].cases
    frame = pd.DataFrame({"grid_code": ["=cmd|' /C calc'!A0", "440605125001001"], "count": [-3, 4]})
    monkeypatch.setattr(cases, "stat_counts", lambda filters, by: frame)
    response = fresh_client.get(f"{API}/stats/counts?format=csv", headers=reader)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "'=cmd|' /C calc'!A0" in text and "\n=cmd" not in text and ",-3" in text


def test_planner_export_csv_neutralises_formula_cells(fresh_app):
    from services.planner import grid_table
    from services.planner import table_csv

    planner = fresh_app.extensions["redgrid"].planner
    view = planner.view({})
    table = grid_table(view.analysis, view.grid_set, {})
    table.loc[0, "name"] = "=1+2"
    table.loc[1, "top_categories"] = "@evil"
    text = table_csv(table).decode("utf-8-sig")
    assert "'=1+2" in text and "'@evil" in text
    assert ",=" not in text and ",@" not in text
