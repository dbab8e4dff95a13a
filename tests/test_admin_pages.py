"""The admin pages (issue 10, item 7): people and roles, rosters, grid versions, the catalogue.

Each page is refused to anyone but an administrator by the services (a dispatcher gets 403,
anonymous visitors the login page); every change is found in the audit log with who and
what; bad input is named on the page and changes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.apps import DEMO_GRIDS
from tests.apps import create_user

PASSWORD = "correct horse battery"
ROSTERS = Path(__file__).parent / "fixtures" / "rosters"
PAGES = ("/admin/users", "/admin/rosters", "/admin/grids", "/admin/catalog", "/admin/grids/compare?a=1&b=1")
POSTS = (
    ("/admin/users", {"action": "enable", "username": "boss"}),
    ("/admin/catalog", {"code": "noise", "department": "police", "deadline_days": "3"}),
    ("/admin/rosters/apply", {"token": "0" * 64 + ".csv", "filename": "x.csv"}),
    ("/admin/grids/activate", {"version": "1", "confirm": "yes"}),
    ("/admin/grids/import", {"token": "0" * 64 + ".csv", "filename": "x.csv"}),
)


def _token(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def _client(app, username: str | None):
    client = app.test_client()
    if username is not None:
        token = _token(client.get("/login").get_data(as_text=True))
        reply = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert reply.status_code == 302, username
    return client


def _post(client, path: str, data: dict, files: dict | None = None):
    token = _token(client.get("/admin/users").get_data(as_text=True))
    return client.post(
        path, data={**data, **(files or {}), "csrf_token": token}, content_type="multipart/form-data"
    )


@pytest.fixture
def admin_app(fresh_app):
    store = fresh_app.extensions["redgrid"].store
    create_user(store, "boss", "赵管理", PASSWORD, "admin")
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "police1", "警员甲", PASSWORD, "department", "police")
    return fresh_app


def _services(app):
    return app.extensions["redgrid"]


def _entries(app, action: str) -> list:
    from services.callers import system

    return _services(app).audit.list(system(), action=action)


def test_every_admin_page_and_form_is_for_administrators_only(admin_app):
    boss = _client(admin_app, "boss")
    for path in PAGES:
        assert boss.get(path).status_code == 200, path
    for who in ("wang", "police1"):
        client = _client(admin_app, who)
        for path in PAGES:
            assert client.get(path).status_code == 403, (who, path)
        token = _token(client.get("/complaints").get_data(as_text=True))
        for path, data in POSTS:
            reply = client.post(path, data={**data, "csrf_token": token})
            assert reply.status_code == 403 and '<form method="post" class="card' not in reply.get_data(
                as_text=True
            )
        upload = {"file": ((ROSTERS / "good_utf8.csv").open("rb"), "r.csv"), "csrf_token": token}
        reply = client.post("/admin/rosters", data=upload, content_type="multipart/form-data")
        assert reply.status_code == 403 and 'id="roster-upload"' not in reply.get_data(as_text=True)
    anonymous = _client(admin_app, None)
    assert all(anonymous.get(path).status_code == 302 for path in PAGES)
    # nothing was changed by the refused posts
    assert _services(admin_app).store.catalog_overrides() == []


def test_a_form_without_the_csrf_token_is_refused(admin_app):
    boss = _client(admin_app, "boss")
    reply = boss.post("/admin/users", data={"action": "disable", "username": "wang"})
    assert reply.status_code == 400
    assert _services(admin_app).store.user(username="wang").active


def test_users_are_listed_with_their_role_in_chinese_and_created_and_recorded(admin_app):
    boss = _client(admin_app, "boss")
    page = boss.get("/admin/users").get_data(as_text=True)
    assert "调度员" in page and "系统管理员" in page and "王调度" in page
    reply = _post(
        boss,
        "/admin/users",
        {
            "action": "create",
            "username": "chen",
            "display_name": "陈规划",
            "password": PASSWORD,
            "role": "planner",
        },
    )
    assert reply.status_code == 302
    assert _services(admin_app).store.user(username="chen").role == "planner"
    [entry] = _entries(admin_app, "user.create")
    assert (entry.who, entry.target, entry.detail["role"]) == ("user:boss", "user:chen", "planner")
    listed = boss.get("/admin/users").get_data(as_text=True)
    row = listed.split('data-username="chen"')[1].split("</tr>")[0]
    assert "规划人员" in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"password": "short"}, "新密码"),
        ({"role": "king"}, "角色"),
        ({"role": "department"}, "职能部门"),
        ({"role": "department", "department": "no_such"}, "职能部门"),
        ({"username": "wang"}, "登录名已存在"),
        ({"display_name": " "}, "姓名"),
        ({"role": "grid"}, "网格员账号须选择名册人员"),
        ({"role": "grid", "official": "99999999"}, "名册中没有该人员"),
    ],
)
def test_a_bad_new_user_is_named_and_nothing_is_created(admin_app, data, field_text):
    boss = _client(admin_app, "boss")
    before = len(_services(admin_app).store.users())
    form = {
        "action": "create",
        "username": "new1",
        "display_name": "新人",
        "password": PASSWORD,
        "role": "planner",
    }
    reply = _post(boss, "/admin/users", {**form, **data})
    assert reply.status_code in (400, 409, 422)
    alert = reply.get_data(as_text=True).split('id="admin-error"')[1].split("</div>")[0]
    assert field_text in alert
    assert len(_services(admin_app).store.users()) == before
    assert _entries(admin_app, "user.create") == []


def test_a_grid_team_account_is_created_for_a_roster_person_picked_from_the_list(admin_app):
    boss = _client(admin_app, "boss")
    page = boss.get("/admin/users").get_data(as_text=True)
    picker = page.split('name="official"')[1].split("</select>")[0]
    choices = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', picker)
    assert choices and all(" · " in label for _, label in choices)
    official, label = choices[0]
    form = {"action": "create", "username": "grid1", "display_name": label.split(" · ")[0]}
    reply = _post(boss, "/admin/users", {**form, "password": PASSWORD, "role": "grid", "official": official})
    assert reply.status_code == 302
    made = _services(admin_app).store.user(username="grid1")
    assert (made.role, made.official_id) == ("grid", int(official))
    [entry] = _entries(admin_app, "user.create")
    assert entry.detail["official"] == int(official)


def test_roles_change_and_users_are_disabled_enabled_and_reset_with_old_and_new_values(admin_app):
    boss = _client(admin_app, "boss")
    wang = _client(admin_app, "wang")
    assert (
        _post(boss, "/admin/users", {"action": "change", "username": "wang", "role": "planner"}).status_code
        == 302
    )
    assert _services(admin_app).store.user(username="wang").role == "planner"
    assert wang.get("/complaints/new").status_code == 302  # the old session ended with the role
    [change] = _entries(admin_app, "user.change")
    assert change.detail == {"role": ["dispatcher", "planner"]} and change.who == "user:boss"
    assert _post(boss, "/admin/users", {"action": "disable", "username": "wang"}).status_code == 302
    assert not _services(admin_app).store.user(username="wang").active
    assert _post(boss, "/admin/users", {"action": "enable", "username": "wang"}).status_code == 302
    new_password = "another long password"
    reply = _post(boss, "/admin/users", {"action": "password", "username": "wang", "password": new_password})
    assert reply.status_code == 302
    assert _services(admin_app).accounts.authenticate("wang", new_password) is not None
    details = [e.detail for e in _entries(admin_app, "user.change")]
    assert {"active": [True, False]} in details and {"active": [False, True]} in details
    assert {"password": "reset"} in details


def test_an_administrator_cannot_demote_or_disable_themselves(admin_app):
    boss = _client(admin_app, "boss")
    reply = _post(boss, "/admin/users", {"action": "change", "username": "boss", "role": "dispatcher"})
    assert reply.status_code == 422 and "不能取消自己的管理员角色" in reply.get_data(as_text=True)
    reply = _post(boss, "/admin/users", {"action": "disable", "username": "boss"})
    assert reply.status_code == 422 and "不能停用自己的账号" in reply.get_data(as_text=True)
    account = _services(admin_app).store.user(username="boss")
    assert account.role == "admin" and account.active
    assert _entries(admin_app, "user.change") == []


def test_a_new_role_in_callers_appears_without_a_code_change(admin_app, monkeypatch):
    from services import admin
    from services import callers

    monkeypatch.setattr(admin, "ROLES", (*callers.ROLES, "auditor"))
    page = _client(admin_app, "boss").get("/admin/users").get_data(as_text=True)
    assert '<option value="auditor">' in page


# --- the catalogue ----------------------------------------------------------------------------


def test_a_catalogue_change_routes_new_cases_at_once_and_is_recorded(admin_app):
    svc = _services(admin_app)
    boss = _client(admin_app, "boss")
    before = svc.cases.catalog.categories["noise"]
    days = 7 if before.deadline_days != 7 else 8
    department = next(d for d in svc.cases.catalog.departments if d != before.department)
    data = {
        "code": "noise",
        "department": department,
        "deadline_days": str(days),
        "requires_after_photo": "1",
    }
    assert _post(boss, "/admin/catalog", data).status_code == 302
    routing = svc.cases.catalog.route("noise", "urban")
    assert (routing.department.code, routing.deadline_days) == (department, days)
    assert routing.category.requires_after_photo
    [entry] = _entries(admin_app, "catalog.change")
    assert entry.who == "user:boss" and entry.target == "category:noise"
    assert entry.detail["deadline_days"] == [before.deadline_days, days]
    assert entry.detail["department"] == [before.department, department]
    row = boss.get("/admin/catalog").get_data(as_text=True).split('data-code="noise"')[1].split("</tr>")[0]
    assert "已修改" in row
    # back to the file's values: the stored change is dropped
    data = {
        "code": "noise",
        "department": before.department,
        "deadline_days": str(before.deadline_days),
        **({"requires_after_photo": "1"} if before.requires_after_photo else {}),
    }
    assert _post(boss, "/admin/catalog", data).status_code == 302
    assert svc.store.catalog_overrides() == [] and svc.cases.catalog.categories["noise"] == before


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"deadline_days": "0"}, "办理时限"),
        ({"deadline_days": "61"}, "办理时限"),
        ({"deadline_days": "３"}, "办理时限"),
        ({"deadline_days": "abc"}, "办理时限"),
        ({"department": "no_such"}, "职能部门"),
        ({"code": "no_such"}, "找不到"),
    ],
)
def test_a_bad_catalogue_change_is_named_and_changes_nothing(admin_app, values, named):
    svc = _services(admin_app)
    before = svc.cases.catalog
    data = {"code": "noise", "department": "police", "deadline_days": "3", **values}
    reply = _post(_client(admin_app, "boss"), "/admin/catalog", data)
    assert reply.status_code in (400, 404)
    assert named in reply.get_data(as_text=True).split('id="admin-error"')[1].split("</div>")[0]
    assert svc.store.catalog_overrides() == [] and svc.cases.catalog == before
    assert _entries(admin_app, "catalog.change") == []


# --- rosters ----------------------------------------------------------------------------------


def _upload(path: Path, name: str | None = None):
    return {"file": (path.open("rb"), name or path.name)}


def test_a_roster_is_previewed_then_applied_whole_and_recorded(admin_app):
    svc = _services(admin_app)
    boss = _client(admin_app, "boss")
    before = svc.store.assignments()
    reply = _post(boss, "/admin/rosters", {}, _upload(ROSTERS / "good_utf8.csv"))
    assert reply.status_code == 200
    page = reply.get_data(as_text=True)
    preview = page.split('id="roster-preview"')[1]
    assert "陈志强" in preview and "440605125001001" in preview
    assert "第 2 行" in preview and "row " not in preview
    assert svc.store.assignments() == before  # a preview stores nothing
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    reply = _post(boss, "/admin/rosters/apply", {"token": token, "filename": "good_utf8.csv"})
    assert reply.status_code == 302
    after = svc.store.assignments()
    assert len(after) > len(before) and any(a.name == "陈志强" for a in after)
    [entry] = _entries(admin_app, "roster.import")
    assert entry.who == "user:boss" and entry.target == "roster:good_utf8.csv" and entry.detail["added"] >= 1


def test_a_roster_with_bad_rows_names_row_and_field_and_stores_nothing(admin_app):
    svc = _services(admin_app)
    before = svc.store.assignments()
    reply = _post(_client(admin_app, "boss"), "/admin/rosters", {}, _upload(ROSTERS / "bad_rows.csv"))
    assert reply.status_code == 422
    rows = reply.get_data(as_text=True).split('id="admin-error-rows"')[1]
    assert "<td>2</td><td>姓名</td>" in rows and "电话" in rows
    assert 'id="roster-apply"' not in reply.get_data(as_text=True)
    assert svc.store.assignments() == before and _entries(admin_app, "roster.import") == []


def test_a_roster_of_the_wrong_kind_or_a_forged_token_is_refused(admin_app):
    boss = _client(admin_app, "boss")
    reply = _post(boss, "/admin/rosters", {}, _upload(DEMO_GRIDS))
    assert reply.status_code == 400 and "文件类型不支持" in reply.get_data(as_text=True)
    reply = _post(boss, "/admin/rosters/apply", {"token": "../../etc/passwd", "filename": "x"})
    assert reply.status_code == 400 and "请先上传文件" in reply.get_data(as_text=True)


# --- grid versions ----------------------------------------------------------------------------


def test_grid_versions_are_validated_imported_compared_and_activated(
    admin_app, reseeded_grids_file, demo_grids, reseeded_grids
):
    svc = _services(admin_app)
    boss = _client(admin_app, "boss")
    [first] = svc.grids.versions()
    reply = _post(boss, "/admin/grids/check", {}, _upload(reseeded_grids_file))
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "校验通过" in page
    assert len(svc.grids.versions()) == 1  # a check stores nothing
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    reply = _post(
        boss, "/admin/grids/import", {"token": token, "filename": reseeded_grids_file.name, "label": "重划"}
    )
    assert reply.status_code == 302
    [second] = [v for v in svc.grids.versions() if v.id != first.id]
    assert second.label == "重划" and not second.active and second.created_by == "user:boss"
    listed = boss.get("/admin/grids").get_data(as_text=True)
    assert f'data-version="{second.id}"' in listed and "重划" in listed

    reply = boss.get(f"/admin/grids/compare?a={first.id}&b={second.id}")
    assert reply.status_code == 200
    compared = reply.get_data(as_text=True)
    shown = dict(re.findall(r'data-code="(\d+)" data-kind="(added|removed|changed)"', compared))
    old_codes, new_codes = set(demo_grids["code"]), set(reseeded_grids["code"])
    assert {c for c, k in shown.items() if k == "added"} == new_codes - old_codes
    assert {c for c, k in shown.items() if k == "removed"} == old_codes - new_codes
    assert any(k == "changed" for k in shown.values())
    rows = re.findall(
        r'data-kind="changed"><td>.*?</td><td>.*?</td><td>([\d,.]+)</td><td>([\d,.]+)</td><td>([+-][\d,.]+)</td>',
        compared,
    )
    assert rows and all(
        abs(float(b.replace(",", "")) - float(a.replace(",", "")) - float(d.replace(",", ""))) < 0.011
        for a, b, d in rows
    )
    assert "leaflet" in compared.lower() and "https://" not in compared.split("<body")[0]
    same = boss.get(f"/admin/grids/compare?a={first.id}&b={first.id}").get_data(as_text=True)
    assert re.findall(r'data-kind="(added|removed|changed)"', same) == []

    reply = _post(boss, "/admin/grids/activate", {"version": str(second.id)})
    assert reply.status_code == 400 and "请勾选确认" in reply.get_data(as_text=True)
    assert svc.grids.active_version_id() == first.id
    reply = _post(boss, "/admin/grids/activate", {"version": str(second.id), "confirm": "yes"})
    assert reply.status_code == 302 and svc.grids.active_version_id() == second.id
    actions = [(e.action, e.target) for e in _entries(admin_app, "grids")]
    assert ("grids.activate", f"grid_version:{second.id}") in actions
    assert ("grids.import", f"grid_version:{second.id}") in actions


def test_a_faulty_grid_file_is_reported_by_error_and_cannot_be_imported(admin_app, tmp_path):
    import geopandas as gpd

    frame = gpd.read_file(DEMO_GRIDS)
    frame.loc[1, "code"] = frame.loc[0, "code"]  # two grids, one code
    path = tmp_path / "dup.geojson"
    frame.to_file(path, driver="GeoJSON")
    reply = _post(_client(admin_app, "boss"), "/admin/grids/check", {}, _upload(path))
    page = reply.get_data(as_text=True)
    assert "有错误，不能导入" in page and "编码重复" in page and 'id="grid-import"' not in page
    assert len(_services(admin_app).grids.versions()) == 1


def test_the_pages_speak_english_on_request_and_chinese_by_default(admin_app):
    boss = _client(admin_app, "boss")
    zh = boss.get("/admin/users").get_data(as_text=True)
    en = boss.get("/admin/users?lang=en").get_data(as_text=True)
    assert "系统管理员" in zh and "Administrator" not in zh
    assert "Administrator" in en and "系统管理员" not in en
    catalog = boss.get("/admin/catalog?lang=zh").get_data(as_text=True)
    assert "办理时限（工作日）" in catalog and "deadline" not in catalog.split("<main")[1].replace(
        "deadline_days", ""
    )
