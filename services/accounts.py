"""People who log in and systems that call with keys: creating them, and knowing them again.

Passwords are werkzeug scrypt hashes (a maintained, memory-hard KDF). API keys are
random tokens shown once at creation; only their SHA-256 is stored. A request with a
wrong or revoked key is refused outright rather than treated as anonymous, so a
misconfigured client finds out at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from services.callers import KEY_SCOPES
from services.callers import ROLES
from services.callers import Caller
from services.callers import user_caller
from services.errors import Conflict
from services.errors import Invalid
from services.errors import Unauthenticated
from store.base import Store

MIN_PASSWORD = 10
TOKEN_PREFIX = "rg_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password too short: at least {MIN_PASSWORD} characters", field="password")
    return generate_password_hash(password, method="scrypt")


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- people ---------------------------------------------------------------------------

    def create_user(
        self, username: str, display_name: str, password: str, role: str, department_code: str | None = None
    ) -> int:
        if role not in ROLES:
            raise Invalid(f"role {role!r}; expected one of {', '.join(ROLES)}", field="role")
        if role == "department" and not department_code:
            raise Invalid("a department user needs --department (its department code)", field="department")
        if self.store.user(username=username) is not None:
            raise Conflict(f"user {username!r} already exists", code="user_exists")
        return self.store.add_user(username, display_name, hash_password(password), role, department_code)

    def authenticate(self, username: str, password: str) -> Caller | None:
        """The caller for a good user name and password of an active user, else None."""
        account = self.store.user(username=username)
        if account is None or not account.active or not check_password_hash(account.password_hash, password):
            return None
        return self._caller(account)

    def user_by_id(self, user_id: int) -> Caller | None:
        """The caller of a session (active users only)."""
        account = self.store.user(user_id=user_id)
        return self._caller(account) if account is not None and account.active else None

    def user_id(self, username: str) -> int | None:
        account = self.store.user(username=username)
        return account.id if account is not None else None

    @staticmethod
    def _caller(account) -> Caller:
        return user_caller(
            account.username,
            account.role,
            department_code=account.department_code,
            display_name=account.display_name,
        )

    # --- API keys -------------------------------------------------------------------------

    def create_key(self, name: str, scopes: Sequence[str]) -> str:
        """A new key's token, returned once (only its hash is kept)."""
        unknown = sorted(set(scopes) - set(KEY_SCOPES))
        if unknown:
            raise Invalid(
                f"unknown scope(s) {', '.join(unknown)}; expected {', '.join(KEY_SCOPES)}", field="scope"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.add_api_key(name, token_hash(token), list(scopes))
        return token

    def revoke_key(self, name: str) -> int:
        return self.store.revoke_api_key(name)

    def key_caller(self, token: str) -> Caller:
        """The caller a presented key stands for; a wrong or revoked key is refused."""
        found = self.store.api_key_scopes(token_hash(token))
        if found is None:
            raise Unauthenticated("API key not recognised or revoked", code="invalid_api_key")
        name, scopes = found
        return Caller(name, "api_key", frozenset(scopes))
