"""An after photo required and added (issue 9, item 7), in a real browser: a dispatcher resolves
an illegal-construction case, is told to add an after photo, uploads one, resolves, and sees it.
"""

from __future__ import annotations

import datetime

import pytest

from geo.timeutil import BEIJING
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import new_recorded_page
from tests.browser.pages import ComplaintPage
from tests.browser.pages import LoginPage
from tests.test_complaints_api import _png
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind


@pytest.fixture(scope="module")
def photo_server(demo_template, tmp_path_factory):
    """The demo on its own port with photo storage configured."""
    root = tmp_path_factory.mktemp("photos-live")
    server, url, app = serve_copy_of_demo(demo_template, root, PHOTO_DIR=str(root / "photos"))
    yield url, app
    server.shutdown()


@pytest.fixture
def photo_page(browser, photo_server):
    context, page = new_recorded_page(browser, photo_server[0])
    yield page
    context.close()


def _dispatched_case(app, demo_grids) -> int:
    """A new dispatched case of a category that requires an after photo (illegal construction)."""
    cases = app.extensions["redgrid"].cases
    reported = datetime.datetime.now(BEIJING) - datetime.timedelta(hours=1)
    case = file_at(
        cases,
        demo_grids,
        grid_of_kind(demo_grids, "urban"),
        "browser-after-photo",
        reported.strftime("%Y-%m-%d %H:%M"),
        category="illegal_construction",
        text="楼顶加建铁皮房",
    )
    cases.transition(case.id, "dispatch", expected_version=case.row_version, actor="user:test")
    return case.id


def test_an_after_photo_is_required_then_added_and_the_case_resolves(
    photo_page, photo_server, demo_grids, tmp_path
):
    url, app = photo_server
    complaint_id = _dispatched_case(app, demo_grids)
    LoginPage(photo_page, url).login("dispatcher", "dispatcher-pass-123")
    complaint = ComplaintPage(photo_page, url).open(complaint_id)
    assert complaint.photos("after").count() == 0

    complaint.act("resolve", note="违建已拆除")
    assert "此类诉求须先上传处理后照片方可办结" in complaint.error().inner_text()
    assert complaint.after_photos_field.get_attribute("aria-invalid") == "true"
    assert app.extensions["redgrid"].cases.store.complaint(complaint_id).state == "dispatched"

    picture = tmp_path / "拆除后.png"
    picture.write_bytes(_png())
    complaint.resolve_with_after_photos(str(picture), note="违建已拆除")
    photo_page.wait_for_url(f"**/complaints/{complaint_id}")
    assert complaint.t("state_resolved") in complaint.heading()
    assert complaint.error().count() == 0
    after = complaint.photos("after")
    assert after.count() == 1
    thumbnail = after.first.get_by_role("img", name="拆除后.png")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1  # served and decoded
    # clean but for the refused submit's own status (the form page answered 422, as it should)
    assert photo_page.record.foreign(photo_page.base) == []
    assert [e for e in photo_page.record.errors() if "status of 422" not in e] == []
