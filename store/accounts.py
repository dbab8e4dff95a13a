"""Accounts: the people who sign in (users) and the systems that call the API (API keys)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import Protocol


@dataclass(frozen=True)
class UserAccount:
    """A person who signs in: a role, and for department staff the department."""

    id: int
    username: str
    display_name: str
    password_hash: str
    role: str
    department_code: str | None
    active: bool
    created_at: datetime.datetime
    #: raised when every session of the user must end (logout, password change, disabling);
    #: a session made under an older generation is no longer accepted
    session_generation: int = 0
    #: for the grid role: the roster entry (``officials.id``) of the person signing in
    official_id: int | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> UserAccount:
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


class AccountStore(Protocol):
    """Users and API keys (kept as the SHA-256 of the token, never the token)."""

    def add_user(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        role: str,
        department_code: str | None = None,
        official_id: int | None = None,
    ) -> int: ...
    def user(self, *, user_id: int | None = None, username: str | None = None) -> UserAccount | None: ...
    def users(self) -> list[UserAccount]: ...
    def update_user(self, username: str, **values: Any) -> int:
        """Change columns of one user (display_name, password_hash, role, department_code,
        official_id, active); returns how many users were changed (0 or 1)."""
        ...

    def preferences(self, user_id: int) -> dict[str, str]:
        """A user's kept settings (name → value); empty when none was set."""
        ...

    def set_preference(self, user_id: int, name: str, value: str) -> None:
        """Keep one setting of a user, replacing the one of that name."""
        ...

    def add_api_key(self, name: str, token_sha256: str, scopes: Sequence[str]) -> int: ...
    def api_key_scopes(self, token_sha256: str) -> tuple[str, list[str]] | None:
        """(key name, scopes) of a key not revoked, or None."""
        ...

    def revoke_api_key(self, name: str) -> int: ...
    def replace_api_key(self, name: str, token_sha256: str) -> list[str] | None:
        """Rotate: revoke every live key of ``name`` and add one with their scopes and this
        hash, in one transaction; the scopes, or None (and nothing changed) when no key of
        that name is live."""
        ...

    def api_keys(self) -> list[dict[str, Any]]:
        """Every key, live or revoked: id, name, scopes (text), created_at, revoked_at."""
        ...


__all__ = ["AccountStore", "UserAccount"]
