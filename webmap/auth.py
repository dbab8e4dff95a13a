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
from services.errors import Unauthenticated
from webmap import limits


def services() -> Services:
    return current_app.extensions["redgrid"]


def caller() -> Caller:
    if "caller" in g:
        return g.caller
    token = presented_token()
    if token:
        try:
            found = services().accounts.key_caller(token)
        except Unauthenticated:
            # guessing keys: a few wrong ones per address, then 429 (webmap.limits)
            limits.hit(current_app.config["LIMIT_BAD_KEY"], "bad-key", limits.address())
            raise
    elif current_user.is_authenticated and getattr(current_user, "caller", None) is not None:
        found = current_user.caller
    elif current_user.is_authenticated:
        found = user_caller(
            current_user.username,
            current_user.role,
            department_code=current_user.department_code,
            display_name=current_user.display_name,
        )
    else:
        found = ANONYMOUS
    found = found.at(request.remote_addr)  # where from, for the audit log
    if found.kind == "api_key":
        services().audit.key_used(found)
    g.caller = found
    return found


def presented_token() -> str | None:
    """The API key a request presents in its headers (never the query string: URLs are logged)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


_presented_token = presented_token


def check_request() -> None:
    """Before every API request: a wrong or revoked key is refused on every endpoint, and a
    write that rides on a session cookie (not a key) must carry the CSRF token."""
    who = caller()
    if request.method not in ("GET", "HEAD", "OPTIONS") and who.kind == "user":
        current_app.extensions["redgrid.csrf"].protect()
