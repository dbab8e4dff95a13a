"""Duplicates at intake (issue 9, item 6) through the pages and the API: the candidates shown while
filing (the API for the form's script, the 查重 step without it), filing as a duplicate, the link
both ways, the 标记重复 picker, and the resident's progress page of a duplicate.

The demo's own complaints may lie near the points used here, so the tests look for their own
cases among the candidates rather than for an exact list.
"""

from __future__ import annotations

import re

import pytest
from pyproj import Geod

from tests.apps import inside_point
from tests.test_complaint_pages import PASSWORD
from tests.test_complaint_pages import _login
from tests.test_complaint_pages import _now_text
from tests.test_complaint_pages import _token
from tests.test_complaint_pages import people  # noqa: F401  (a fixture)
from tests.test_complaints_service import grid_of_kind

GEOD = Geod(ellps="WGS84")


@pytest.fixture
def desk(people, demo_grids):  # noqa: F811
    """A logged-in dispatcher's client and an original filed through the form (with a phone)."""
    client = people.test_client()
    _login(client, "wang")
    lon, lat = inside_point(demo_grids, grid_of_kind(demo_grids, "urban"))
    original = _file(client, lon, lat, text="小区门口路灯不亮", phone="13800138000")
    return client, people.extensions["redgrid"].store, original, (lon, lat)


def _file(client, lon: float, lat: float, *, text: str, phone: str = "13900139000", **extra) -> int:
    token = _token(client.get("/complaints/new").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "category": "street_light",
        "channel": "hotline",
        "reported_at": _now_text(),
        "text": text,
        "lon": repr(lon),
        "lat": repr(lat),
        "coordsys": "wgs84",
        "reporter_phone": phone,
        **extra,
    }
    response = client.post("/complaints/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _act(client, complaint_id: int, action: str, **fields: str):
    """A step from the case page's action form, on version 1 as the page shows it."""
    page = client.get(f"/complaints/{complaint_id}").get_data(as_text=True)
    data = {"csrf_token": _token(page), "version": "1", "action": action, **fields}
    return client.post(f"/complaints/{complaint_id}", data=data)


def _moved(lon: float, lat: float, metres: float) -> tuple[float, float]:
    x, y, _ = GEOD.fwd(lon, lat, 45.0, metres)
    return float(x), float(y)


def test_the_api_lists_the_original_for_a_point_30_m_away_and_not_for_one_80_m_away(desk):
    client, _, original, (lon, lat) = desk
    near, far = _moved(lon, lat, 30), _moved(lon, lat, 80)
    body = client.get(
        "/api/v1/complaints/duplicates",
        query_string={"category": "street_light", "lon": near[0], "lat": near[1]},
    ).get_json()
    assert (body["radius_m"], body["days"]) == (50.0, 30)
    [mine] = [c for c in body["candidates"] if c["id"] == original]
    assert mine["distance_m"] == pytest.approx(30, abs=0.5) and mine["state"] == "collected"
    assert mine["text"] == "小区门口路灯不亮" and re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d", mine["reported_at_beijing"]
    )
    far_ids = [
        c["id"]
        for c in client.get(
            "/api/v1/complaints/duplicates",
            query_string={"category": "street_light", "lon": far[0], "lat": far[1]},
        ).get_json()["candidates"]
    ]
    assert original not in far_ids
    other = client.get(
        "/api/v1/complaints/duplicates", query_string={"category": "noise", "lon": near[0], "lat": near[1]}
    ).get_json()
    assert original not in [c["id"] for c in other["candidates"]]
    refused = client.get("/api/v1/complaints/duplicates", query_string={"category": "street_light"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_parameter"
    anonymous = (
        desk[0]
        .application.test_client()
        .get(
            "/api/v1/complaints/duplicates", query_string={"category": "street_light", "lon": lon, "lat": lat}
        )
    )
    assert anonymous.status_code == 401


def test_the_check_step_lists_candidates_without_filing_and_the_choice_files_a_linked_duplicate(desk):
    client, store, original, (lon, lat) = desk
    near = _moved(lon, lat, 30)
    before = store.count_complaints()
    token = _token(client.get("/complaints/new").get_data(as_text=True))
    checked = client.post(
        "/complaints/new",
        data={
            "csrf_token": token,
            "category": "street_light",
            "lon": repr(near[0]),
            "lat": repr(near[1]),
            "coordsys": "wgs84",
            "text": "",
            "step": "check",
        },
    )
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200 and store.count_complaints() == before
    assert f'name="duplicate_of" value="{original}"' in page and "作为新诉求登记" in page
    assert f"作为 #{original} 的重复件登记" in page and "相距 30 米" in page

    duplicate = _file(client, *near, text="路灯还是不亮", duplicate_of=str(original))
    row = store.complaint(duplicate)
    assert (row.state, row.duplicate_of) == ("duplicate", str(original))
    assert [e.action for e in store.complaint_events(duplicate)] == ["collect", "mark_duplicate"]
    # linked both ways: the pages and the original's JSON
    assert f'href="/complaints/{original}">#{original}</a>' in client.get(
        f"/complaints/{duplicate}"
    ).get_data(as_text=True)
    assert f'href="/complaints/{duplicate}">#{duplicate}</a>' in client.get(
        f"/complaints/{original}"
    ).get_data(as_text=True)
    body = client.get(f"/api/v1/complaints/{original}").get_json()
    assert [d["id"] for d in body["duplicates"]] == [duplicate]
    assert body["duplicates"][0]["state"] == "duplicate"
    assert client.get(f"/api/v1/complaints/{duplicate}").get_json()["duplicate_of"] == str(original)
    # the public sees neither link
    public = client.application.test_client().get(f"/api/v1/complaints/{original}").get_json()
    assert public["duplicates"] is None


def test_the_mark_duplicate_picker_offers_the_near_original_and_marks_it(desk):
    client, store, original, (lon, lat) = desk
    later = _file(client, *_moved(lon, lat, 20), text="路灯坏了")
    page = client.get(f"/complaints/{later}").get_data(as_text=True)
    picker = page[page.index('id="duplicate-field"') :]
    picker = picker[: picker.index("</fieldset>")]
    assert "原诉求编号" in picker and f'name="duplicate_of" value="{original}"' in picker
    assert f'value="{later}"' not in picker  # never itself
    response = _act(client, later, "mark_duplicate", duplicate_of=str(original))
    assert response.status_code == 302
    assert (store.complaint(later).state, store.complaint(later).duplicate_of) == ("duplicate", str(original))
    # an unknown original is refused on the page, nothing changed
    third = _file(client, *_moved(lon, lat, 10), text="灯不亮")
    refused = _act(client, third, "mark_duplicate", duplicate_of="999999")
    assert refused.status_code == 422 and "999999" in refused.get_data(as_text=True)
    assert store.complaint(third).state == "collected"


def test_rejecting_the_original_tells_the_duplicate_and_its_resident(desk):
    client, store, original, (lon, lat) = desk
    duplicate = _file(
        client, *_moved(lon, lat, 30), text="路灯不亮", duplicate_of=str(original), phone="13700137000"
    )
    assert _act(client, original, "reject", note="路灯属供电所").status_code == 302
    last = store.complaint_events(duplicate)[-1]
    assert (last.action, last.note) == ("original_closed", f"原诉求 #{original} 不予受理")
    resident = client.application.test_client()
    form = resident.get("/progress").get_data(as_text=True)
    answer = resident.post(
        "/progress", data={"csrf_token": _token(form), "ticket": str(duplicate), "phone_last4": "7000"}
    ).get_data(as_text=True)
    assert "已合并办理" in answer
    assert re.search(r"原诉求办理结果</dt><dd><span class=\"badge\">不予受理", answer)
    assert PASSWORD not in answer
