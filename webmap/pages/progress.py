"""进度查询 / A resident's progress page: a ticket number and the last four digits of the
reporter's phone show the case's stage, its dates and the department, nothing else.

The ticket number is the case number (``Case.id``, 诉求 #N on staff pages) or the channel's
ticket number (``Case.external_id``, e.g. the 12345 hotline's 工单编号); see
``ComplaintService.progress``. The form is posted, so the phone digits stay out of URLs,
access logs and browser history; a wrong pair and an unknown ticket give the same page
(404). Look-ups are limited per client address (``LIMIT_PROGRESS``, ``webmap.limits``) and
recorded in the audit log by the service.
"""

from __future__ import annotations

from flask import current_app
from flask import render_template
from flask import request

from services.cases import PublicProgress
from services.errors import NotFound
from webmap import auth
from webmap import limits
from webmap.i18n import lang
from webmap.pages import bp
from webmap.pages.complaints import beijing_text


def _shown(found: PublicProgress) -> dict:
    """The progress as the page prints it: Beijing times, the department in the page's language."""
    return {
        "case_id": found.case_id,
        "stage": found.stage,
        "reported_at": beijing_text(found.reported_at),
        "updated_at": beijing_text(found.updated_at),
        "department": found.department_en if lang() == "en" else found.department_zh,
        "steps": [{"at": beijing_text(s.at), "stage": s.stage} for s in found.steps],
        "original_stage": found.original_stage,
    }


@bp.route("/progress", methods=["GET", "POST"])
def progress():
    """诉求办理进度查询 / Check the progress of a report (public)."""
    found = None
    not_found = False
    if request.method == "POST":
        limits.hit(current_app.config["LIMIT_PROGRESS"], "progress", limits.address())
        try:
            found = _shown(
                auth.services().cases.progress(
                    auth.caller(), request.form.get("ticket", ""), request.form.get("phone_last4", "")
                )
            )
        except NotFound:
            not_found = True
    response = current_app.make_response(
        (render_template("progress.html", found=found, not_found=not_found), 404 if not_found else 200)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
