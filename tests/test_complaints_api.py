"""The complaints JSON API (/api/v1) on a copy of the demo database, with an injected clock.

Filing, the workflow with its history, refusals (illegal actions, stale versions), deadlines
and the overdue views, photos, personal data, geocoding at intake and the catalogue.
"""

from __future__ import annotations

import datetime
import hashlib
import struct
import threading
import zlib

import pytest

from tests.apps import error_of
from tests.apps import inside_point
from tests.test_complaints_service import Clock
from tests.test_complaints_service import api_key
from tests.test_complaints_service import catalog_rows
from tests.test_complaints_service import file_at
from tests.test_complaints_service import gazetteer_rows
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step
from tests.test_complaints_service import t

API = "/api/v1"
PHONE = "13800138000"


@pytest.fixture
def clock() -> Clock:
    return Clock("2025-09-29T09:00:00+08:00")


@pytest.fixture
def svc(fresh_app, clock, tmp_path):
    return install(fresh_app, clock, photo_dir=tmp_path / "photos")


@pytest.fixture
def writer(fresh_app) -> dict:
    """Headers of a dispatching system's key: write, personal data and dispatch (issue 8: only
    the dispatch centre, or a key with the ``dispatch`` scope, moves a complaint on)."""
    _, header = api_key(fresh_app, "write", "personal_data", "dispatch", name="hotline-12345")
    return {"Authorization": header}


def _act(
    client,
    headers,
    complaint_id: int,
    action: str,
    version: int | None = None,
    *,
    if_match: str | None = None,
    **fields,
):
    body = {"action": action, **fields}
    if version is not None:
        body["version"] = version
    extra = {"If-Match": if_match} if if_match is not None else {}
    response = client.post(
        f"{API}/complaints/{complaint_id}/actions", json=body, headers={**headers, **extra}
    )
    return response, response.get_json()


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _file_json(client, headers, demo_grids, code: str, external_id: str, **extra):
    lon, lat = inside_point(demo_grids, code)
    body = {
        "external_id": external_id,
        "reported_at": "2025-09-29T08:30:00+08:00",
        "category": "noise",
        "text": "夜间装修噪音",
        "lon": lon,
        "lat": lat,
        "reporter_name": "陈女士",
        "reporter_phone": PHONE,
        "channel": "热线",
        **extra,
    }
    response = client.post(f"{API}/complaints", json=body, headers=headers)
    return response, response.get_json()


# --- the life of a complaint ------------------------------------------------------------------


def test_the_full_life_through_the_api_with_its_history(fresh_client, svc, clock, writer, demo_grids):
    code = grid_of_kind(demo_grids, "urban")
    response, filed = _file_json(fresh_client, writer, demo_grids, code, "api-life-1")
    assert response.status_code == 201
    assert (filed["state"], filed["version"], filed["grid"]["code"]) == ("collected", 1, code)
    assert filed["source"] == "api:hotline-12345" and filed["channel"] == "hotline"
    assert filed["reporter"] == {"name": "陈女士", "phone": PHONE}
    cid = filed["id"]

    clock.set("2025-09-29T10:00:00+08:00")
    response, body = _act(fresh_client, writer, cid, "deliberate", 1, note="网格议事")
    assert response.status_code == 200 and (body["state"], body["version"]) == ("deliberation", 2)

    clock.set("2025-09-30T16:00:00+08:00")  # the eve of the National Day holiday
    response, body = _act(fresh_client, writer, cid, "dispatch", if_match='"2"', note="派单")
    assert response.status_code == 200 and body["state"] == "dispatched"
    noise = catalog_rows("categories.csv")["noise"]
    department = catalog_rows("departments.csv")[noise["department"]]
    assert body["department"] == {"code": "police", "name": department["name_zh"]}
    assert t(body["deadline"]) == t("2025-10-11T23:59:59+08:00")
    assert body["deadline_status"] == "on_time"

    clock.set("2025-10-10T11:00:00+08:00")
    response, body = _act(fresh_client, writer, cid, "resolve", 3, note="已处理")
    assert response.status_code == 200 and body["state"] == "resolved" and body["deadline_status"] == "none"
    clock.set("2025-10-13T09:30:00+08:00")
    response, body = _act(fresh_client, writer, cid, "follow_up", 4, satisfied=True, note="回访满意")
    assert response.status_code == 200
    assert (body["state"], body["satisfied"], body["version"]) == ("closed", True, 5)
    assert t(body["closed_at"]) == t("2025-10-13T09:30:00+08:00")

    # staff names and notes are for staff: the dispatching key reads them (issue 8: not the public)
    response = fresh_client.get(f"{API}/complaints/{cid}", headers=writer)
    assert response.status_code == 200 and response.headers["ETag"] == '"5"'
    assert response.headers["Cache-Control"] == "no-store"
    events = response.get_json()["events"]
    actor = "api_key:hotline-12345"
    history = [
        (e["action"], e["from_state"], e["to_state"], e["actor"], t(e["at"]), e["note"]) for e in events
    ]
    assert history == [
        ("collect", None, "collected", actor, t("2025-09-29T09:00:00+08:00"), "hotline: api:hotline-12345"),
        ("deliberate", "collected", "deliberation", actor, t("2025-09-29T10:00:00+08:00"), "网格议事"),
        ("dispatch", "deliberation", "dispatched", actor, t("2025-09-30T16:00:00+08:00"), "派单"),
        ("resolve", "dispatched", "resolved", actor, t("2025-10-10T11:00:00+08:00"), "已处理"),
        ("follow_up", "resolved", "closed", actor, t("2025-10-13T09:30:00+08:00"), "回访满意"),
    ]
    assert (events[2]["department"], t(events[2]["deadline"])) == ("police", t("2025-10-11T23:59:59+08:00"))
    assert [e["satisfied"] for e in events] == [None, None, None, None, True]


def test_unsatisfied_reopened_redispatched_and_closed_through_the_api(
    fresh_client, svc, clock, writer, demo_grids
):
    _, filed = _file_json(fresh_client, writer, demo_grids, grid_of_kind(demo_grids, "rural"), "api-life-2")
    cid = filed["id"]
    assert filed["whistle_group"] == "whistle_rural"
    script = [
        ("2025-09-30T16:00:00+08:00", "dispatch", {}, "dispatched"),
        ("2025-10-09T10:00:00+08:00", "resolve", {"note": "已处理"}, "resolved"),
        ("2025-10-09T15:00:00+08:00", "start_follow_up", {"note": "电话未接通"}, "follow_up"),
        ("2025-10-09T17:00:00+08:00", "follow_up", {"satisfied": False, "note": "仍有噪音"}, "reopened"),
        (
            "2025-10-10T09:00:00+08:00",
            "dispatch",
            {"department": "ecology_environment", "note": "改派"},
            "dispatched",
        ),
        ("2025-10-13T16:00:00+08:00", "resolve", {}, "resolved"),
        ("2025-10-14T10:00:00+08:00", "follow_up", {"satisfied": True}, "closed"),
        ("2025-11-03T10:00:00+08:00", "reopen", {"note": "又开始了"}, "reopened"),
        ("2025-11-03T11:00:00+08:00", "deliberate", {}, "deliberation"),
    ]
    version = 1
    for when, action, fields, state in script:
        clock.set(when)
        response, body = _act(fresh_client, writer, cid, action, version, **fields)
        assert response.status_code == 200, body
        version += 1
        assert (body["state"], body["version"]) == (state, version)
        if when == "2025-10-10T09:00:00+08:00":
            # Sat 11 October is a make-up working day: Sat 11, Mon 13, Tue 14
            assert body["department"]["code"] == "ecology_environment"
            assert t(body["deadline"]) == t("2025-10-14T23:59:59+08:00")
    # the resident's verdicts are staff's to read (issue 8: not the public's)
    events = fresh_client.get(f"{API}/complaints/{cid}", headers=writer).get_json()["events"]
    assert [e["to_state"] for e in events] == ["collected"] + [s for *_, s in script]
    assert [t(e["at"]) for e in events[1:]] == [t(w) for w, *_ in script]
    assert [e["satisfied"] for e in events if e["action"] == "follow_up"] == [False, True]


def test_filing_again_with_the_same_external_id_returns_the_first_with_200(
    fresh_client, svc, writer, demo_grids
):
    code = grid_of_kind(demo_grids, "urban")
    first, body = _file_json(fresh_client, writer, demo_grids, code, "api-twice")
    again, body_again = _file_json(fresh_client, writer, demo_grids, code, "api-twice")
    assert (first.status_code, again.status_code) == (201, 200) and body_again["id"] == body["id"]


# --- refusals -------------------------------------------------------------------------------

ALL_INTAKE = "deliberate, resolve_on_site, dispatch, reject, mark_duplicate, assign, whistle"


@pytest.mark.parametrize(
    ("path", "action", "fields", "message"),
    [
        (
            [],
            "resolve",
            {},
            f"cannot resolve a complaint in state collected: it must be resolved on site or dispatched first; "
            f"allowed: {ALL_INTAKE}",
        ),
        (
            [],
            "follow_up",
            {"satisfied": True},
            f"cannot follow_up a complaint in state collected: the resident is called back only once the complaint "
            f"is resolved; allowed: {ALL_INTAKE}",
        ),
        (
            ["dispatch"],
            "follow_up",
            {"satisfied": True},
            "cannot follow_up a complaint in state dispatched: a department holds it; that department resolves "
            "or returns it, or dispatch re-assigns it; allowed: resolve, dispatch, return, request_extension, "
            "approve_extension, refuse_extension, urge, supervise, assign, whistle",
        ),
        (
            ["dispatch", "resolve", ("follow_up", {"satisfied": True})],
            "dispatch",
            {},
            "cannot dispatch a complaint in state closed: it is closed; reopen it first; allowed: reopen",
        ),
        (
            ["dispatch", "resolve", ("follow_up", {"satisfied": False})],
            "resolve_on_site",
            {},
            "cannot resolve_on_site a complaint in state reopened: a reopened complaint must be dispatched again "
            "or go back to deliberation; allowed: dispatch, deliberate, urge, supervise, assign, whistle",
        ),
        (
            [("reject", {"note": "不属本镇管辖"})],
            "deliberate",
            {},
            "cannot deliberate a complaint in state rejected: rejected is final; file a new complaint if the "
            "problem persists; allowed: none",
        ),
    ],
)
def test_an_illegal_action_is_422_naming_the_state_and_the_allowed_actions(
    fresh_client, svc, clock, writer, demo_grids, path, action, fields, message
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-illegal", "2025-09-29 08:30")
    for n, move in enumerate(path):
        name, extra = move if isinstance(move, tuple) else (move, {})
        row = step(svc, clock, row, f"2025-10-{13 + n}T10:00:00+08:00", name, **extra)
    events = len(svc.store.complaint_events(row.id))
    response, body = _act(fresh_client, writer, row.id, action, row.row_version, **fields)
    assert response.status_code == 422
    assert error_of(body) == _error("illegal_transition", message)
    assert svc.store.complaint(row.id) == row and len(svc.store.complaint_events(row.id)) == events


@pytest.mark.parametrize(
    ("action", "fields", "code", "message"),
    [
        (
            "fly",
            {},
            "workflow_error",
            "unknown action 'fly'; one of: deliberate, resolve_on_site, dispatch, "
            "resolve, start_follow_up, follow_up, reopen, reject, mark_duplicate, return, request_extension, "
            "approve_extension, refuse_extension, urge, supervise, assign, whistle",
        ),
        (
            "reject",
            {},
            "missing_field",
            "reject needs note: why it is rejected, for the resident and the record",
        ),
        (
            "mark_duplicate",
            {},
            "missing_field",
            "mark_duplicate needs duplicate_of: the id of the complaint it duplicates",
        ),
        ("dispatch", {"department": "moon_office"}, "unknown_department", "unknown department 'moon_office'"),
        (
            "dispatch",
            {"deadline": "2025-09-01T00:00:00+08:00"},
            "missing_field",
            "dispatch deadline 2025-09-01T00:00:00+08:00 is not after the dispatch time 2025-09-29T09:00:00+08:00",
        ),
    ],
)
def test_an_action_with_wrong_fields_is_refused_with_its_code(
    fresh_client, svc, writer, demo_grids, action, fields, code, message
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-fields", "2025-09-29 08:30")
    response, body = _act(fresh_client, writer, row.id, action, 1, **fields)
    status = 400 if code == "unknown_department" else 422
    assert (response.status_code, error_of(body)) == (status, _error(code, message))
    assert svc.store.complaint(row.id) == row


def test_follow_up_needs_a_boolean_verdict(fresh_client, svc, clock, writer, demo_grids):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-verdict", "2025-09-29 08:30")
    row = step(svc, clock, row, "2025-09-29T10:00:00+08:00", "resolve_on_site")
    response, body = _act(fresh_client, writer, row.id, "follow_up", 2, satisfied="yes")
    assert response.status_code == 422
    assert error_of(body) == _error("missing_field", "follow_up needs satisfied as True or False, got 'yes'")


def test_an_action_without_a_version_is_428_and_on_a_missing_complaint_404(
    fresh_client, svc, writer, demo_grids
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-noversion", "2025-09-29 08:30")
    response, body = _act(fresh_client, writer, row.id, "deliberate")
    assert (response.status_code, error_of(body)) == (
        428,
        _error("version_required", "say which version of the complaint you saw: JSON 'version' or If-Match"),
    )
    response, body = _act(fresh_client, writer, 999_999, "deliberate", 1)
    assert (response.status_code, error_of(body)) == (
        404,
        _error("not_found", "complaint 999999 does not exist"),
    )


def test_writes_need_a_key_with_the_write_scope(fresh_app, fresh_client, svc, demo_grids):
    code = grid_of_kind(demo_grids, "urban")
    before = svc.store.count_complaints()
    response, body = _file_json(fresh_client, {}, demo_grids, code, "api-anon")
    assert (response.status_code, error_of(body)) == (
        401,
        _error("unauthorized", "authentication required (Authorization: Bearer <API key>)"),
    )
    _, reader = api_key(fresh_app, "personal_data")
    response, body = _file_json(fresh_client, {"Authorization": reader}, demo_grids, code, "api-reader")
    assert (response.status_code, error_of(body)) == (
        403,
        _error("forbidden", "this API key lacks the 'write' scope"),
    )
    response, body = _file_json(fresh_client, {"Authorization": "Bearer rg_nonsense"}, demo_grids, code, "x")
    assert (response.status_code, error_of(body)) == (
        401,
        _error("invalid_api_key", "API key not recognised or revoked"),
    )
    assert svc.store.count_complaints() == before


def test_a_complaint_with_bad_fields_is_422_listing_each(fresh_client, svc, writer, demo_grids):
    before = svc.store.count_complaints()
    response = fresh_client.post(
        f"{API}/complaints",
        headers=writer,
        json={
            "external_id": "api-bad",
            "reported_at": "2025-09-29 08:30",
            "category": "飞碟",
            "text": "",
            "reporter_phone": "12345",
        },
    )
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert (body["code"], body["message"]) == ("invalid_rows", "complaint: 4 problem(s), nothing imported")
    assert [(r["row"], r["field"]) for r in body["rows"]] == [
        (1, "category"),
        (1, "text"),
        (1, "address"),
        (1, "reporter_phone"),
    ]
    response = fresh_client.post(
        f"{API}/complaints", headers=writer, data="not json", content_type="application/json"
    )
    assert (response.status_code, error_of(response.get_json())) == (
        400,
        _error("bad_json", "send a JSON object with category, text, and address or lon/lat"),
    )
    assert svc.store.count_complaints() == before


# --- two dispatchers at once -----------------------------------------------------------------


def test_two_clients_acting_on_the_same_version_one_wins_the_other_gets_409(
    fresh_app, svc, clock, demo_grids
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-race", "2025-09-29 08:30")
    row = step(svc, clock, row, "2025-09-29T10:00:00+08:00", "deliberate")
    _, key_a = api_key(fresh_app, "write", "dispatch", name="dispatcher-a")  # dispatching: issue 8
    _, key_b = api_key(fresh_app, "write", "dispatch", name="dispatcher-b")
    a, b = fresh_app.test_client(), fresh_app.test_client()
    seen_a = a.get(f"{API}/complaints/{row.id}").get_json()["version"]
    seen_b = b.get(f"{API}/complaints/{row.id}").get_json()["version"]
    assert seen_a == seen_b == 2

    clock.set("2025-09-30T16:00:00+08:00")
    first, body = _act(a, {"Authorization": key_a}, row.id, "dispatch", seen_a, department="police")
    assert first.status_code == 200 and body["version"] == 3
    second, body = _act(
        b, {"Authorization": key_b}, row.id, "dispatch", seen_b, department="urban_management", note="我来派"
    )
    assert second.status_code == 409
    assert error_of(body) == _error(
        "conflict",
        f"complaint {row.id} was changed by someone else "
        "(you had version 2, it is now 3); reload it and try again",
    )
    third, body = _act(
        b, {"Authorization": key_b}, row.id, "dispatch", if_match='"2"', department="urban_management"
    )
    assert third.status_code == 409

    stored = svc.store.complaint(row.id)
    assert (stored.department_code, stored.row_version) == ("police", 3)
    events = svc.store.complaint_events(row.id)
    assert [e.actor for e in events] == ["user:wang", "user:wang", "api_key:dispatcher-a"]
    assert all(e.note != "我来派" for e in events)


def test_two_threads_posting_the_same_version_exactly_one_succeeds(fresh_app, svc, clock, demo_grids):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-race-threads", "2025-09-29 08:30")
    _, key = api_key(fresh_app, "write", "dispatch", name="dispatchers")  # dispatching: issue 8
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(department: str) -> None:
        client = fresh_app.test_client()
        barrier.wait()
        response, _ = _act(client, {"Authorization": key}, row.id, "dispatch", 1, department=department)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(d,)) for d in ("police", "urban_management")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert svc.store.complaint(row.id).row_version == 2
    assert [e.action for e in svc.store.complaint_events(row.id)] == ["collect", "dispatch"]


# --- deadlines and the overdue views ----------------------------------------------------------


def test_due_soon_overdue_and_the_overdue_filter_across_the_holiday(fresh_client, svc, clock, demo_grids):
    code = grid_of_kind(demo_grids, "urban")
    late = file_at(svc, demo_grids, code, "api-late", "2025-09-30 09:00", source="deadline-test")
    done = file_at(svc, demo_grids, code, "api-done", "2025-09-30 09:00", source="deadline-test")
    late = step(svc, clock, late, "2025-09-30T16:00:00+08:00", "dispatch")
    done = step(svc, clock, done, "2025-09-30T16:00:00+08:00", "dispatch")
    done = step(svc, clock, done, "2025-10-09T10:00:00+08:00", "resolve")

    def view(now: str):
        clock.set(now)
        one = fresh_client.get(f"{API}/complaints/{late.id}").get_json()["deadline_status"]
        listed = fresh_client.get(f"{API}/complaints?source=deadline-test&overdue=1").get_json()
        table = fresh_client.get(f"{API}/stats/overdue?source=deadline-test").get_json()["rows"]
        return one, [c["id"] for c in listed["complaints"]], [(r["id"], r["overdue_days"]) for r in table]

    assert view("2025-10-05T12:00:00+08:00") == ("on_time", [], [])  # the holiday does not count
    assert view("2025-10-11T07:59:59+08:00") == ("on_time", [], [])
    assert view("2025-10-11T08:00:00+08:00") == ("due_soon", [], [])  # 80 % of the working time
    assert view("2025-10-12T00:00:00+08:00") == ("overdue", [late.id], [(late.id, 0.0)])
    assert view("2025-10-14T12:00:00+08:00") == ("overdue", [late.id], [(late.id, 2.5)])
    csv_text = fresh_client.get(f"{API}/stats/overdue?source=deadline-test&format=csv").get_data(as_text=True)
    assert csv_text.startswith(
        "\ufeffid,grid_code,category_code,department_code,dispatched_at,deadline,overdue_days,state\n"
    )
    assert csv_text.count("\n") == 2 and f"\n{late.id},{code},noise,police," in csv_text


# --- photos ---------------------------------------------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00\xff\x00\x00")  # one red pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 26) + b"WEBPVP8L" + struct.pack("<I", 10) + b"\x2f" + b"\x00" * 13


def _upload(client, headers, complaint_id: int, data: bytes, filename: str):
    # the multipart body is built here: werkzeug's test client spools a large one to a temporary
    # file it never closes, which filterwarnings=error turns into a failure
    boundary = "redgrid-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        f"{API}/complaints/{complaint_id}/photos",
        headers=headers,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    return response, response.get_json()


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "suffix"),
    [
        (JPEG, "现场.jpg", "image/jpeg", ".jpg"),
        (_png(), "photo.jpeg", "image/png", ".png"),  # the content decides, not the name
        (WEBP, "photo", "image/webp", ".webp"),
    ],
    ids=["jpeg", "png", "webp"],
)
def test_photos_are_accepted_by_content_and_stored_under_their_hash(
    fresh_app, fresh_client, svc, writer, demo_grids, tmp_path, data, filename, content_type, suffix
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-photo", "2025-09-29 08:30")
    response, body = _upload(fresh_client, writer, row.id, data, filename)
    assert response.status_code == 201
    assert (body["content_type"], body["size"]) == (content_type, len(data))
    digest = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "photos" / f"{digest}{suffix}").read_bytes() == data
    assert [p.name for p in (tmp_path / "photos").iterdir()] == [f"{digest}{suffix}"]

    url = f"{API}/complaints/{row.id}/photos/{body['id']}"
    with fresh_client.get(url, headers=writer) as got:  # a file response: closed when read
        assert (got.status_code, got.mimetype, got.data) == (200, content_type, data)
    anonymous = fresh_client.get(url)
    assert (anonymous.status_code, anonymous.get_json()["error"]["code"]) == (401, "unauthorized")
    _, no_personal = api_key(fresh_app, "write")
    refused = fresh_client.get(url, headers={"Authorization": no_personal})
    assert (refused.status_code, error_of(refused.get_json())) == (
        403,
        _error("forbidden", "this API key lacks the 'personal_data' scope"),
    )
    assert fresh_client.get(f"{API}/complaints/{row.id}", headers=writer).get_json()["photos"] == [
        {"id": body["id"], "content_type": content_type, "size": len(data)}
    ]
    assert "photos" not in fresh_client.get(f"{API}/complaints/{row.id}").get_json()


def test_a_text_file_named_jpg_is_415_and_a_large_photo_413(fresh_client, svc, writer, demo_grids, tmp_path):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-photo-bad", "2025-09-29 08:30")
    response, body = _upload(fresh_client, writer, row.id, "这不是图片\n".encode(), "fake.jpg")
    assert (response.status_code, error_of(body)) == (
        415,
        _error("photo_type", "photo 'fake.jpg' is not a JPEG, PNG or WebP image"),
    )
    response, body = _upload(fresh_client, writer, row.id, b"RIFF\x00\x00\x00\x00WAVEfmt ", "sound.webp")
    assert response.status_code == 415
    big = JPEG[:-2] + b"\x00" * (5 * 1024 * 1024) + b"\xff\xd9"
    response, body = _upload(fresh_client, writer, row.id, big, "big.jpg")
    assert (response.status_code, error_of(body)) == (
        413,
        _error("photo_too_large", "photo 'big.jpg' is 5.2 MB; at most 5 MB"),
    )
    assert svc.store.photos(row.id) == []
    assert not (tmp_path / "photos").exists() or not any((tmp_path / "photos").iterdir())


def test_at_most_six_photos_and_writes_need_a_key(fresh_client, svc, writer, demo_grids):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-photo-many", "2025-09-29 08:30")
    for n in range(6):
        response, _ = _upload(fresh_client, writer, row.id, JPEG + bytes([n]), f"{n}.jpg")
        assert response.status_code == 201
    response, body = _upload(fresh_client, writer, row.id, JPEG + b"\x07", "7.jpg")
    assert (response.status_code, error_of(body)) == (
        400,
        _error("too_many_photos", "a complaint holds at most 6 photos"),
    )
    response, _ = _upload(fresh_client, {}, row.id, JPEG, "anon.jpg")
    assert response.status_code == 401
    assert len(svc.store.photos(row.id)) == 6


# --- personal data ----------------------------------------------------------------------------


def test_reporter_contacts_are_masked_unless_the_caller_may_see_personal_data(
    fresh_app, fresh_client, svc, writer, demo_grids
):
    row = file_at(
        svc,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        "api-personal",
        "2025-09-29 08:30",
        reporter_name="陈女士",
        reporter_phone=PHONE,
        source="personal-test",
    )
    _, planner = api_key(fresh_app)  # a key with no scopes: the text and a masked phone
    masked = {"name": None, "phone": "138****8000"}
    # the public sees no reporter at all (issue 8: anonymous callers get the public fields only)
    for headers, reporter in (({}, None), ({"Authorization": planner}, masked)):
        one = fresh_client.get(f"{API}/complaints/{row.id}", headers=headers).get_json()
        assert one["reporter"] == reporter
        listed = fresh_client.get(f"{API}/complaints?source=personal-test", headers=headers).get_json()
        assert [c["reporter"] for c in listed["complaints"]] == [reporter]
    full = {"name": "陈女士", "phone": PHONE}
    assert fresh_client.get(f"{API}/complaints/{row.id}", headers=writer).get_json()["reporter"] == full
    listed = fresh_client.get(f"{API}/complaints?source=personal-test", headers=writer).get_json()
    assert listed["total"] == 1 and listed["complaints"][0]["reporter"] == full


# --- geocoding at intake ----------------------------------------------------------------------


def test_an_address_is_geocoded_into_its_grid_and_an_ambiguous_one_refused(fresh_client, svc, writer):
    entry = gazetteer_rows()["振兴路80号"]
    response = fresh_client.post(
        f"{API}/complaints",
        headers=writer,
        json={
            "external_id": "api-address",
            "reported_at": "2025-09-29 08:30",
            "category": "垃圾清运不及时、暴露垃圾",
            "text": "垃圾堆了三天",
            "address": "大沥镇振兴路八十号",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["grid"]["code"] == entry["grid_code"] and body["category"]["code"] == "rubbish"
    assert body["geocode"]["address_id"] == entry["id"]
    assert (body["location"]["lon"], body["location"]["lat"]) == pytest.approx(
        (float(entry["lon"]), float(entry["lat"])), abs=1e-7
    )

    before = svc.store.count_complaints()
    response = fresh_client.post(
        f"{API}/complaints",
        headers=writer,
        json={
            "external_id": "api-address-2",
            "reported_at": "2025-09-29 08:30",
            "category": "rubbish",
            "text": "垃圾",
            "address": "沥苑路",
        },
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == ("invalid_rows", "complaint: 1 problem(s), nothing imported")
    [row] = error["rows"]
    assert (row["row"], row["field"]) == (1, "address")
    assert row["message"].startswith("'沥苑路' is ambiguous; candidates: 沥苑路1号 (")
    assert svc.store.count_complaints() == before


def test_geocode_reverse_and_catalog_endpoints(fresh_client, svc):
    entry = gazetteer_rows()["振兴路80号"]
    found = fresh_client.get(f"{API}/geocode", query_string={"q": "振兴路80号"}).get_json()
    assert (found["status"], found["best"]["id"], found["best"]["grid_code"]) == (
        "matched",
        entry["id"],
        entry["grid_code"],
    )
    assert fresh_client.get(f"{API}/geocode").status_code == 400
    near = fresh_client.get(f"{API}/reverse/wgs84/{entry['lon']},{entry['lat']}?k=1").get_json()["addresses"]
    assert [(a["id"], a["distance_m"]) for a in near] == [(entry["id"], 0.0)]
    catalog = fresh_client.get(f"{API}/catalog").get_json()
    categories = catalog_rows("categories.csv")
    assert {c["code"]: (c["department"], c["deadline_days"]) for c in catalog["categories"]} == {
        code: (row["department"], int(row["deadline_days"])) for code, row in categories.items()
    }
    assert {d["code"] for d in catalog["departments"]} == set(catalog_rows("departments.csv"))


def test_the_deadline_given_by_hand_wins_over_the_calendar(fresh_client, svc, clock, writer, demo_grids):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "api-own-deadline", "2025-09-29 08:30")
    clock.set("2025-09-30T16:00:00+08:00")
    response, body = _act(
        fresh_client, writer, row.id, "dispatch", 1, department="fire_rescue", deadline="2025-10-02"
    )  # a date means the end of that day, China time
    assert response.status_code == 200
    assert body["department"]["code"] == "fire_rescue"
    assert t(body["deadline"]) == datetime.datetime.combine(
        datetime.date(2025, 10, 2), datetime.time.max, t("2025-10-02T00:00:00+08:00").tzinfo
    )
