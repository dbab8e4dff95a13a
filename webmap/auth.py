"""Who is calling: an API key (other systems) or a logged-in person (the pages).

Keys are random tokens shown once at creation; only their SHA-256 is stored. A
key carries scopes: ``personal_data`` unmasks phone numbers and reporter
contacts, ``write`` allows changes. A request with a wrong or revoked key is
refused outright rather than silently treated as anonymous, so a misconfigured
client finds out at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from flask import g
from flask import request

from webmap.errors import ApiError

PERSONAL_DATA = "personal_data"
WRITE = "write"
SCOPES = (PERSONAL_DATA, WRITE)


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]
    kind: str  # "api_key" or "user"

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash under which it is stored."""
    token = "rg_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal
    token = _presented_token()
    principal = None
    if token:
        found = current_app.extensions["redgrid"].store.api_key_scopes(token_hash(token))
        if found is None:
            raise ApiError("API key not recognised or revoked", code="invalid_api_key", status=401)
        principal = Principal(found[0], frozenset(found[1]), "api_key")
    else:
        from flask_login import current_user

        if current_user.is_authenticated:
            principal = Principal(current_user.username, current_user.scopes, "user")
    g.principal = principal
    return principal


def may(scope: str) -> bool:
    principal = current_principal()
    return principal is not None and principal.can(scope)


def require(scope: str) -> Principal:
    principal = current_principal()
    if principal is None:
        raise ApiError("authentication required (Authorization: Bearer <API key>)",
                       code="unauthorized", status=401)
    if not principal.can(scope):
        raise ApiError(f"this API key lacks the {scope!r} scope", code="forbidden", status=403)
    return principal


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def check_request() -> None:
    """Before every API request: a wrong or revoked key is refused on every endpoint, and a
    write that rides on a session cookie (not a key) must carry the CSRF token."""
    principal = current_principal()
    cookie_borne = principal is not None and principal.kind == "user"
    if request.method not in ("GET", "HEAD", "OPTIONS") and cookie_borne:
        current_app.extensions["redgrid.csrf"].protect()
