"""Photos on the case (issue 9, item 7): before and after photos, shown to whoever sees the
case's contacts, each view audited; a category may require an after photo before a resolve.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from complaints.catalog import DEFAULT_CATALOG_DIR
from complaints.catalog import Catalog
from complaints.catalog import CatalogError
from tests.apps import create_user
from tests.apps import error_of
from tests.test_complaints_api import JPEG
from tests.test_complaints_api import _act
from tests.test_complaints_service import Clock
from tests.test_complaints_service import api_key
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

API = "/api/v1"
PASSWORD = "correct horse battery"
REQUIRED = "此类诉求须先上传处理后照片方可办结"


@pytest.fixture
def clock() -> Clock:
    return Clock("2025-09-29T09:00:00+08:00")


@pytest.fixture
def svc(fresh_app, clock, tmp_path):
    return install(fresh_app, clock, photo_dir=tmp_path / "photos")


@pytest.fixture
def writer(fresh_app) -> dict:
    _, header = api_key(fresh_app, "write", "personal_data", "dispatch", name="hotline-12345")
    return {"Authorization": header}


def _upload(client, headers, complaint_id: int, data: bytes, filename: str, kind: str | None = None):
    boundary = "redgrid-test-boundary"
    parts = [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + b"\r\n"
    ]
    if kind is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'.encode()
        )
    response = client.post(
        f"{API}/complaints/{complaint_id}/photos",
        headers=headers,
        data=b"".join(parts) + f"--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    return response, response.get_json()


def _dispatched(svc, clock, demo_grids, external_id: str, category: str = "illegal_construction"):
    row = file_at(
        svc, demo_grids, grid_of_kind(demo_grids, "urban"), external_id, "2025-09-29 08:30", category=category
    )
    return step(svc, clock, row, "2025-09-29T09:10:00+08:00", "dispatch")


def test_the_catalogue_marks_the_categories_that_require_an_after_photo():
    catalog = Catalog.load()
    required = {code for code, c in catalog.categories.items() if c.requires_after_photo}
    assert {"illegal_construction", "road_damage"} <= required
    assert "noise" not in required


def test_a_catalogue_without_the_column_still_loads_and_a_bad_value_is_named(tmp_path):
    source = Catalog.load()
    for name in ("departments.csv", "whistle_groups.csv"):
        (tmp_path / name).write_bytes((source_dir() / name).read_bytes())
    lines = (source_dir() / "categories.csv").read_text(encoding="utf-8").splitlines()
    plain = [",".join(line.split(",")[:7]) for line in lines]
    (tmp_path / "categories.csv").write_text("\n".join(plain) + "\n", encoding="utf-8")
    loaded = Catalog.load(tmp_path)
    assert loaded.categories.keys() == source.categories.keys()
    assert not any(c.requires_after_photo for c in loaded.categories.values())
    header, first = next(csv.reader([lines[0]])), next(csv.reader([lines[1]]))
    first[header.index("requires_after_photo")] = "maybe"
    bad = [lines[0], ",".join(first)]
    (tmp_path / "categories.csv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        Catalog.load(tmp_path)
    assert "requires_after_photo" in str(refused.value) and "'maybe' is neither yes nor no" in str(
        refused.value
    )


def source_dir():
    return DEFAULT_CATALOG_DIR


def test_resolve_is_refused_without_an_after_photo_then_succeeds_with_one(
    fresh_client, svc, clock, writer, demo_grids
):
    row = _dispatched(svc, clock, demo_grids, "photo-after-api")
    before, _ = _upload(fresh_client, writer, row.id, JPEG + b"\x01", "现场.jpg")
    assert before.status_code == 201
    response, body = _act(fresh_client, writer, row.id, "resolve", row.row_version, note="已拆除")
    assert response.status_code == 422
    assert body["error"]["code"] == "after_photo_required" and body["field"] == "after_photo"
    unchanged = svc.store.complaint(row.id)
    assert (unchanged.state, unchanged.row_version) == ("dispatched", row.row_version)
    assert [e.action for e in svc.store.complaint_events(row.id)] == ["collect", "dispatch"]

    response, body = _upload(fresh_client, writer, row.id, JPEG + b"\x02", "拆除后.jpg", kind="after")
    assert (response.status_code, body["kind"]) == (201, "after")
    assert [p.kind for p in svc.store.photos(row.id)] == ["before", "after"]
    response, body = _act(fresh_client, writer, row.id, "resolve", row.row_version, note="已拆除")
    assert response.status_code == 200, body
    assert body["state"] == "resolved"


def test_a_category_without_the_rule_resolves_without_photos(fresh_client, svc, clock, writer, demo_grids):
    row = _dispatched(svc, clock, demo_grids, "photo-after-noise", category="noise")
    response, body = _act(fresh_client, writer, row.id, "resolve", row.row_version)
    assert response.status_code == 200, body


def test_after_photos_need_a_caller_who_may_resolve_and_a_known_kind(
    fresh_app, fresh_client, svc, demo_grids
):
    row = file_at(svc, demo_grids, grid_of_kind(demo_grids, "urban"), "photo-kinds", "2025-09-29 08:30")
    _, filer = api_key(fresh_app, "write", name="filer")  # files, never resolves
    response, body = _upload(fresh_client, {"Authorization": filer}, row.id, JPEG, "a.jpg", kind="after")
    assert response.status_code == 403
    response, _ = _upload(fresh_client, {"Authorization": filer}, row.id, JPEG, "b.jpg")
    assert response.status_code == 201  # a before photo, as at intake
    _, header = api_key(fresh_app, "write", "personal_data", "dispatch", name="d")
    response, body = _upload(fresh_client, {"Authorization": header}, row.id, JPEG, "c.jpg", kind="during")
    assert (response.status_code, error_of(body)["error"]["code"]) == (400, "bad_parameter")
    assert body["field"] == "kind"
    assert len(svc.store.photos(row.id)) == 1


# --- the case page ------------------------------------------------------------------------------


def _token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def _logged_in(app, username: str, role: str):
    create_user(app.extensions["redgrid"].store, username, "王调度", PASSWORD, role)
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def test_the_page_shows_photos_to_a_dispatcher_and_not_to_anonymous_visitors(
    fresh_app, svc, clock, demo_grids
):
    row = _dispatched(svc, clock, demo_grids, "photo-page")
    before = svc.save_photo(row.id, "门口<img src=x onerror=alert(1)>.jpg", JPEG + b"\x03")
    after = svc.save_photo(row.id, "after.jpg", JPEG + b"\x04", kind="after")
    anonymous = fresh_app.test_client()
    page = anonymous.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "case-photos" not in page and "/photos/" not in page
    assert anonymous.get(f"/complaints/{row.id}/photos/{before['id']}").status_code in (401, 403, 404)

    client = _logged_in(fresh_app, "wang", "dispatcher")
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert 'id="case-photos"' in page
    assert "<img src=x" not in page and "门口&lt;img src=x onerror=alert(1)&gt;.jpg" in page
    for photo, title in ((before, "受理照片"), (after, "处理后照片")):
        assert f'href="/complaints/{row.id}/photos/{photo["id"]}"' in page
        assert title in page
    assert page.index("受理照片") < page.index("处理后照片")
    assert "<script" not in page.split('id="case-photos"')[1].split("</div>")[0]  # no inline script (CSP)


def test_each_photo_view_is_audited_once(fresh_app, svc, clock, demo_grids):
    row = _dispatched(svc, clock, demo_grids, "photo-audit")
    photo = svc.save_photo(row.id, "p.jpg", JPEG + b"\x05")
    client = _logged_in(fresh_app, "wang", "dispatcher")
    client.get(f"/complaints/{row.id}")  # the page itself views no photo
    assert svc.store.audit_entries(action="photo.view", target=f"complaint:{row.id}") == []
    for n in (1, 2):
        response = client.get(f"/complaints/{row.id}/photos/{photo['id']}")
        assert (response.status_code, response.mimetype, response.data) == (200, "image/jpeg", JPEG + b"\x05")
        assert "no-store" in response.headers["Cache-Control"]
        response.close()
        entries = svc.store.audit_entries(action="photo.view", target=f"complaint:{row.id}")
        assert len(entries) == n
        assert (entries[0].who, entries[0].detail) == ("user:wang", {"photo": photo["id"]})


def test_the_resolve_form_refuses_then_takes_an_after_photo_and_resolves(fresh_app, svc, clock, demo_grids):
    row = _dispatched(svc, clock, demo_grids, "photo-form")
    client = _logged_in(fresh_app, "wang", "dispatcher")
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="after_photos"' in page
    form = {
        "csrf_token": _token(page),
        "version": str(row.row_version),
        "action": "resolve",
        "note": "已拆除",
    }
    response = client.post(f"/complaints/{row.id}", data=form)
    assert response.status_code == 422
    assert REQUIRED in response.get_data(as_text=True)
    assert svc.store.complaint(row.id).state == "dispatched"

    upload = {**form, "after_photos": (io.BytesIO(JPEG + b"\x06"), "拆除后.jpg")}
    response = client.post(f"/complaints/{row.id}", data=upload, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert svc.store.complaint(row.id).state == "resolved"
    assert [(p.kind, p.filename) for p in svc.store.photos(row.id)] == [("after", "拆除后.jpg")]
    page = client.get(f"/complaints/{row.id}").get_data(as_text=True)
    assert "处理后照片" in page and "拆除后.jpg" in page
