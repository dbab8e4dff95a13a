"""The whistle and deliberation pages through HTTP: forms with CSRF, who sees which buttons,
the case page's sections, and the dashboard counting what was done."""

from __future__ import annotations

import html
import re

import pytest

from services.callers import system
from tests.apps import create_user

pytest_plugins = ["tests.apps"]

PASSWORD = "correct horse battery"


@pytest.fixture
def app(fresh_app):
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "li", "李研判", PASSWORD, "planner")
    create_user(store, "police", "派出所值班", PASSWORD, "department", "police")
    create_user(store, "water", "水务值班", PASSWORD, "department", "water_affairs")
    create_user(store, "fire", "消防值班", PASSWORD, "department", "fire_rescue")
    return fresh_app


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(app, username: str):
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def _open_urban_case(app) -> int:
    services = app.extensions["redgrid"]
    for case in services.store.list_complaints(filters={"state": "collected"}, limit=200):
        if services.cases.community_kind(case) == "urban":
            return case.id
    raise AssertionError("the demo has an urban case still collected")


def _page(client, complaint_id: int) -> str:
    response = client.get(f"/complaints/{complaint_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _summons(page: str, department_name: str) -> str:
    """The <li> of one summoned department."""
    for item in re.findall(r'<li class="summons".*?</li>', page, flags=re.S):
        if department_name in item:
            return item
    raise AssertionError(f"{department_name} not summoned")


def test_whistle_report_in_and_respond_through_the_pages(app):
    cid = _open_urban_case(app)
    services = app.extensions["redgrid"]
    services.notifications.add_contact(
        system(), "whistle_group", "whistle_urban", "email", "w@dali.example.org"
    )
    centre = _login(app, "wang")
    page = _page(centre, cid)
    assert 'id="whistle-form"' in page and "城市社区吹哨群" in page
    version = re.search(r'id="whistle-form".*?name="version" value="(\d+)"', page, flags=re.S).group(1)
    # without the CSRF token nothing happens
    assert centre.post(f"/complaints/{cid}/whistle", data={"version": version}).status_code == 400
    done = centre.post(
        f"/complaints/{cid}/whistle",
        data={"csrf_token": _token(page), "version": version, "note": "<b>请到场</b>"},
    )
    assert done.status_code == 302
    page = _page(centre, cid)
    assert "已吹哨" in page and "&lt;b&gt;请到场&lt;/b&gt;" in page and "<b>请到场</b>" not in page
    assert "尚未报到" in _summons(page, "派出所")
    # the whistle group is told, in the whistle's own transaction (the outbox)
    told = [m for m in services.store.outbox_messages(complaint_id=cid) if m.kind == "whistle"]
    assert [(m.recipient_code, m.address) for m in told] == [("whistle_urban", "w@dali.example.org")]

    police = _login(app, "police")
    page = _page(police, cid)
    mine = _summons(page, "派出所")
    assert "报到</button>" in mine and "提交响应" in mine
    assert "报到</button>" not in _summons(page, "水务")  # another department's row has no buttons
    action = re.search(r'action="([^"]+)"', mine).group(1)
    assert police.post(action, data={"csrf_token": _token(page), "step": "report"}).status_code == 302
    page = _page(police, cid)
    assert "报到（用时" in _summons(page, "派出所")
    response = police.post(
        action, data={"csrf_token": _token(page), "step": "respond", "response": "已派民警"}
    )
    assert response.status_code == 302
    shown = _summons(_page(police, cid), "派出所")
    assert "响应（用时" in shown and "已派民警" in shown and "提交响应" not in shown

    # a department not in the group cannot answer in another's place
    fire = _login(app, "fire")
    page = _page(fire, cid)
    assert "提交响应" not in page
    water_action = re.search(r'action="([^"]+)"', _summons(_page(centre, cid), "水务") + 'action="x"').group(
        1
    )
    water_summons = re.search(r'data-summons="(\d+)"', _summons(_page(centre, cid), "水务")).group(1)
    refused = fire.post(
        f"/complaints/{cid}/whistle/summons/{water_summons}",
        data={"csrf_token": _token(page), "step": "report"},
    )
    assert refused.status_code == 302 and water_action  # refused with a message, nothing recorded
    assert "本部门未被此次吹哨召集" in _page(fire, cid)
    assert "尚未报到" in _summons(_page(centre, cid), "水务")

    # the dashboard counts the whistle and how fast the police came
    board = centre.get("/dashboard?period=month").get_data(as_text=True)
    whistles = re.search(r'data-figure="whistles" data-value="(\d+)"', board).group(1)
    assert int(whistles) >= 1
    assert re.search(r'data-figure="whistle_report_minutes" data-value="[0-9.]+"', board)


def test_record_a_deliberation_that_settles_a_case(app):
    cid = _open_urban_case(app)
    centre = _login(app, "wang")
    page = _page(centre, cid)
    link = html.unescape(re.search(r'href="(/deliberations/new\?complaint=\d+)"', page).group(1))
    form = centre.get(link).get_data(as_text=True)
    assert form.count('name="p_kind"') == 5 and "两代表一委员" in form and 'name="settle"' in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    fields = {
        "csrf_token": _token(form),
        "complaint": str(cid),
        "version": version,
        "held_at": "2026-01-05T19:30",
        "place": "沥雄社区红色会客厅",
        "matter": "占道经营",
        "outcome": "划定临时摊位",
        "minutes": "",
        "settle": "yes",
    }
    rows = {"p_kind": ["resident", "deputy", "grid_team"], "p_name": ["陈大妈", "黄代表", "周网格员"]}
    rows["p_affiliation"] = ["", "镇人大代表", ""]
    # "add a row" keeps what was typed and offers one more row
    more = centre.post(link, data={**fields, **rows, "add_row": "1"}).get_data(as_text=True)
    assert more.count('name="p_kind"') == 4 and "黄代表" in more
    done = centre.post(link, data={**fields, **rows})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    record = centre.get(done.headers["Location"]).get_data(as_text=True)
    assert "陈大妈" in record and "划定临时摊位" in record and "议事化解" in record
    assert app.extensions["redgrid"].store.complaint(cid).state == "resolved_on_site"
    # a planner reads the record without residents' names
    planner = _login(app, "li")
    shown = planner.get(done.headers["Location"]).get_data(as_text=True)
    assert "陈大妈" not in shown and "黄代表" in shown and "已隐去" in shown
    listing = planner.get("/deliberations").get_data(as_text=True)
    assert "沥雄社区红色会客厅" in listing and "陈大妈" not in listing
    # a bad form is answered with the field named, nothing stored
    bad = centre.post("/deliberations/new", data={**fields, **rows, "complaint": "", "place": ""})
    assert bad.status_code == 422 and 'role="alert"' in bad.get_data(as_text=True)
