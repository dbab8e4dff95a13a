"""审计日志 / The audit log page, for administrators: who saw or changed what, when, from where."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort
from flask import render_template
from flask import request

from geo.errors import GeoError
from geo.timeutil import BEIJING
from services.callers import ADMIN
from services.errors import DomainError
from webmap import auth
from webmap.i18n import has_text
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages import readable
from webmap.users import role_required

PAGE_SIZE = 100
#: the page's own words (zh, en)
WORDS = {
    "title": ("审计日志", "Audit log"),
    "at": ("时间", "When"),
    "who": ("谁", "Who"),
    "action": ("操作", "What"),
    "target": ("对象", "On"),
    "address": ("来源地址", "From"),
    "detail": ("详情", "Detail"),
    "since": ("起", "Since"),
    "until": ("止", "Until"),
    "none": ("没有记录", "No entries"),
    "older": ("更早", "Older"),
    "newer": ("更新", "Newer"),
}


@bp.get("/admin/audit")
@role_required("admin")
def audit_log():
    """审计日志 / The audit log (administrators only), newest first, with filters."""
    who = auth.caller()
    if not who.can(ADMIN):
        abort(403)
    args = request.args
    page = max(int(args["page"]) if args.get("page", "").isdigit() and len(args["page"]) < 7 else 1, 1)
    error = None
    try:
        entries = auth.services().audit.list(
            who,
            who=args.get("who") or None,
            action=args.get("action") or None,
            since=args.get("since") or None,
            until=args.get("until") or None,
            target=args.get("target") or None,
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    except (DomainError, GeoError) as exc:
        entries, error = [], getattr(exc, "message", str(exc))
    more = len(entries) > PAGE_SIZE
    i = 0 if lang() == "zh" else 1
    return render_template(
        "admin_audit.html",
        entries=[
            {
                "at": e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                "who": readable.person(e.who),
                "role": readable.role_name(e.role) if e.role else "",
                "action": _word("audit_action_", e.action),
                "target": _target(e.target or ""),
                "address": e.address or "",
                "detail": e.detail or {},
            }
            for e in entries[:PAGE_SIZE]
        ],
        words={k: v[i] for k, v in WORDS.items()},
        filters=args,
        query=urlencode([(k, v) for k, v in args.items(multi=True) if k != "page"]),
        page=page,
        more=more,
        error=error,
    ), (422 if error else 200)


def _word(prefix: str, code: str) -> str:
    """A recorded code in the page's language (the code itself when the catalogue lacks it)."""
    return t(prefix + code) if has_text(prefix + code) else code


def _target(target: str) -> str:
    """``complaint:12`` → 诉求 12, ``user:wang`` → the user's name; others as recorded."""
    kind, sep, rest = target.partition(":")
    if not sep:
        return _word("audit_target_", target)
    if kind == "user":
        return readable.person(target)
    if has_text("audit_target_" + kind):
        return f"{t('audit_target_' + kind)} {rest}"
    return target
