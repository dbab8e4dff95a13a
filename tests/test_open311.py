"""Open311 GeoReport v2 (/open311/v2): discovery, services, creating and listing requests.

Listings are checked against the demo database read directly (pandas over the stored
complaints), services against ``data/catalog/categories.csv``. Both formats are parsed:
JSON with the client's JSON parser, XML with ElementTree.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from tests.apps import inside_point
from tests.test_complaints_service import api_key
from tests.test_complaints_service import catalog_rows
from tests.test_complaints_service import t

O311 = "/open311/v2"
CHINA = datetime.timezone(datetime.timedelta(hours=8))
REFUSED = "Invalid api_key received -- can't proceed with create_request."


def _xml(response) -> ET.Element:
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


# --- discovery and services ------------------------------------------------------------------


def test_discovery_in_json_and_xml(demo_client):
    body = demo_client.get(f"{O311}/discovery.json").get_json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2/"
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert body["contact"] and body["key_service"]
    root = _xml(demo_client.get(f"{O311}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://localhost/open311/v2/"
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert formats == ["application/json", "text/xml"]


def test_services_list_every_category_in_json_and_xml(demo_client):
    categories = catalog_rows("categories.csv")
    services = demo_client.get(f"{O311}/services.json").get_json()
    assert [s["service_code"] for s in services] == list(categories)
    for service in services:
        row = categories[service["service_code"]]
        assert (service["service_name"], service["description"], service["group"]) == (
            row["name_zh"],
            row["name_en"],
            row["class"],
        )
        assert service["metadata"] is False and service["type"] == "realtime"
    root = _xml(demo_client.get(f"{O311}/services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == list(categories)
    assert [s.findtext("service_name") for s in root.findall("service")] == [
        r["name_zh"] for r in categories.values()
    ]
    assert {s.findtext("metadata") for s in root.findall("service")} == {"false"}


def test_a_service_definition_and_unknown_codes_or_formats(demo_client):
    assert demo_client.get(f"{O311}/services/noise.json").get_json() == {
        "service_code": "noise",
        "attributes": [],
    }
    root = _xml(demo_client.get(f"{O311}/services/noise.xml"))
    assert (root.tag, root.findtext("service_code"), list(root.find("attributes"))) == (
        "service_definition",
        "noise",
        [],
    )
    response = demo_client.get(f"{O311}/services/ufo.json")
    assert (response.status_code, response.get_json()) == (
        404,
        [{"code": 404, "description": "service_code ufo not found"}],
    )
    response = demo_client.get(f"{O311}/services.yaml")
    assert (response.status_code, response.get_json()) == (
        404,
        [{"code": 404, "description": "format .yaml is not served; use .json or .xml"}],
    )


# --- creating requests ------------------------------------------------------------------------


@pytest.fixture
def point(demo_grids) -> tuple[float, float, str]:
    code = sorted(demo_grids["code"])[42]
    lon, lat = inside_point(demo_grids, code)
    return lon, lat, code


def test_a_request_posted_with_a_write_key_is_filed_in_its_grid(fresh_app, fresh_client, point):
    lon, lat, code = point
    name, header = api_key(fresh_app, "write", name="city-app")
    key = header.removeprefix("Bearer ")
    response = fresh_client.post(
        f"{O311}/requests.json",
        data={
            "api_key": key,
            "service_code": "street_light",
            "lat": repr(lat),
            "long": repr(lon),
            "description": "路灯不亮已经一周",
            "first_name": "小红",
            "last_name": "陈",
            "phone": "13800138000",
            "email": "ignored@example.com",
        },
    )
    assert response.status_code == 201
    [body] = response.get_json()
    assert set(body) == {"service_request_id", "service_notice", "account_id"}
    assert body["service_notice"] == f"已受理，网格 {code}；已分派至网格团队"
    store = fresh_app.extensions["redgrid"].store
    row = store.complaint(int(body["service_request_id"]))
    assert (row.source, row.category_code, row.grid_code, row.state) == (
        f"open311:{name}",
        "street_light",
        code,
        "collected",
    )
    assert (row.reporter_name, row.reporter_phone, row.channel) == ("陈小红", "13800138000", "system")
    assert store.complaint_events(row.id)[0].actor == f"api_key:{name}"

    # the text and the point are for the key that filed it, not the public (issue 8)
    [public] = fresh_client.get(f"{O311}/requests/{row.id}.json").get_json()
    assert (public["description"], public["address"], public["lat"], public["long"]) == (None,) * 4
    [got] = fresh_client.get(f"{O311}/requests/{row.id}.json", headers={"Authorization": header}).get_json()
    assert (got["service_request_id"], got["status"], got["service_code"], got["description"]) == (
        str(row.id),
        "open",
        "street_light",
        "路灯不亮已经一周",
    )
    assert (got["lat"], got["long"]) == pytest.approx((lat, lon))
    assert got["requested_datetime"].endswith("+08:00")
    assert t(got["requested_datetime"]) == row.reported_at.replace(microsecond=0)
    assert got["status_notes"] == "诉求已收集" and got["expected_datetime"] is None


def test_a_request_posted_as_xml_answers_in_xml(fresh_app, fresh_client, point):
    lon, lat, _ = point
    _, header = api_key(fresh_app, "write")
    response = fresh_client.post(
        f"{O311}/requests.xml",
        data={
            "api_key": header.removeprefix("Bearer "),
            "service_code": "rubbish",
            "lat": str(lat),
            "long": str(lon),
            "description": "垃圾",
        },
    )
    assert response.status_code == 201
    root = _xml(response)
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id").isdigit()


@pytest.mark.parametrize("scopes", [None, ("personal_data",), "wrong"])
def test_posting_without_a_write_key_is_403_with_an_array_body(fresh_app, fresh_client, point, scopes):
    lon, lat, _ = point
    form = {"service_code": "rubbish", "lat": str(lat), "long": str(lon), "description": "垃圾"}
    if scopes == "wrong":
        form["api_key"] = "rg_not-a-key"
    elif scopes is not None:
        form["api_key"] = api_key(fresh_app, *scopes)[1].removeprefix("Bearer ")
    before = fresh_app.extensions["redgrid"].store.count_complaints()
    response = fresh_client.post(f"{O311}/requests.json", data=form)
    assert (response.status_code, response.get_json()) == (403, [{"code": 403, "description": REFUSED}])
    response = fresh_client.post(f"{O311}/requests.xml", data=form)
    assert response.status_code == 403
    root = _xml(response)
    assert (root.tag, root.findtext("error/code"), root.findtext("error/description")) == (
        "errors",
        "403",
        REFUSED,
    )
    assert fresh_app.extensions["redgrid"].store.count_complaints() == before


def test_a_bad_request_is_400_naming_the_fields(fresh_app, fresh_client):
    _, header = api_key(fresh_app, "write")
    response = fresh_client.post(
        f"{O311}/requests.json",
        data={"api_key": header.removeprefix("Bearer "), "service_code": "ufo", "lat": "23.1", "long": "abc"},
    )
    assert response.status_code == 400
    [error] = response.get_json()
    assert error["code"] == 400
    assert error["description"] == (
        "category: 'ufo' is not in the category list (codes like power_supply, sidewalk_damage, water_body, "
        "or their Chinese names); text: missing: what does the resident report?; lon: 'abc' is not a number"
    )


# --- listing requests -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(demo_app) -> pd.DataFrame:
    """Every demo complaint, read straight from the store."""
    frame = demo_app.extensions["redgrid"].store.complaints_frame(
        ["id", "reported_at", "category_code", "state"]
    )
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame


def _expected(stored: pd.DataFrame, start: str, end: str, codes=None, states=None) -> list[str]:
    when = stored["reported_at"]
    keep = (when >= pd.Timestamp(start)) & (when < pd.Timestamp(end))
    if codes:
        keep &= stored["category_code"].isin(codes)
    if states:
        keep &= stored["state"].isin(states)
    chosen = stored[keep].sort_values(["reported_at", "id"], ascending=False)
    return [str(i) for i in chosen["id"]]


CLOSED = ["closed", "rejected", "duplicate"]


def test_requests_filtered_by_window_status_and_service_code(demo_client, stored):
    start, end = "2025-06-01T00:00:00+08:00", "2025-08-01T00:00:00+08:00"
    query = {"start_date": start, "end_date": end}
    everything = demo_client.get(f"{O311}/requests.json", query_string=query).get_json()
    expected = _expected(stored, start, end)
    assert 20 < len(expected) < 1000
    assert [r["service_request_id"] for r in everything] == expected

    chosen = demo_client.get(
        f"{O311}/requests.json", query_string={**query, "status": "closed", "service_code": "noise,rubbish"}
    ).get_json()
    assert [r["service_request_id"] for r in chosen] == _expected(
        stored, start, end, ["noise", "rubbish"], CLOSED
    )
    assert chosen and {r["status"] for r in chosen} == {"closed"}
    assert {r["service_code"] for r in chosen} <= {"noise", "rubbish"}

    open_ = demo_client.get(f"{O311}/requests.json", query_string={**query, "status": "open"}).get_json()
    states = [
        "collected",
        "deliberation",
        "resolved_on_site",
        "dispatched",
        "resolved",
        "follow_up",
        "reopened",
    ]
    assert [r["service_request_id"] for r in open_] == _expected(stored, start, end, states=states)
    assert len(open_) + len(
        demo_client.get(f"{O311}/requests.json", query_string={**query, "status": "closed"}).get_json()
    ) == len(everything)

    for r in everything:
        assert r["requested_datetime"].endswith("+08:00") and r["updated_datetime"].endswith("+08:00")
        assert start <= r["requested_datetime"] < end  # same offset, so text order is time order
        if r["expected_datetime"] is not None:
            assert r["expected_datetime"].endswith("23:59:59+08:00")


def test_a_date_without_time_is_midnight_in_china(demo_client, stored):
    response = demo_client.get(
        f"{O311}/requests.json", query_string={"start_date": "2025-07-01", "end_date": "2025-07-08"}
    )
    assert [r["service_request_id"] for r in response.get_json()] == _expected(
        stored, "2025-07-01T00:00:00+08:00", "2025-07-08T00:00:00+08:00"
    )


def test_the_window_is_at_most_90_days_and_other_bad_parameters_are_400(demo_client):
    for query, description in [
        (
            {"start_date": "2025-01-01T00:00:00+08:00", "end_date": "2025-04-02T00:00:00+08:00"},
            "start_date to end_date spans more than 90 days",
        ),
        ({"status": "pending"}, "status is open, closed or both"),
        ({"start_date": "yesterday"}, "'yesterday' is not a W3C date-time (e.g. 2026-11-01T00:00:00+08:00)"),
    ]:
        response = demo_client.get(f"{O311}/requests.json", query_string=query)
        assert (response.status_code, response.get_json()) == (
            400,
            [{"code": 400, "description": description}],
        )
    ninety = {"start_date": "2025-01-01T00:00:00+08:00", "end_date": "2025-04-01T00:00:00+08:00"}
    assert demo_client.get(f"{O311}/requests.json", query_string=ninety).status_code == 200


def test_the_default_window_is_the_last_90_days(demo_client, stored):
    listed = demo_client.get(f"{O311}/requests.json").get_json()
    now = datetime.datetime.now(CHINA)
    expected = _expected(stored, (now - datetime.timedelta(days=90)).isoformat(), now.isoformat())
    assert len(listed) == min(len(expected), 1000) and listed
    assert [r["service_request_id"] for r in listed] == expected[:1000]


def test_paging_with_page_size(demo_client, stored):
    query = {"start_date": "2025-06-01T00:00:00+08:00", "end_date": "2025-08-01T00:00:00+08:00"}
    expected = _expected(stored, query["start_date"], query["end_date"])
    pages = [
        demo_client.get(f"{O311}/requests.json", query_string={**query, "page_size": 7, "page": p}).get_json()
        for p in (1, 2, 3)
    ]
    assert [[r["service_request_id"] for r in page] for page in pages] == [
        expected[0:7],
        expected[7:14],
        expected[14:21],
    ]


def test_extensions_add_the_history_as_notes_and_the_grid(demo_app, demo_client, stored):
    store = demo_app.extensions["redgrid"].store
    closed = stored[stored["state"] == "closed"].sort_values("id")["id"].iloc[0]
    row = store.complaint(int(closed))
    [plain] = demo_client.get(f"{O311}/requests/{closed}.json").get_json()
    assert "notes" not in plain and "extended_attributes" not in plain
    [full] = demo_client.get(f"{O311}/requests/{closed}.json?extensions=true").get_json()
    assert full["extended_attributes"] == {
        "grid_code": row.grid_code,
        "state": "closed",
        "whistle_group": row.whistle_group,
        "grid_version": row.grid_version_id,
    }
    events = store.complaint_events(int(closed))
    assert [(n["type"], n["status"], t(n["datetime"])) for n in full["notes"]] == [
        (e.action, e.to_state, e.at.replace(microsecond=0)) for e in events
    ]
    assert all(n["datetime"].endswith("+08:00") for n in full["notes"])
    assert full["notes"][-1]["type"] == "follow_up" and full["status"] == "closed"

    query = {"service_request_id": f"{closed},999999", "extensions": "true"}
    listed = demo_client.get(f"{O311}/requests.json", query_string=query).get_json()
    assert [r["service_request_id"] for r in listed] == [str(closed)] and listed[0]["notes"] == full["notes"]
    root = _xml(demo_client.get(f"{O311}/requests/{closed}.xml?extensions=true"))
    assert [n.findtext("type") for n in root.findall("request/notes/note")] == [e.action for e in events]
    response = demo_client.get(f"{O311}/requests/999999.json")
    assert (response.status_code, response.get_json()) == (
        404,
        [{"code": 404, "description": "service_request_id 999999 not found"}],
    )
