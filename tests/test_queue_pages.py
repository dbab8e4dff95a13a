"""The queue page, the header count, the list's filters and sorting in the URL, and the case
page's assignment block, through the test client (issue 9, items 4 and 5)."""

from __future__ import annotations

import html
import re

import pytest

from geo.officials import Role
from geo.officials import UnitLevel
from tests.apps import cli_ok
from tests.apps import create_user
from tests.test_complaint_pages import PASSWORD
from tests.test_complaint_pages import _login
from tests.test_complaint_pages import _token

BADGE = re.compile(r'class="badge queue-count"[^>]*>(\d+)</span>')


@pytest.fixture
def office(demo_db, fresh_app):
    """A dispatcher, a department clerk and a grid worker linked to the roster."""
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "cg", "城管张", PASSWORD, "department", "urban_management")
    case = store.list_complaints(filters={"state": "collected"}, limit=1)[0]
    worker = next(
        a
        for a in store.assignments([case.grid_code])
        if a.role is Role.GRID_WORKER and a.unit_level is UnitLevel.GRID
    )
    result = cli_ok(
        demo_db.cli(
            "users", "create", "li", "--name", worker.name, "--role", "grid",
            "--official", str(worker.id), "--password", PASSWORD,
        )
    )  # fmt: skip
    assert "created" in result.stdout
    return fresh_app, case, worker


def rows(page: str, queue: str | None = None) -> list[int]:
    """The case ids a page lists (in one queue's section when named)."""
    if queue is not None:
        found = re.search(rf'<section id="queue-{queue}".*?</section>', page, re.S)
        page = found.group(0) if found else ""
    return [int(i) for i in re.findall(r'<tr data-case="(\d+)"', page)]


@pytest.mark.parametrize("username", ["wang", "cg", "li"])
def test_the_header_count_is_the_number_of_rows_waiting_in_the_queues(office, username):
    app, *_ = office
    client = app.test_client()
    _login(client, username)
    page = client.get("/queue").get_data(as_text=True)
    badge = int(BADGE.search(page).group(1))
    counted = 0
    for name, flag in re.findall(r'<section id="queue-([^"]+)"[^>]*data-counted="(yes|no)"', page):
        listed = rows(page, name)
        more = 2
        while len(listed) % 50 == 0 and listed:  # a full page: the rest on the queue's own pages
            extra = rows(client.get(f"/queue/{name}?page={more}").get_data(as_text=True), name)
            if not extra:
                break
            listed, more = listed + extra, more + 1
        assert len(listed) == len(set(listed))
        counted += len(listed) if flag == "yes" else 0
    assert badge == counted
    # and on every other page
    other = client.get("/complaints").get_data(as_text=True)
    assert int(BADGE.search(other).group(1)) == badge


def test_anonymous_and_planners_have_no_queue(office):
    app, *_ = office
    client = app.test_client()
    assert not BADGE.search(client.get("/complaints").get_data(as_text=True))
    assert client.get("/queue").status_code == 302


def test_the_list_filters_and_sorts_in_the_url_with_names(office):
    app, case, _ = office
    store = app.extensions["redgrid"].store
    client = app.test_client()
    _login(client, "wang")
    page = client.get(f"/complaints?ticket={case.id}").get_data(as_text=True)
    assert rows(page) == [case.id]
    grids = app.extensions["redgrid"].grids
    grid_set = grids.grid_set(case.grid_version_id)
    name = grid_set.grids.loc[grid_set.grids["code"] == case.grid_code, "name"].iloc[0]
    assert html.escape(name) in page
    by_state = client.get("/complaints?state=dispatched&sort=deadline").get_data(as_text=True)
    listed = rows(by_state)
    stored = [store.complaint(i) for i in listed]
    assert stored and {c.state for c in stored} == {"dispatched"}
    assert [c.deadline for c in stored] == sorted(c.deadline for c in stored)
    assert "sort=-deadline" in by_state  # the header links the other direction
    assert store.count_complaints({"state": "dispatched"}) == int(
        re.search(r"<h1>[^<]*<span class=\"muted\">\((\d+)\)", by_state).group(1)
    )
    community = client.get(f"/complaints?community={case.community_code}").get_data(as_text=True)
    assert {store.complaint(i).community_code for i in rows(community)} == {case.community_code}
    bad = client.get("/complaints?sort=text")
    assert bad.status_code == 422


def test_the_dispatch_centre_reassigns_from_the_case_page_and_an_outsider_is_refused(office):
    app, case, worker = office
    store = app.extensions["redgrid"].store
    client = app.test_client()
    _login(client, "wang")
    page = client.get(f"/complaints/{case.id}").get_data(as_text=True)
    assert 'id="assign-form"' in page
    team = re.findall(r'<select id="assignee"[^>]*>(.*?)</select>', page, re.S)[0]
    options = re.findall(r'<option value="(\d+)"', team)
    other = next(o for o in options if o != str(worker.id))
    outsider = next(
        a.id for a in store.assignments() if a.unit_level is UnitLevel.GRID and a.unit_code != case.grid_code
    )
    before = store.complaint(case.id), store.complaint_events(case.id)
    token = _token(page)
    client.post(
        f"/complaints/{case.id}/assign",
        data={"csrf_token": token, "version": case.row_version, "assignee": str(outsider)},
    )
    assert (store.complaint(case.id), store.complaint_events(case.id)) == before
    done = client.post(
        f"/complaints/{case.id}/assign",
        data={"csrf_token": token, "version": case.row_version, "assignee": other},
        follow_redirects=True,
    )
    assert store.complaint(case.id).assignee == other
    shown = done.get_data(as_text=True)
    member = next(a for a in store.assignments() if a.id == int(other))
    assert html.escape(member.name) in shown and member.role.label_zh in shown


def test_the_patrol_page_opens_with_my_grids_and_my_tasks(office):
    """巡查上报 for a grid worker: their grids by name and the cases assigned to them; a
    dispatcher (no grids of their own) gets the report form only."""
    app, case, worker = office
    services = app.extensions["redgrid"]
    centre = services.accounts.user_by_id(services.accounts.user_id("wang"))
    services.cases.act(centre, case.id, "assign", expected_version=case.row_version, assignee=str(worker.id))
    mine = services.queues.field_home(services.accounts.user_by_id(services.accounts.user_id("li")))
    assert case.grid_code in dict(mine.grids) and mine.tasks is not None
    client = app.test_client()
    _login(client, "li")
    page = client.get("/field/").get_data(as_text=True)
    grids = re.search(r'<ul class="field-grids">(.*?)</ul>', page, re.S).group(1)
    names = re.findall(r"<li>(.*?)</li>", grids)
    assert names == [html.escape(name) for _, name in mine.grids] and all(not n.isdigit() for n in names)
    tasks = re.findall(r'href="/complaints/(\d+)"', re.search(r'field-tasks".*?</ul>', page, re.S).group(0))
    assert [int(i) for i in tasks] == [v.case.id for v in mine.tasks.page.items][:20]
    assert case.id in [int(i) for i in tasks]
    client = app.test_client()
    _login(client, "wang")
    page = client.get("/field/").get_data(as_text=True)
    assert "field-grids" not in page and "field-tasks" not in page and 'id="patrol-form"' in page
