"""Printed sheets (issue 10, item 8): real PDFs rendered by WeasyPrint and read back with pypdf.

The truth each sheet is checked against is independent of the printing code: the bundled
grid file, communities and roster files, the catalogue as the csv module reads it, and the
deadline the store kept, turned into Beijing time here.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import sys

import pytest
from PIL import Image
from pypdf import PdfReader

from services.printing import PrintService
from services.printing import thumbnail
from tests.apps import DEMO_COMMUNITIES
from tests.apps import DEMO_ROSTER
from tests.test_complaint_pages import PASSWORD
from tests.test_complaint_pages import _login
from tests.test_complaint_pages import people  # noqa: F401  (a fixture)
from tests.test_complaints_service import Clock
from tests.test_complaints_service import catalog_rows
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

CHINA = datetime.timezone(datetime.timedelta(hours=8))
PHONE = "13800138000"
INSTRUCTIONS = "请于三个工作日内到现场核查噪音来源并答复"


def _text(pdf: bytes) -> str:
    """A PDF's text with every blank removed (table cells wrap lines where they like)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _fonts(pdf: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(pdf))
    names = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def _images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


def _rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _install(app, clock: Clock, photo_dir=None):
    """A clocked cases service (``install``) with the printing service on it."""
    svc = install(app, clock, photo_dir)
    services = app.extensions["redgrid"]
    app.extensions["redgrid"] = dataclasses.replace(services, printing=PrintService(svc))
    return svc


@pytest.fixture
def dispatched(people, demo_grids):  # noqa: F811
    """A noise complaint with the reporter's phone, dispatched by 王调度 with instructions."""
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = _install(people, clock)
    code = grid_of_kind(demo_grids, "urban")
    row = file_at(
        svc, demo_grids, code, "print-1", "2025-09-30 14:00", reporter_name="陈女士", reporter_phone=PHONE
    )
    row = step(svc, clock, row, "2025-09-30T16:00:00+08:00", "dispatch", note=INSTRUCTIONS)
    return svc, row


def _client(app, who: str | None):
    client = app.test_client()
    if who:
        assert _login(client, who, PASSWORD).status_code == 302
    return client


def _get_pdf(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.data.startswith(b"%PDF-")
    return response.data


def test_a_work_order_holds_the_case_its_place_team_department_and_deadline(people, demo_grids, dispatched):  # noqa: F811
    svc, row = dispatched
    pdf = _get_pdf(_client(people, "wang"), f"/complaints/{row.id}/print/order.pdf")
    text = _text(pdf)
    grid = demo_grids.set_index("code").loc[row.grid_code]
    community = next(r for r in _rows(DEMO_COMMUNITIES) if r["code"] == grid["community_code"])
    category = catalog_rows("categories.csv")["noise"]
    department = catalog_rows("departments.csv")[category["department"]]
    due = svc.store.complaint(row.id).deadline.astimezone(CHINA).strftime("%Y-%m-%d%H:%M")
    assert "大沥镇诉求派单单" in text
    assert f"派单编号{row.id}-1" in text  # the first dispatch of this case
    assert f"诉求编号{row.id}" in text
    for shown in (category["name_zh"], grid["name"], row.grid_code, community["name"], department["name_zh"]):
        assert _squeeze(shown) in text, shown
    # the deadline in Beijing time, with the working days left when it was printed (noise: 3)
    assert f"{due}（剩余3个工作日）" in text
    assert "派单时间2025-09-3016:00" in text and "派单人王调度" in text
    assert _squeeze(INSTRUCTIONS) in text
    assert f"陈女士{PHONE}" in text  # a dispatcher sees the reporter
    # the grid's own workers from the roster file, with full phones for a dispatcher
    workers = [r for r in _rows(DEMO_ROSTER) if r["单位编码"] == row.grid_code and not r["结束日期"]]
    assert workers
    for person in workers:
        assert f"{person['姓名']}{person['电话']}" in text, person
    assert "打印人王调度" in text and "北京时间" in text
    assert any("WenQuanYi" in name for name in _fonts(pdf)), _fonts(pdf)


def test_a_case_sheet_holds_every_step_with_peoples_names(people, demo_grids, dispatched):  # noqa: F811
    svc, row = dispatched
    clock = Clock("2025-10-09T10:00:00+08:00")
    svc.now = clock
    row = step(svc, clock, row, "2025-10-09T10:00:00+08:00", "resolve", note="已协调施工方停工")
    pdf = _get_pdf(_client(people, "wang"), f"/complaints/{row.id}/print/case.pdf")
    text = _text(pdf)
    assert "大沥镇诉求单" in text and f"诉求编号{row.id}" in text
    events = svc.store.complaint_events(row.id)
    assert [e.action for e in events] == ["collect", "dispatch", "resolve"]
    for event, word in zip(events, ("受理", "派单", "办结反馈"), strict=True):
        assert f"{event.at.astimezone(CHINA):%Y-%m-%d%H:%M}王调度{word}" in text, event
    assert "user:wang" not in text  # names, never account ids
    positions = [text.index(_squeeze(n)) for n in (INSTRUCTIONS, "已协调施工方停工")]
    assert positions == sorted(positions)
    assert "state_" not in text and "action_" not in text  # every word from the catalogue
    assert f"陈女士{PHONE}" in text


def test_a_planners_prints_show_no_reporter_phone_nor_officials_phones(people, demo_grids, dispatched):  # noqa: F811
    svc, row = dispatched
    client = _client(people, "li")
    before = len(svc.store.audit_entries(action="case.view", limit=1000))
    order = _text(_get_pdf(client, f"/complaints/{row.id}/print/order.pdf"))
    sheet = _text(_get_pdf(client, f"/complaints/{row.id}/print/case.pdf"))
    team = svc.grids.team(row.grid_code)
    assert team
    for text in (order, sheet):
        assert PHONE not in text and "陈女士" not in text
        assert "138****8000" in text  # masked, as on the case page
    for person in team:
        assert person.phone not in order and person.name in order
    assert "完整号码仅向有权查看个人信息的人员显示" in order
    # nothing personal shown: nothing recorded as a view of personal data
    assert len(svc.store.audit_entries(action="case.view", limit=1000)) == before
    assert not svc.store.audit_entries(action="team.view", who="user:li", limit=10)


def test_printing_with_personal_data_is_audited_like_a_view(people, demo_grids, dispatched):  # noqa: F811
    svc, row = dispatched
    client = _client(people, "wang")
    _get_pdf(client, f"/complaints/{row.id}/print/order.pdf")
    _get_pdf(client, f"/complaints/{row.id}/print/case.pdf")
    entries = svc.store.audit_entries(action="case.view", who="user:wang", limit=10)
    documents = sorted(e.detail["document"] for e in entries if e.detail.get("via") == "print")
    assert documents == ["case", "work_order"]
    assert all(e.target == f"complaint:{row.id}" and e.detail["ids"] == [row.id] for e in entries)
    teams = svc.store.audit_entries(action="team.view", who="user:wang", limit=10)
    assert [e.target for e in teams] == [f"grid:{row.grid_code}"]


def test_anonymous_visitors_are_sent_to_the_login_and_get_no_pdf(people, dispatched):  # noqa: F811
    _, row = dispatched
    client = _client(people, None)
    for kind in ("order", "case"):
        response = client.get(f"/complaints/{row.id}/print/{kind}.pdf")
        assert response.status_code == 302, kind
        assert response.headers["Location"].startswith("/login?next=")
        assert not response.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    "path",
    [
        "/complaints/999999/print/case.pdf",
        "/complaints/999999/print/order.pdf",
        "/complaints/0/print/case.pdf",
        "/complaints/99999999999/print/order.pdf",
        "/complaints/abc/print/case.pdf",
        "/complaints/-1/print/order.pdf",
    ],
)
def test_a_bad_id_gets_a_clear_404_page(people, path):  # noqa: F811
    response = _client(people, "wang").get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面或记录不存在" in response.get_data(as_text=True)


def test_a_work_order_of_a_case_not_dispatched_is_refused_in_words(people, demo_grids):  # noqa: F811
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = _install(people, clock)
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "print-new", "2025-09-30 14:00")
    client = _client(people, "wang")
    response = client.get(f"/complaints/{row.id}/print/order.pdf")
    assert response.status_code == 422
    assert "该诉求尚未派单，派单后才能打印派单单。" in response.get_data(as_text=True)
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "打印诉求单" in page and "打印派单单" not in page  # no link to a sheet that cannot be
    _get_pdf(client, f"/complaints/{row.id}/print/case.pdf")


def test_the_case_page_links_to_both_sheets_for_staff_only(people, dispatched):  # noqa: F811
    _, row = dispatched
    page = _client(people, "wang").get(f"/complaints/{row.id}").get_data(as_text=True)
    assert f'href="/complaints/{row.id}/print/order.pdf?lang=zh">打印派单单</a>' in page
    assert f'href="/complaints/{row.id}/print/case.pdf?lang=zh">打印诉求单</a>' in page
    page = _client(people, None).get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "print/" not in page
    english = _client(people, "li").get(f"/complaints/{row.id}?lang=en").get_data(as_text=True)
    assert "Print work order" in english and "print/case.pdf?lang=en" in english


def test_an_english_sheet_is_in_english_with_the_same_beijing_times(people, dispatched):  # noqa: F811
    svc, row = dispatched
    text = _text(_get_pdf(_client(people, "wang"), f"/complaints/{row.id}/print/order.pdf?lang=en"))
    due = svc.store.complaint(row.id).deadline.astimezone(CHINA).strftime("%Y-%m-%d%H:%M")
    assert "大沥镇Workorder" in text and f"Workorderno.{row.id}-1" in text
    assert f"{due}(3workingdaysleft)" in text
    assert "(Beijingtime)by王调度" in text
    assert "派单单" not in text


def _photo(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), color).save(out, "JPEG")
    return out.getvalue()


def test_photos_are_printed_as_thumbnails_for_who_may_see_them(people, demo_grids, tmp_path):  # noqa: F811
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = _install(people, clock, photo_dir=tmp_path / "photos")
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "print-photo", "2025-09-30 14:00")
    svc.save_photo(row.id, "现场照片.jpg", _photo("red"))
    svc.save_photo(row.id, "broken.png", b"\x89PNG\r\n\x1a\n not really a png")
    pdf = _get_pdf(_client(people, "wang"), f"/complaints/{row.id}/print/case.pdf")
    text = _text(pdf)
    assert "受理照片" in text and "现场照片.jpg" in text
    assert "照片无法读取" in text and "broken.png" in text  # printed without it, not refused
    assert _images(pdf) == 1
    assert len(pdf) < 200_000  # a thumbnail, not the 1600×1200 photo
    entry = svc.store.audit_entries(action="case.view", who="user:wang", limit=1)[0]
    assert entry.detail["document"] == "case" and len(entry.detail["photos"]) == 2
    planner = _get_pdf(_client(people, "li"), f"/complaints/{row.id}/print/case.pdf")
    assert _images(planner) == 0 and "现场照片" not in _text(planner)


def test_a_thumbnail_is_small_and_upright(tmp_path):
    path = tmp_path / "tall.jpg"
    Image.new("RGB", (3000, 1000), "blue").save(path, "JPEG")
    with Image.open(io.BytesIO(thumbnail(path))) as small:
        assert max(small.size) == 400 and small.size[0] > small.size[1]
    assert thumbnail(tmp_path / "missing.jpg") is None


def test_the_sheet_escapes_markup_and_fetches_nothing(people, demo_grids):  # noqa: F811
    clock = Clock("2025-09-30T15:00:00+08:00")
    svc = _install(people, clock)
    text = '窨井盖缺失 <img src="http://127.0.0.1:9/x.png"> <b>加粗</b>'
    row = file_at(
        svc, demo_grids, grid_of_kind(demo_grids, "urban"), "print-xss", "2025-09-30 14:00", text=text
    )
    pdf = _get_pdf(_client(people, "wang"), f"/complaints/{row.id}/print/case.pdf")
    assert _squeeze('<imgsrc="http://127.0.0.1:9/x.png">') in _text(pdf)  # shown as text
    assert _squeeze("<b>加粗</b>") in _text(pdf)
    assert _images(pdf) == 0


def test_without_weasyprint_printing_is_503_and_the_case_page_still_works(people, dispatched, monkeypatch):  # noqa: F811
    _, row = dispatched
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as when Pango cannot be loaded
    client = _client(people, "wang")
    response = client.get(f"/complaints/{row.id}/print/case.pdf?lang=en")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "printing is not available on this server" in response.get_data(as_text=True)
    assert client.get(f"/complaints/{row.id}").status_code == 200
