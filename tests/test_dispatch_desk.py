"""The dispatcher's desk without a browser (issue 9, item 8): the datum kept per person, a
community asked by name, and the call text carried into the intake form with a category
suggested from it. The browser journeys are in tests/browser/test_dispatcher_desk.py."""

from __future__ import annotations

import html
import re

import pytest

from tests.apps import create_user

PASSWORD = "correct horse battery"


def _token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def _login(client, username: str) -> None:
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def _settings(page_html: str) -> dict:
    import json

    found = re.search(
        r'<script type="application/json" id="dispatcher-settings">(.*?)</script>', page_html, re.S
    )
    return json.loads(found.group(1))


@pytest.fixture
def app(fresh_app):
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "zhao", "赵调度", PASSWORD, "dispatcher")
    return fresh_app


# --- the datum pasted coordinates are read in ---------------------------------------------------------


def test_pasted_coordinates_default_to_gcj02_for_everyone(app):
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    settings = _settings(page)
    assert settings["coordsys"] == "gcj02" and settings["keepsCoordsys"] == "browser"
    assert re.search(r'<option value="gcj02" selected>', page)
    assert "您的选择保存在本浏览器中" in page
    _login(client, "wang")
    settings = _settings(client.get("/").get_data(as_text=True))
    assert settings["coordsys"] == "gcj02" and settings["keepsCoordsys"] == "server"


def test_a_signed_in_choice_is_kept_on_the_server_for_that_person_only(app):
    wang, zhao = app.test_client(), app.test_client()
    _login(wang, "wang")
    _login(zhao, "zhao")
    page = wang.get("/").get_data(as_text=True)
    token = _settings(page)["csrf"]
    refused = wang.post("/preferences/coordsys", data={"value": "wgs84"})  # no CSRF token
    assert refused.status_code == 400
    answer = wang.post("/preferences/coordsys", data={"value": "wgs84"}, headers={"X-CSRFToken": token})
    assert answer.status_code == 200 and answer.get_json() == {"coordsys": "wgs84"}
    page = wang.get("/").get_data(as_text=True)
    assert _settings(page)["coordsys"] == "wgs84"
    assert re.search(r'<option value="wgs84" selected>', page)
    assert "您的选择保存在账户中" in page
    assert _settings(zhao.get("/").get_data(as_text=True))["coordsys"] == "gcj02"
    accounts = app.extensions["redgrid"].accounts
    store = app.extensions["redgrid"].store
    assert store.preferences(accounts.user_id("wang")) == {"coordsys": "wgs84"}


def test_a_wrong_preference_is_refused_naming_it_and_nothing_is_kept(app):
    client = app.test_client()
    _login(client, "wang")
    token = _settings(client.get("/").get_data(as_text=True))["csrf"]
    bad = client.post(
        "/preferences/coordsys",
        data={"value": "mars"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert bad.status_code == 400  # Invalid: the value named, and the field
    assert "mars" in bad.get_data(as_text=True) and "gcj02" in bad.get_data(as_text=True)
    unknown = client.post(
        "/preferences/colour",
        data={"value": "red"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert unknown.status_code == 400 and "colour" in unknown.get_data(as_text=True)
    store = app.extensions["redgrid"].store
    assert store.preferences(app.extensions["redgrid"].accounts.user_id("wang")) == {}


def test_anonymous_visitors_keep_their_choice_in_the_browser_not_on_the_server(app):
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    answer = client.post("/preferences/coordsys", data={"value": "wgs84", "csrf_token": token})
    assert answer.status_code == 401


# --- a community asked by name ------------------------------------------------------------------------


def test_a_community_answers_with_its_grids_and_the_team_above_them(app):
    client = app.test_client()
    grids = client.get("/api/v1/grids").get_json()["grids"]
    community = grids[0]["community"]
    body = client.get(f"/api/v1/communities/{community['code']}").get_json()
    assert (body["code"], body["name"], body["kind"]) == (
        community["code"],
        community["name"],
        community["kind"],
    )
    mine = [
        {"code": g["code"], "name": g["name"]} for g in grids if g["community"]["code"] == community["code"]
    ]
    assert body["grids"] == mine and len(mine) > 1
    assert body["team"] and {p["unit"] for p in body["team"]} <= {"community", "town"}
    assert all(p["phone_masked"] for p in body["team"])  # anonymous: masked
    missing = client.get("/api/v1/communities/440605125999")
    assert missing.status_code == 404


def test_a_community_name_alone_is_geocoded_to_that_community(app):
    client = app.test_client()
    grids = client.get("/api/v1/grids").get_json()["grids"]
    community = grids[0]["community"]
    found = client.get("/api/v1/geocode", query_string={"q": community["name"]}).get_json()
    assert found["status"] == "matched"
    assert (found["best"]["kind"], found["best"]["code"]) == ("community", community["code"])
    grid = grids[5]
    found = client.get("/api/v1/geocode", query_string={"q": grid["name"]}).get_json()
    assert found["status"] == "matched"
    assert (found["best"]["kind"], found["best"]["code"]) == ("grid", grid["code"])


# --- the call text carried into the intake form ----------------------------------------------------------


def test_the_call_text_fills_the_form_and_suggests_its_category(app):
    client = app.test_client()
    _login(client, "wang")
    page = client.get("/complaints/new", query_string={"text": "楼下路灯不亮，晚上很黑", "lon": "113.14"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ">楼下路灯不亮，晚上很黑</textarea>" in text
    assert re.search(r'<option value="street_light" selected>', text)
    note = html.unescape(re.search(r'id="category-suggested">(.*?)</p>', text).group(1))
    assert "路灯不亮、损坏" in note and "路灯" in note
    # a category the dispatcher gave wins over the suggestion; words that say nothing suggest nothing
    given = client.get("/complaints/new", query_string={"text": "路灯不亮", "category": "noise"})
    assert re.search(r'<option value="noise" selected>', given.get_data(as_text=True))
    assert 'id="category-suggested"' not in given.get_data(as_text=True)
    vague = client.get("/complaints/new", query_string={"text": "你好，我想问一下"}).get_data(as_text=True)
    select = re.search(r'<select id="category".*?</select>', vague, re.S).group(0)
    assert 'id="category-suggested"' not in vague and "selected" not in select


def test_the_suggestion_is_in_english_on_english_pages(app):
    client = app.test_client()
    _login(client, "wang")
    text = client.get("/complaints/new", query_string={"text": "井盖不见了", "lang": "en"}).get_data(
        as_text=True
    )
    note = html.unescape(re.search(r'id="category-suggested">(.*?)</p>', text).group(1))
    assert note.startswith("Suggested from the call: ") and "井盖" in note
