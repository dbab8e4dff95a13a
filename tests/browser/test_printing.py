"""Printing from the case page (issue 10, item 8), in a real browser: a dispatcher finds the
print block under the title, takes the work order and the case sheet as PDFs, and they read
back with the case's number, its dispatcher's instructions and the reporter's phone; a
planner's case sheet has the phone masked; nothing is fetched from another host.
"""

from __future__ import annotations

import datetime
import io

import pytest
from pypdf import PdfReader

from geo.timeutil import BEIJING
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import new_recorded_page
from tests.browser.pages import ComplaintPage
from tests.browser.pages import LoginPage
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind

PHONE = "13900139000"
INSTRUCTIONS = "请当日派员清理占道堆放物"


@pytest.fixture(scope="module")
def print_server(demo_template, tmp_path_factory):
    """The demo on its own port, so the cases made here change no other test's pages."""
    server, url, app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("print-live"))
    yield url, app
    server.shutdown()


@pytest.fixture
def print_page(browser, print_server):
    context, page = new_recorded_page(browser, print_server[0])
    context.set_default_timeout(30_000)
    yield page
    context.close()


def _dispatched_case(app, demo_grids, external_id: str) -> int:
    cases = app.extensions["redgrid"].cases
    reported = datetime.datetime.now(BEIJING) - datetime.timedelta(hours=1)
    case = file_at(
        cases,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        external_id,
        reported.strftime("%Y-%m-%d %H:%M"),
        reporter_name="周先生",
        reporter_phone=PHONE,
    )
    cases.transition(
        case.id, "dispatch", expected_version=case.row_version, actor="user:dispatcher", note=INSTRUCTIONS
    )
    return case.id


def _stayed_local(page) -> None:
    """No request left the app's host, and no console error. Chromium's own PDF viewer loads
    its parts from inside the browser (chrome://, chrome-extension://): not the network."""
    network = [
        u for u in page.record.foreign(page.base) if not u.startswith(("chrome:", "chrome-extension:"))
    ]
    assert network == [], f"requests to other hosts: {network}"
    assert page.record.errors() == [], page.record.errors()


def _text(pdf: bytes) -> str:
    return "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)


def test_a_dispatcher_prints_the_work_order_and_the_case_sheet(print_page, print_server, demo_grids):
    url, app = print_server
    complaint_id = _dispatched_case(app, demo_grids, "browser-print-dispatcher")
    LoginPage(print_page, url).login("dispatcher", "dispatcher-pass-123")
    complaint = ComplaintPage(print_page, url).open(complaint_id)
    order = _text(complaint.print_sheet("order"))
    assert f"派单编号{complaint_id}-1" in order and INSTRUCTIONS in order and PHONE in order
    sheet = _text(complaint.print_sheet("case"))
    assert f"诉求编号{complaint_id}" in sheet and "周先生" in sheet and PHONE in sheet
    _stayed_local(print_page)


def test_a_planners_case_sheet_has_the_phone_masked(print_page, print_server, demo_grids):
    url, app = print_server
    complaint_id = _dispatched_case(app, demo_grids, "browser-print-planner")
    LoginPage(print_page, url).login("planner", "planner-pass-123")
    complaint = ComplaintPage(print_page, url).open(complaint_id)
    sheet = _text(complaint.print_sheet("case"))
    assert PHONE not in sheet and "139****9000" in sheet
    _stayed_local(print_page)
