"""领导驾驶舱: the dashboard's figures equal the statistics API's on the demo data.

The page exposes its numbers as data attributes (so the test compares numbers, not layout);
each is checked against ``/api/v1/stats/...`` asked with the same ``since``/``until``.
Access: dispatchers, planners and administrators; departments 403; anonymous → login.
"""

from __future__ import annotations

import html
import io
import re
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook

from services.dashboard import PERIODS
from tests.apps import create_user

pytest_plugins = ["tests.apps"]

PASSWORD = "correct horse battery"


@pytest.fixture
def app(fresh_app):
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "li", "李研判", PASSWORD, "planner")
    department = next(iter(fresh_app.extensions["redgrid"].cases.catalog.departments))
    create_user(store, "zhao", "赵部门", PASSWORD, "department", department)
    return fresh_app


def _login(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def _attrs(tag: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', tag)}


def _tags(page: str, attribute: str) -> list[dict[str, str]]:
    return [_attrs(m) for m in re.findall(rf"<[a-z]+ [^>]*data-{attribute}=[^>]*>", page)]


def _api(client, path: str, **params) -> list[dict]:
    response = client.get(f"/api/v1/stats/{path}?{urlencode(params)}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["rows"]


def _float(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.mark.parametrize("period", PERIODS)
def test_figures_equal_the_statistics_api(app, period):
    client = app.test_client()
    _login(client, "wang")
    response = client.get(f"/dashboard?period={period}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    board = _attrs(re.search(r'<section id="dashboard"[^>]*>', page).group(0))
    figures = {f["figure"]: f for f in _tags(page, "figure")}

    for since_key, until_key, which in (
        ("since", "until", "value"),
        ("previous-since", "previous-until", "previous"),
    ):
        window = {"since": board[since_key], "until": board[until_key]}
        by_state = {r["state"]: r["count"] for r in _api(client, "counts", by="state", **window)}
        assert int(figures["received"][which]) == sum(by_state.values())
        assert int(figures["closed"][which]) == by_state.get("closed", 0)
        satisfaction = _api(client, "satisfaction", **window)[0]
        assert _float(figures["satisfaction_rate"][which]) == satisfaction["rate"]
        assert int(figures["overdue"][which]) == len(_api(client, "overdue", **window))

    window = {"since": board["since"], "until": board["until"]}
    api_departments = {r["department_code"]: r for r in _api(client, "departments", **window)}
    page_departments = {d["department"]: d for d in _tags(page, "department")}
    assert set(page_departments) == set(api_departments)
    for code, row in api_departments.items():
        shown = page_departments[code]
        for key in ("dispatched", "resolved", "resolved_on_time", "overdue_open"):
            assert int(shown[key.replace("_", "-")]) == row[key], (code, key)
        assert _float(shown["on-time-rate"]) == row["on_time_rate"], code

    api_communities = {
        r["community_code"]: r["count"] for r in _api(client, "counts", by="community_code", **window)
    }
    for shown in _tags(page, "community"):
        assert int(shown["count"]) == api_communities[shown["community"]]
    ranked = sorted((n for c, n in api_communities.items() if c), reverse=True)[:10]
    assert [int(c["count"]) for c in _tags(page, "community")] == ranked
    api_grids = {r["grid_code"]: r["count"] for r in _api(client, "counts", by="grid_code", **window)}
    for shown in _tags(page, "grid"):
        assert int(shown["count"]) == api_grids[shown["grid"]]

    overdue_now = _api(client, "overdue")
    assert int(board["overdue-total"]) == len(overdue_now)
    shown = {int(o["id"]): float(o["overdue-days"]) for o in _tags(page, "overdue-days")}
    api_days = {r["id"]: r["overdue_days"] for r in overdue_now}
    assert len(shown) == min(50, len(overdue_now))
    assert all(api_days[i] == days for i, days in shown.items())
    assert sorted(shown.values(), reverse=True) == sorted(api_days.values(), reverse=True)[: len(shown)]


def test_page_is_chinese_with_charts_and_no_personal_data(app):
    client = app.test_client()
    _login(client, "wang")
    page = client.get("/dashboard?period=month").get_data(as_text=True)
    assert "领导驾驶舱" in page and "按时办结率" in page and "报到用时中位数" in page
    assert "<svg" in page and "<script" not in page
    assert 'href="/dashboard"' in page  # the nav link
    english = html.unescape(client.get("/dashboard?period=week&lang=en").get_data(as_text=True))
    assert "Leaders' dashboard" in english and "On-time rate" in english

    frame = app.extensions["redgrid"].store.complaints_frame(["reporter_name", "reporter_phone"])
    names = {n for n in frame["reporter_name"].dropna() if len(n) >= 2}
    phones = {p for p in frame["reporter_phone"].dropna() if len(p) >= 7}
    assert names or phones, "the demo has reporters to hide"
    for text in (page, english):
        assert not [n for n in names if n in text]
        assert not [p for p in phones if p in text]


def test_excel_export_has_chinese_headers_and_the_same_numbers(app):
    client = app.test_client()
    _login(client, "wang")
    page = client.get("/dashboard?period=month").get_data(as_text=True)
    figures = {f["figure"]: f for f in _tags(page, "figure")}
    response = client.get("/dashboard.xlsx?period=month")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["概览", "部门按时办结率", "超期清单", "社区排名", "网格排名", "多元议事"]
    overview = list(book["概览"].iter_rows(values_only=True))
    assert overview[1] == ("指标", "本期", "上期", "变化")
    values = {row[0]: row[1:] for row in overview[2:]}
    assert values["受理量"][0] == int(figures["received"]["value"])
    assert values["受理量"][1] == int(figures["received"]["previous"])
    assert values["办结量"][0] == int(figures["closed"]["value"])
    assert values["满意率"][0] == _float(figures["satisfaction_rate"]["value"])
    assert values["吹哨次数"][0] == int(figures["whistles"]["value"])
    assert values["多元议事会议次数"][0] == int(figures["deliberation_meetings"]["value"])

    departments = list(book["部门按时办结率"].iter_rows(values_only=True))
    assert departments[0][:6] == ("部门", "派单数", "已办结", "按时办结", "超期未办结", "按时办结率")
    shown = [_float(d["on-time-rate"]) for d in _tags(page, "department")]
    assert [row[5] for row in departments[1:]] == shown

    overdue = list(book["超期清单"].iter_rows(values_only=True))
    assert overdue[0] == ("诉求编号", "类别", "责任部门", "社区", "网格", "超期天数")
    api_ids = {r["id"] for r in _api(client, "overdue")}
    assert {row[0] for row in overdue[1:]} == api_ids
    assert all(isinstance(row[1], str) and not row[1].isascii() for row in overdue[1:])  # names, not codes

    communities = list(book["社区排名"].iter_rows(values_only=True))
    assert [row[2] for row in communities[1:]] == [int(c["count"]) for c in _tags(page, "community")]


def test_who_may_see_the_dashboard(app):
    client = app.test_client()
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/dashboard.xlsx").status_code == 302

    _login(client, "zhao")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/dashboard.xlsx").status_code == 403
    assert 'href="/dashboard"' not in client.get("/complaints").get_data(as_text=True)

    planner = app.test_client()
    _login(planner, "li")
    assert planner.get("/dashboard?period=today").status_code == 200

    dispatcher = app.test_client()
    _login(dispatcher, "wang")
    assert dispatcher.get("/dashboard?period=year").status_code in (400, 422)
