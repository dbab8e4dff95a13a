"""Who is calling, found once per request: an API key (other systems) or a logged-in person.

A key is presented as ``Authorization: Bearer …`` or ``X-API-Key``; the accounts service
decides what it stands for (a wrong or revoked key is refused on every endpoint). A
write that rides on a session cookie, not a key, must carry the CSRF token.
"""

from __future__ import annotations

from flask import current_app
from flask import g
from flask import request
from flask_login import current_user

from services.build import Services
from services.callers import ANONYMOUS
from services.callers import Caller
from services.callers import user_caller


def services() -> Services:
    return current_app.extensions["redgrid"]


def caller() -> Caller:
    if "caller" in g:
        return g.caller
    token = _presented_token()
    if token:
        found = services().accounts.key_caller(token)
    elif current_user.is_authenticated:
        found = user_caller(
            current_user.username,
            current_user.role,
            department_code=current_user.department_code,
            display_name=current_user.display_name,
        )
    else:
        found = ANONYMOUS
    g.caller = found
    return found


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def check_request() -> None:
    """Before every API request: a wrong or revoked key is refused on every endpoint, and a
    write that rides on a session cookie (not a key) must carry the CSRF token."""
    who = caller()
    if request.method not in ("GET", "HEAD", "OPTIONS") and who.kind == "user":
        current_app.extensions["redgrid.csrf"].protect()
