"""未送达的通知 / Undelivered notifications, for dispatchers and administrators, with a retry button.

The service decides who sees the page and how much of each address (phones and mail masked
unless the role may see personal data, webhook keys never); this view only renders and posts.
"""

from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for

from geo.timeutil import BEIJING
from services.errors import Refused
from services.notifications import NOTIFY_ROLES
from webmap import auth
from webmap.api.params import no_store
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.users import role_required

#: a refusal's code → what the page says
REFUSALS = {"no_contact": "notify_no_contact_yet", "not_undelivered": "notify_not_undelivered"}


def _status(view) -> str:
    m = view.message
    if m.channel == "none":
        return t("notify_status_no_contact")
    if m.status == "unknown":
        return t("notify_status_unknown")
    return t("notify_status_failed", attempts=m.attempts)


@bp.get("/notifications/undelivered")
@role_required(*NOTIFY_ROLES)
def undelivered():
    """Failed and maybe-sent notifications, newest first."""
    views = auth.services().notifications.undelivered(auth.caller(), language=lang())
    rows = [
        {
            "id": v.message.id,
            "when": v.message.created_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
            "kind": t(f"notify_kind_{v.message.kind}"),
            "case": v.message.complaint_id,
            "text": v.text,
            "to": t(f"notify_to_{v.message.recipient_kind}"),
            "channel": t(f"notify_channel_{v.message.channel}"),
            "address": v.address,
            "status": _status(v),
            # the sender's own words are technical English: shown on the English page only
            "error": v.message.last_error if lang() == "en" else "",
        }
        for v in views
    ]
    return no_store(Response(render_template("notifications_undelivered.html", rows=rows)))


@bp.post("/notifications/undelivered/<int:message_id>/retry")
@role_required(*NOTIFY_ROLES)
def retry_notification(message_id: int):
    """Queue one undelivered notification again (the form carries the CSRF token)."""
    try:
        count = auth.services().notifications.retry(auth.caller(), message_id)
    except Refused as exc:
        flash(t(REFUSALS.get(exc.code, "notify_not_undelivered")))
    else:
        flash(t("notify_retried", n=count))
    return redirect(url_for("pages.undelivered"))
