"""名册与网格版本 / Admin pages: rosters (upload, preview, apply) and grid versions
(validate, import, compare on a map, activate).

Thin: each view parses the request and calls one method of
``services.admin_grids.GridAdminService``, which refuses anyone but an administrator,
keeps the uploaded file for the apply step and records every change.
"""

from __future__ import annotations

import re
from collections import defaultdict

import folium
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from geo.timeutil import BEIJING
from services.admin_grids import GRID_SUFFIXES
from services.admin_grids import ROSTER_SUFFIXES
from services.cases import bounded_id
from services.errors import Invalid
from webmap import auth
from webmap import maps
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages.admin_forms import refusal
from webmap.pages.admin_people import FAILURES
from webmap.users import role_required

#: how the compare map draws each kind of grid
_STYLE = {
    "added": {"color": "#1a7f37", "weight": 3, "fillOpacity": 0.35},
    "removed": {"color": "#b42318", "weight": 3, "fillOpacity": 0.35, "dashArray": "6"},
    "changed": {"color": "#b54708", "weight": 3, "fillOpacity": 0.3},
    "same": {"color": "#667085", "weight": 1, "fillOpacity": 0.0},
}


def _upload(suffixes: tuple[str, ...]) -> tuple[str, str]:
    """(token, file name) of the uploaded file, staged by the service."""
    upload = request.files.get("file")
    name = upload.filename or "" if upload is not None else ""
    data = upload.read() if upload is not None else b""
    return auth.services().grid_admin.stage(auth.caller(), data, name, suffixes), name


def _when(value) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value is not None else ""


# --- rosters ------------------------------------------------------------------------------


@bp.route("/admin/rosters", methods=["GET", "POST"])
@role_required()
def admin_rosters():
    """名册 / Upload a roster and see what it would change; nothing is stored yet."""
    svc = auth.services().grid_admin
    who = auth.caller()
    error, status, preview, token, name = None, 200, None, "", ""
    if request.method == "POST":
        try:
            token, name = _upload(ROSTER_SUFFIXES)
            roster_file, changes = svc.preview_roster(who, token)
            preview = _roster_preview(roster_file, changes)
        except FAILURES as exc:
            error, status = refusal(exc)
            token = ""
    else:
        svc.check(who)
    return render_template(
        "admin_rosters.html",
        preview=preview,
        token=token,
        filename=name,
        error=error,
        done=request.args.get("done"),
    ), status


def _roster_preview(roster_file, changes) -> dict:
    """The changes grouped by unit (grid, community or town), people by name."""
    by_unit: dict[str, dict[str, list[str]]] = defaultdict(
        lambda: {"added": [], "changed": [], "removed": []}
    )
    for kind in ("added", "changed", "removed"):
        for change in getattr(changes, kind):
            person = change.after or change.before
            text = f"{person.name}（{t('role_' + person.role.value)}）"
            if kind == "changed":
                text += " · " + "、".join(t(f"admin_field_{f}") for f in change.fields)
            if change.where:
                text += f" · {_where(change.where)}"
            by_unit[person.unit_code][kind].append(text)
    return {
        "rows": len(roster_file.assignments),
        "added": len(changes.added),
        "changed": len(changes.changed),
        "removed": len(changes.removed),
        "unchanged": changes.unchanged,
        "units": sorted(by_unit.items()),
    }


_WHERE = re.compile(r"(?:sheet '(?P<sheet>[^']*)', )?row (?P<row>\d+)")


def _where(where: str) -> str:
    """A roster row ("sheet '沥苑', row 5") in the page's words."""
    found = _WHERE.fullmatch(where)
    if found is None:
        return where
    if found["sheet"] is not None:
        return t("admin_where_sheet", sheet=found["sheet"], n=found["row"])
    return t("admin_where_row", n=found["row"])


@bp.post("/admin/rosters/apply")
@role_required()
def admin_rosters_apply():
    """Apply the previewed roster: all or nothing, recorded."""
    form = request.form
    try:
        auth.services().grid_admin.apply_roster(
            auth.caller(), form.get("token", ""), form.get("filename", "")
        )
    except FAILURES as exc:
        error, status = refusal(exc)
        return render_template("admin_rosters.html", preview=None, token="", filename="", error=error), status
    return redirect(url_for("pages.admin_rosters", done="1", lang=request.args.get("lang")))


# --- grid versions ------------------------------------------------------------------------


def _versions_page(error=None, status=200, report=None, token="", filename="", done=None):
    versions = auth.services().grid_admin.versions(auth.caller())
    return render_template(
        "admin_grids.html",
        versions=[
            {
                "id": v.id,
                "label": v.label,
                "source": v.source or "",
                "when": _when(v.created_at),
                "by": (v.created_by or "").removeprefix("user:"),
                "n_grids": v.n_grids,
                "active": v.active,
            }
            for v in versions
        ],
        report=report,
        token=token,
        filename=filename,
        error=error,
        done=done,
    ), status


@bp.get("/admin/grids")
@role_required()
def admin_grids():
    """网格版本 / Grid versions (administrators only)."""
    return _versions_page(done=request.args.get("done"))


@bp.post("/admin/grids/check")
@role_required()
def admin_grids_check():
    """Validate an uploaded grid file; nothing is stored."""
    try:
        token, name = _upload(GRID_SUFFIXES)
        report = auth.services().grid_admin.check_grid_file(auth.caller(), token)
    except FAILURES as exc:
        return _versions_page(*refusal(exc))
    shown = {
        "ok": report.ok,
        "issues": [
            {
                "severity": t(f"admin_severity_{i.severity}"),
                "kind": t(f"admin_issue_{i.kind}"),
                "codes": "、".join(i.codes[:10]),
                "rows": "、".join(str(r) for r in i.rows[:10]),
                "message": i.message,
            }
            for i in report.issues[:300]
        ],
        "grids": report.stats.get("grids", ""),
    }
    return _versions_page(report=shown, token=token if report.ok else "", filename=name)


@bp.post("/admin/grids/import")
@role_required()
def admin_grids_import():
    form = request.form
    try:
        outcome = auth.services().grid_admin.import_grid_file(
            auth.caller(), form.get("token", ""), form.get("filename", ""), form.get("label", "")
        )
    except FAILURES as exc:
        return _versions_page(*refusal(exc))
    return redirect(
        url_for("pages.admin_grids", done=f"import:{outcome.version_id}", lang=request.args.get("lang"))
    )


@bp.post("/admin/grids/activate")
@role_required()
def admin_grids_activate():
    form = request.form
    try:
        if form.get("confirm") != "yes":
            raise Invalid("confirm the activation", field="confirm", code="confirm_needed")
        version = _version_id(form.get("version", ""))
        auth.services().grid_admin.activate(auth.caller(), version)
    except FAILURES as exc:
        return _versions_page(*refusal(exc))
    return redirect(url_for("pages.admin_grids", done=f"activate:{version}", lang=request.args.get("lang")))


def _version_id(text: str) -> int:
    return bounded_id(text, "version")


@bp.get("/admin/grids/compare")
@role_required()
def admin_grids_compare():
    """Two versions on one map: grids added, removed and changed highlighted, with a table."""
    args = request.args
    try:
        before, after = _version_id(args.get("a", "")), _version_id(args.get("b", ""))
        found = auth.services().grid_admin.compare(auth.caller(), before, after)
    except FAILURES as exc:
        return _versions_page(*refusal(exc))
    names = {k: t(f"admin_grid_{k}") for k in ("added", "removed", "changed", "same")}
    shapes = found.shapes
    fmap = maps.base_map(tuple(shapes.total_bounds))
    for version in ("before", "after"):
        part = shapes[shapes["version"] == version]
        part = part.assign(
            name=[maps.text(n) for n in part["name"]],
            kind_name=[names[k] for k in part["kind"]],
        )
        folium.GeoJson(
            part[["code", "name", "kind", "kind_name", "geometry"]].to_json(),
            name=t(f"admin_version_{version}", id=(found.before if version == "before" else found.after).id),
            style_function=lambda f, v=version: {
                **_STYLE[f["properties"]["kind"]],
                **({"fillOpacity": 0.0} if v == "before" and f["properties"]["kind"] != "removed" else {}),
            },
            tooltip=folium.GeoJsonTooltip(["name", "code", "kind_name"], labels=False),
        ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return render_template(
        "admin_compare.html",
        before=found.before,
        after=found.after,
        changes=[
            {
                "code": c.code,
                "name": c.name,
                "kind": names[c.kind],
                "kind_code": c.kind,
                "before": "" if c.area_before_m2 is None else f"{c.area_before_m2 / 1e4:,.2f}",
                "after": "" if c.area_after_m2 is None else f"{c.area_after_m2 / 1e4:,.2f}",
                "delta": f"{c.area_change_m2 / 1e4:+,.2f}",
            }
            for c in found.changes
        ],
        unchanged=found.unchanged,
        em=maps.embed(fmap),
    )
