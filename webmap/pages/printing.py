"""Printed sheets of a case as PDF: the work order (派单单) and the case with its history (诉求单).

What a sheet holds is decided by ``services.printing`` (the case page's rules); here it is
laid out in the page language and rendered by WeasyPrint (``webmap.pdf``). An anonymous
visitor is sent to the login, like the other staff pages; a bad id gets the 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from flask import Response
from flask import render_template

from services.callers import Caller
from services.errors import Unauthenticated
from services.printing import HistoryLine
from services.printing import PrintService
from services.printing import Sheet
from webmap import auth
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages.complaints import beijing_text
from webmap.pages.complaints import deadline_text
from webmap.pdf import data_uri
from webmap.pdf import font_stack
from webmap.pdf import html_to_pdf
from webmap.users import login_manager

#: the sheets: kind in the URL → the service method, its template and its title
SHEETS: dict[str, tuple[Callable[[PrintService, Caller, int], Sheet], str, str]] = {
    "order": (PrintService.work_order, "print_order.html", "print_order_title"),  # 打印派单单
    "case": (PrintService.case_sheet, "print_case.html", "print_case_title"),  # 打印诉求单
}


@bp.get("/complaints/<int:complaint_id>/print/<any(order, case):kind>.pdf")
def print_sheet(complaint_id: int, kind: str):
    """A case's work order (``order``: of its latest dispatch) or the case with its history and
    photos for who may see them (``case``), as an A4 PDF."""
    method, template, title = SHEETS[kind]
    try:
        sheet = method(auth.services().printing, auth.caller(), complaint_id)
    except Unauthenticated:
        return login_manager.unauthorized()
    return _pdf(template, sheet, f"{t(title)}-{sheet.case.id}")


def _pdf(template: str, sheet: Sheet, name: str) -> Response:
    cases = auth.services().cases
    html = render_template(
        template,
        sheet=sheet,
        fonts=font_stack(),
        bj=beijing_text,
        known=_known,
        actor=_actor,
        image=data_uri,
        deadline=deadline_text(
            sheet.case.deadline,
            sheet.printed_at,
            cases.calendar,
            language=lang(),
            running=sheet.deadline_running,
            provisional=bool(sheet.case.deadline_provisional),
        ),
    )
    response = Response(html_to_pdf(html), mimetype="application/pdf")
    # inline: the browser shows it with its own print button; the name in both spellings
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{sheet.case.id}.pdf\"; filename*=UTF-8''{quote(name)}.pdf"
    )
    response.headers["Cache-Control"] = "private, no-store"  # personal data: never cached
    return response


def _known(key: str) -> str | None:
    """The text of ``key`` when the catalogue has it (an action without its own word: None)."""
    text = t(key)
    return None if text == key else text


def _actor(line: HistoryLine) -> str:
    """Who took a step, as people read it: a name, or 系统 / 外部系统 (never an account id)."""
    if line.actor_kind == "person":
        return line.actor_name or ""
    return t("print_actor_" + line.actor_kind)


__all__ = ["SHEETS", "print_sheet"]
