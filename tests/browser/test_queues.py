"""我的待办 in a real browser (issue 9, items 4 and 5): for a dispatcher, a department clerk and
a grid worker, the count in the header equals the rows of the counted queues, and each queue
lists the same cases as the list filtered the same way; the dispatch centre re-assigns a case
from the case page and the new holder's name is shown there.

The server runs on a copy of the demo without its generated cases, so every queue holds only
the cases made here and is read whole on one page.
"""

from __future__ import annotations

import contextlib
import datetime
import sqlite3

import pytest

from geo.officials import Role
from geo.officials import UnitLevel
from geo.timeutil import BEIJING
from tests.browser.harness import add_users
from tests.browser.harness import new_recorded_page
from tests.browser.harness import serve
from tests.browser.pages import ComplaintListPage
from tests.browser.pages import LoginPage
from tests.browser.pages import QueuePage
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from webmap import create_app

PASSWORD = "queue-pass-1234"
DEPARTMENT = "urban_management"


def _worker(store, grid: str):
    return sorted(
        (
            a
            for a in store.assignments([grid])
            if a.role is Role.GRID_WORKER and a.unit_level is UnitLevel.GRID
        ),
        key=lambda a: (a.name, a.phone),
    )[0]


@pytest.fixture(scope="module")
def office(demo_template, tmp_path_factory, demo_grids):
    """The demo's grids and roster without its cases; a few cases in each queue; three people."""
    db = tmp_path_factory.mktemp("queue-live") / "redgrid.db"
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db)) as dst,
    ):
        src.backup(dst)
        for table in ("complaint_photos", "complaint_regrid", "complaint_events", "complaints"):
            dst.execute(f"DELETE FROM {table}")
        dst.commit()
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "CACHE_DIR": str(demo_template.cache_dir),
            "SECRET_KEY": "browser-tests",
            "ACTIVE_TTL_S": 0.0,
        }
    )
    add_users(app)
    services = app.extensions["redgrid"]
    cases, store = services.cases, services.store
    grid = grid_of_kind(demo_grids, "urban")
    worker = _worker(store, grid)
    services.accounts.create_user("clerk", "城管张", PASSWORD, "department", DEPARTMENT)
    services.accounts.create_user("gridder", worker.name, PASSWORD, "grid", official_id=worker.id)
    now = datetime.datetime.now(BEIJING)

    def new(n: int):
        when = (now - datetime.timedelta(hours=2, minutes=n)).strftime("%Y-%m-%d %H:%M")
        return file_at(cases, demo_grids, grid, f"queue-{n}", when)

    def act(case, action, **fields):
        return cases.transition(
            case.id, action, expected_version=case.row_version, actor="user:dispatcher", **fields
        )

    new(1)
    new(2)
    act(act(new(3), "dispatch", department=DEPARTMENT), "return", note="不属本部门")
    act(new(4), "dispatch", department=DEPARTMENT)
    late = act(new(5), "dispatch", department=DEPARTMENT)
    # time has passed for it: its deadline an hour ago (as the clock of a live server cannot move)
    past = now - datetime.timedelta(hours=1)
    store.update_complaint(
        late.id,
        late.row_version,
        {"deadline": past},
        {
            "at": past,
            "actor": "test",
            "action": "deadline_recomputed",
            "from_state": late.state,
            "to_state": late.state,
            "note": None,
            "department_code": DEPARTMENT,
            "deadline": past,
            "satisfied": None,
            "duplicate_of": None,
        },
    )
    act(new(6), "resolve_on_site", note="现场解决")
    server, url = serve(app)
    yield url, app, worker
    server.shutdown()


@pytest.fixture
def page(browser, office):
    context, page = new_recorded_page(browser, office[0])
    context.set_default_timeout(30_000)
    yield page
    context.close()


#: the list filters that show the same cases as a queue (query, by queue)
SAME_AS_LIST = {
    "dispatcher": {
        "new": {"state": "collected"},
        "returned": {"state": "returned"},
        "follow_up": {"state": "resolved,resolved_on_site"},
        "overdue": {"deadline": "overdue"},
    },
    "clerk": {
        "overdue": {"department": DEPARTMENT, "deadline": "overdue"},
        "reopened": {"department": DEPARTMENT, "state": "reopened"},
        "open": {"department": DEPARTMENT, "state": "dispatched,reopened"},
    },
    "gridder": {"grids": {"state": "collected,deliberation,dispatched,reopened,returned"}},
}


@pytest.mark.parametrize(
    "username,password",
    [("dispatcher", "dispatcher-pass-123"), ("clerk", PASSWORD), ("gridder", PASSWORD)],
)
def test_the_header_count_is_the_rows_of_the_counted_queues_and_each_queue_is_its_list(
    page, office, username, password
):
    LoginPage(page, office[0]).login(username, password)
    queues = QueuePage(page, office[0]).open()
    counted = queues.counted_queues()
    assert counted
    rows = {name: queues.queue_rows(name).count() for name in counted}
    assert queues.badge() == sum(rows.values()) > 0
    listing = ComplaintListPage(page, office[0])
    for name, query in SAME_AS_LIST[username].items():
        queues.open()
        in_queue = sorted(queues.queue_rows(name).all_inner_texts())
        listing.open(query)
        assert listing.total() == len(in_queue), name
        assert listing.complaint_rows().count() == len(in_queue), name
        assert QueuePage(page, office[0]).badge() == sum(rows.values())  # the header of every page


def test_the_centre_reassigns_a_case_to_a_team_member_named_on_the_case_page(page, office):
    url, _app, worker = office
    LoginPage(page, url).login("dispatcher", "dispatcher-pass-123")
    queues = QueuePage(page, url).open()
    queues.queue("new").get_by_role("row").filter(has=page.get_by_role("cell")).first.get_by_role(
        "link"
    ).first.click()
    block = page.get_by_role("region", name=queues.t("assignee"))
    assert worker.name in block.inner_text()
    chooser = block.get_by_label(queues.t("assign_to"))
    choices = [o for o in chooser.locator("option").all_inner_texts() if worker.name not in o]
    chooser.select_option(label=choices[0])
    block.get_by_role("button", name=queues.t("action_assign")).click()
    page.wait_for_load_state("networkidle")
    block = page.get_by_role("region", name=queues.t("assignee"))
    assert block.locator(".assignee-now").inner_text() == choices[0]
    assert queues.t("assign_done") in page.get_by_role("main").inner_text()
