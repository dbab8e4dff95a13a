"""用户与角色、诉求目录 / Admin pages: people and roles, and the category catalogue.

Thin: each view parses the form and calls one method of ``services.admin.AdminService``,
which refuses anyone but an administrator and records every change.
"""

from __future__ import annotations

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from complaints.errors import ComplaintsError
from geo.errors import GeoError
from geo.timeutil import BEIJING
from services.errors import DomainError
from webmap import auth
from webmap.i18n import lang
from webmap.pages import bp
from webmap.pages.admin_forms import checked
from webmap.pages.admin_forms import refusal
from webmap.pages.admin_forms import role_label
from webmap.users import role_required

FAILURES = (DomainError, GeoError, ComplaintsError)


def _department_names() -> dict[str, str]:
    catalog = auth.services().admin.departments(auth.caller())
    zh = lang() == "zh"
    return {code: (d.name_zh if zh else d.name_en) for code, d in catalog.departments.items()}


def _users_page(error: dict | None = None, status: int = 200, done: str | None = None):
    svc = auth.services().admin
    who = auth.caller()
    rows = svc.users(who)
    departments = _department_names()
    users = []
    for row in rows:
        a = row.account
        last = row.last_change
        users.append(
            {
                "username": a.username,
                "display_name": a.display_name,
                "role": role_label(a.role),
                "role_code": a.role,
                "department": departments.get(a.department_code or "", a.department_code or ""),
                "department_code": a.department_code or "",
                "active": a.active,
                "last": last.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if last is not None else "",
                "is_self": who.kind == "user" and who.name == a.username,
            }
        )
    return render_template(
        "admin_users.html",
        users=users,
        roles=[(r, role_label(r)) for r in svc.roles()],
        roster=svc.roster_people(auth.caller()),
        departments=sorted(departments.items(), key=lambda kv: kv[1]),
        error=error,
        done=done,
        form=request.form,
    ), status


@bp.get("/admin/users")
@role_required()
def admin_users():
    """用户与角色 / People and their roles (administrators only)."""
    return _users_page(done=request.args.get("done"))


@bp.post("/admin/users")
@role_required()
def admin_users_change():
    """Create a user, change a role or department, disable or enable, reset a password."""
    svc = auth.services().admin
    who = auth.caller()
    form = request.form
    action = form.get("action", "")
    username = form.get("username", "")
    try:
        if action == "create":
            svc.create_user(
                who,
                username,
                form.get("display_name", ""),
                form.get("password", ""),
                form.get("role", ""),
                form.get("department"),
                form.get("official"),
            )
        elif action == "change":
            svc.change_user(who, username, form.get("role", ""), form.get("department"))
        elif action in ("disable", "enable"):
            svc.set_active(who, username, action == "enable")
        elif action == "password":
            svc.reset_password(who, username, form.get("password", ""))
        else:
            return _users_page({"message": "?", "field": None, "rows": []}, 400)
    except FAILURES as exc:
        return _users_page(*refusal(exc))
    return redirect(url_for("pages.admin_users", done=action, lang=request.args.get("lang")))


def _catalog_page(error: dict | None = None, status: int = 200, done: str | None = None):
    catalog, rows = auth.services().admin.catalogue(auth.caller())
    zh = lang() == "zh"
    departments = {code: (d.name_zh if zh else d.name_en) for code, d in catalog.departments.items()}
    return render_template(
        "admin_catalog.html",
        rows=[
            {
                "code": r.code,
                "name": r.name_zh if zh else r.name_en,
                "department": r.department,
                "department_name": departments.get(r.department, r.department),
                "deadline_days": r.deadline_days,
                "after_photo": r.requires_after_photo,
                "changed": r.changed,
                "file_department": departments.get(r.file_department, r.file_department),
                "file_deadline_days": r.file_deadline_days,
            }
            for r in rows
        ],
        departments=sorted(departments.items(), key=lambda kv: kv[1]),
        error=error,
        done=done,
    ), status


@bp.get("/admin/catalog")
@role_required()
def admin_catalog():
    """诉求目录 / The category catalogue: department, time limit, "after" photo (administrators only)."""
    return _catalog_page(done=request.args.get("done"))


@bp.post("/admin/catalog")
@role_required()
def admin_catalog_change():
    form = request.form
    try:
        auth.services().admin.change_category(
            auth.caller(),
            form.get("code", ""),
            department=form.get("department", ""),
            deadline_days=form.get("deadline_days", ""),
            requires_after_photo=checked(form.get("requires_after_photo")),
        )
    except FAILURES as exc:
        return _catalog_page(*refusal(exc))
    return redirect(url_for("pages.admin_catalog", done=form.get("code", ""), lang=request.args.get("lang")))
