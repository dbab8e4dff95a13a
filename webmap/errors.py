"""Every error, rendered in one place: problem details for the API, Open311's list for Open311,
an HTML page in the reader's language for browsers.

Services raise domain errors (``services.errors``) and the cores raise theirs
(``geo.errors``, ``complaints.errors``); none of them knows HTTP. The status each class
maps to is decided here. API errors are RFC 9457 problem details
(``application/problem+json``) which also carry ``error: {code, message}`` as an extension
member, the shape clients of earlier versions read.
"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException

from complaints.errors import ComplaintsError
from geo.errors import GeoError
from geo.errors import RowErrors
from services import errors as domain

STATUS: dict[type[domain.DomainError], int] = {
    domain.Invalid: 400,
    domain.Refused: 422,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.PreconditionRequired: 428,
    domain.TooLarge: 413,
    domain.UnsupportedType: 415,
    domain.Unavailable: 503,
}


class Problem(Exception):
    """A problem found by the web layer itself (a malformed request it parses)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "bad_request",
        status: int = 400,
        details: dict | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.details = message, code, status, details or {}
        if field is not None:
            self.details = {"field": field, **self.details}


def _with_field(exc: Exception, details: dict) -> dict:
    """The extension members, with ``field`` (the parameter or JSON member at fault) when known."""
    field = getattr(exc, "field", None)
    return {"field": field, **details} if isinstance(field, str) and field else details


def describe(exc: Exception) -> tuple[int, str, str, dict]:
    """(status, code, message, extra members) for any error the app may meet."""
    if isinstance(exc, Problem):
        return exc.status, exc.code, exc.message, exc.details
    if isinstance(exc, domain.DomainError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        return status, exc.code, exc.message, _with_field(exc, exc.details)
    if isinstance(exc, RowErrors):
        rows = [{"row": e.row, "field": e.field, "message": e.message} for e in exc.errors]
        extra = {"field": rows[0]["field"]} if rows else {}
        return 422, exc.code, exc.message.splitlines()[0], {**extra, "rows": rows}
    if isinstance(exc, ComplaintsError):
        # a refused workflow action, an unknown category, a year without a holiday schedule:
        # the request was understood but cannot be carried out as asked
        return 422, exc.code, exc.message, _with_field(exc, {})
    if isinstance(exc, GeoError):
        return 400, exc.code, exc.message, _with_field(exc, {})
    if isinstance(exc, HTTPException):
        return exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "", {}
    if isinstance(exc, RecursionError):
        # a request body nested thousands deep (JSON arrays in arrays): refused, not a crash
        return 400, "bad_json", "the request body is nested too deeply", {"field": "body"}
    raise exc


def problem(status: int, code: str, message: str, details: dict | None = None) -> Response:
    details = dict(details or {})
    field = details.pop("field", None)  # a member of the problem, not of the older ``error`` shape
    body = {
        "type": f"about:blank#{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": message,
        "code": code,
        **({"field": field} if field else {}),
        "error": {"code": code, "message": message, **details},
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _wants_html() -> bool:
    """A browser gets a page: it names text/html in Accept. API clients (which send */*,
    application/json or nothing) keep problem details on the API's paths."""
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json"])
    if request.path.startswith("/open311/"):
        return False
    if request.path.startswith("/api/"):
        named = any(mimetype == "text/html" for mimetype, _ in accept)
        return named and best == "text/html"
    return best == "text/html" or not accept.provided


def render(exc: Exception) -> Response | tuple[str, int]:
    status, code, message, details = describe(exc)
    if request.path.startswith("/open311/"):
        from webmap.open311 import error_response

        return error_response(status, message)
    if _wants_html():
        return render_template("error.html", status=status, code=code, message=message), status
    return problem(status, code, message, details)


def init_app(app: Flask) -> None:
    for cls in (
        Problem,
        domain.DomainError,
        RowErrors,
        ComplaintsError,
        GeoError,
        HTTPException,
        RecursionError,
    ):
        app.register_error_handler(cls, render)
