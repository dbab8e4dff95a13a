"""Who is asking: a person logged in to the pages, another system with an API key, or nobody.

Every service method that shows or changes something takes the caller, so the rule of
what a role may see or do is decided here, in one place, and pages, the API, exports and
Open311 cannot differ. The adapters only find out who the caller is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

PERSONAL_DATA = "personal_data"
WRITE = "write"
ADMIN = "admin"
#: the dispatch centre's work: dispatch, re-dispatch, follow-up, close (``services.permissions``)
DISPATCH = "dispatch"
#: scopes an API key may be given
KEY_SCOPES = (PERSONAL_DATA, WRITE, DISPATCH)
#: grid = a member of a grid team (网格员, 小红格格长…) signing in as themself, linked to the roster
ROLES = ("dispatcher", "planner", "department", "grid", "admin")
#: what each role may do: personal_data = full phones and reporter contacts, write = changes
ROLE_SCOPES = {
    "admin": frozenset({PERSONAL_DATA, WRITE, ADMIN}),
    "dispatcher": frozenset({PERSONAL_DATA, WRITE}),
    "department": frozenset({PERSONAL_DATA, WRITE}),
    "grid": frozenset({PERSONAL_DATA, WRITE}),
    "planner": frozenset(),
}


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str  # "user", "api_key", "anonymous" or "system" (the local command line)
    scopes: frozenset[str] = frozenset()
    role: str | None = None
    department_code: str | None = None
    display_name: str | None = None
    #: where the request came from (the remote address), for the audit log; set by adapters
    address: str | None = None
    #: a grid-team member's roster id (``officials.id``): the cases assigned to them
    official_id: int | None = None
    #: the grids a grid-team member serves today (their posts at grids, communities, the town)
    grid_codes: frozenset[str] = frozenset()

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> str:
        """How the caller is recorded in a case's history."""
        return f"{self.kind}:{self.name}" if self.kind != "system" else self.name

    @property
    def is_department(self) -> bool:
        return self.kind == "user" and self.role == "department"

    @property
    def is_grid_team(self) -> bool:
        return self.kind == "user" and self.role == "grid"

    @property
    def authenticated(self) -> bool:
        return self.kind in ("user", "api_key", "system")

    def at(self, address: str | None) -> Caller:
        """The same caller, calling from ``address``."""
        return dataclasses.replace(self, address=address)


ANONYMOUS = Caller("anonymous", "anonymous")


def system(name: str = "cli") -> Caller:
    """The local operator at the command line: may do everything."""
    return Caller(name, "system", frozenset({PERSONAL_DATA, WRITE, ADMIN}), role="admin")


def user_caller(
    username: str,
    role: str,
    *,
    department_code: str | None = None,
    display_name: str | None = None,
    official_id: int | None = None,
    grid_codes: frozenset[str] = frozenset(),
) -> Caller:
    return Caller(
        username,
        "user",
        ROLE_SCOPES.get(role, frozenset()),
        role=role,
        department_code=department_code,
        display_name=display_name,
        official_id=official_id if role == "grid" else None,
        grid_codes=frozenset(grid_codes) if role == "grid" else frozenset(),
    )
