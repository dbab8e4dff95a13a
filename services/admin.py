"""What administrators change from the admin pages: people and roles, and the category catalogue.

Every method takes the caller and refuses anyone without the admin scope (``Forbidden``),
so a page, an API or a script built on it cannot differ on who may. Every change is
recorded in the audit log with the values before and after. Two rules keep a town from
locking itself out: an administrator can neither take away their own admin role nor
disable themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from complaints.catalog import MAX_DEADLINE_DAYS
from complaints.catalog import Catalog
from geo.officials import UnitLevel
from geo.timeutil import to_beijing
from services import audit as audit_log
from services.accounts import MIN_PASSWORD
from services.accounts import AccountService
from services.audit import AuditService
from services.callers import ADMIN
from services.callers import ROLES
from services.callers import Caller
from services.cases import ComplaintService
from services.errors import Forbidden
from services.errors import Invalid
from services.errors import NotFound
from services.errors import Refused
from services.errors import Unauthenticated
from store.accounts import UserAccount
from store.base import Store

CATALOG_CHANGE = "catalog.change"
#: how many recent account changes are read to find each user's last change
_RECENT = 2000


def require_admin(caller: Caller, what: str = "this") -> None:
    """Refuse anyone but an administrator."""
    if not caller.authenticated:
        raise Unauthenticated(f"sign in as an administrator to do {what}")
    if not caller.can(ADMIN):
        raise Forbidden(f"only administrators may do {what}")


@dataclass(frozen=True)
class UserRow:
    account: UserAccount
    last_change: object | None  # the newest audit entry about the user (AuditEntry), if any


@dataclass(frozen=True)
class CatalogRow:
    """One category: the bundled file's values and the ones in force."""

    code: str
    name_zh: str
    name_en: str
    department: str
    deadline_days: int
    requires_after_photo: bool
    file_department: str
    file_deadline_days: int
    file_requires_after_photo: bool

    @property
    def changed(self) -> bool:
        return (self.department, self.deadline_days, self.requires_after_photo) != (
            self.file_department,
            self.file_deadline_days,
            self.file_requires_after_photo,
        )


class AdminService:
    def __init__(
        self, store: Store, accounts: AccountService, cases: ComplaintService, audit: AuditService
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.cases = cases
        self.audit = audit

    # --- people and roles -----------------------------------------------------------------

    @staticmethod
    def roles() -> tuple[str, ...]:
        return ROLES

    def departments(self, caller: Caller) -> Catalog:
        require_admin(caller, "account administration")
        return self.cases.catalog

    def users(self, caller: Caller) -> list[UserRow]:
        """Every user, with the newest recorded change to each."""
        require_admin(caller, "account administration")
        recent = self.audit.list(caller, action="user", limit=_RECENT)
        last: dict[str, object] = {}
        for entry in recent:  # newest first
            if entry.target and entry.target not in last:
                last[entry.target] = entry
        return [UserRow(a, last.get(f"user:{a.username}")) for a in self.accounts.users()]

    def _check_department(self, role: str, department: str | None) -> str | None:
        department = (department or "").strip() or None
        if department is not None and department not in self.cases.catalog.departments:
            raise Invalid(f"unknown department {department!r}", field="department", code="unknown_department")
        if role == "department" and department is None:
            raise Invalid(
                "a department user needs a department", field="department", code="department_needed"
            )
        return department

    def create_user(
        self,
        caller: Caller,
        username: str,
        display_name: str,
        password: str,
        role: str,
        department: str | None = None,
        official: str | None = None,
    ) -> int:
        require_admin(caller, "account administration")
        username, display_name = username.strip(), display_name.strip()
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise Invalid(
                "a user name of 1 to 64 characters without spaces", field="username", code="bad_username"
            )
        if not display_name:
            raise Invalid("a name people read is needed", field="display_name", code="name_needed")
        if role not in ROLES:
            raise Invalid(
                f"role {role!r}; expected one of {', '.join(ROLES)}", field="role", code="unknown_role"
            )
        department = self._check_department(role, department)
        official_id = self._check_official(role, official)
        _check_password(password)
        user_id = self.accounts.create_user(username, display_name, password, role, department, official_id)
        self.audit.record(
            caller,
            audit_log.USER_CREATE,
            f"user:{username}",
            {"role": role, "department": department, "official": official_id},
        )
        return user_id

    @staticmethod
    def _check_official(role: str, official: str | None) -> int | None:
        """A grid user names their roster entry (a number from the picker); nobody else does."""
        official = (official or "").strip()
        if role != "grid":
            return None
        if not official.isdigit() or len(official) > 12:
            raise Invalid("a grid user needs their roster entry", field="official", code="official_needed")
        return int(official)

    def roster_people(self, caller: Caller) -> list[tuple[int, str]]:
        """The people serving at grid level today, (roster id, name · grid), for the grid-user picker."""
        require_admin(caller, "account administration")
        today = to_beijing(self.cases.now()).date()
        people = [a for a in self.store.assignments() if a.id is not None and a.active_on(today)]
        return sorted(
            ((int(a.id), f"{a.name} · {a.unit_code}") for a in people if a.unit_level is UnitLevel.GRID),  # type: ignore[arg-type]
            key=lambda p: p[1],
        )

    def _account(self, username: str) -> UserAccount:
        account = self.store.user(username=username)
        if account is None:
            raise NotFound.of("user", username)
        return account

    def change_user(self, caller: Caller, username: str, role: str, department: str | None = None) -> bool:
        """A new role and department; whether anything changed."""
        require_admin(caller, "account administration")
        account = self._account(username)
        if role not in ROLES:
            raise Invalid(
                f"role {role!r}; expected one of {', '.join(ROLES)}", field="role", code="unknown_role"
            )
        if _is_self(caller, username) and role != "admin":
            raise Refused("an administrator cannot take away their own admin role", code="own_admin_role")
        department = self._check_department(role, department)
        before = {"role": account.role, "department": account.department_code}
        after = {"role": role, "department": department}
        if before == after:
            return False
        values: dict[str, object] = {"role": role, "department_code": department}
        if account.role != role:  # a session keeps the role it was made with: end them
            values["session_generation"] = account.session_generation + 1
        self.store.update_user(username, **values)
        changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        self.audit.record(caller, audit_log.USER_CHANGE, f"user:{username}", changed)
        return True

    def set_active(self, caller: Caller, username: str, active: bool) -> bool:
        """Disable (every session ends) or enable a user; whether anything changed."""
        require_admin(caller, "account administration")
        self._account(username)
        if _is_self(caller, username) and not active:
            raise Refused("an administrator cannot disable themselves", code="own_account")
        changed = self.accounts.set_active(username, active)
        if changed:
            self.audit.record(
                caller, audit_log.USER_CHANGE, f"user:{username}", {"active": [not active, active]}
            )
        return changed

    def reset_password(self, caller: Caller, username: str, password: str) -> None:
        require_admin(caller, "account administration")
        self._account(username)
        _check_password(password)
        self.accounts.set_password(username, password)
        self.audit.record(caller, audit_log.USER_CHANGE, f"user:{username}", {"password": "reset"})

    # --- the category catalogue -----------------------------------------------------------

    def catalogue(self, caller: Caller) -> tuple[Catalog, list[CatalogRow]]:
        """The catalogue in force, and each category with the bundled file's values beside."""
        require_admin(caller, "catalogue administration")
        current = self.cases.catalog
        files = self.cases.catalogue.files
        rows = []
        for code, c in current.categories.items():
            f = files.categories[code]
            rows.append(
                CatalogRow(
                    code,
                    c.name_zh,
                    c.name_en,
                    c.department,
                    c.deadline_days,
                    c.requires_after_photo,
                    f.department,
                    f.deadline_days,
                    f.requires_after_photo,
                )
            )
        return current, rows

    def change_category(
        self,
        caller: Caller,
        code: str,
        *,
        department: str,
        deadline_days: str | int,
        requires_after_photo: bool,
    ) -> bool:
        """A category's department, time limit (working days) and "after" photo rule; values
        equal to the bundled file's drop the change. Whether anything changed."""
        require_admin(caller, "catalogue administration")
        current = self.cases.catalog
        category = current.categories.get(code)
        if category is None:
            raise NotFound.of("category", code)
        if department not in current.departments:
            raise Invalid(f"unknown department {department!r}", field="department", code="unknown_department")
        text = str(deadline_days).strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_DEADLINE_DAYS):
            raise Invalid(
                f"deadline_days={text[:20]!r}: a whole number of working days from 1 to {MAX_DEADLINE_DAYS}",
                field="deadline_days",
                code="bad_deadline",
            )
        days = int(text)
        before = {
            "department": category.department,
            "deadline_days": category.deadline_days,
            "requires_after_photo": category.requires_after_photo,
        }
        after = {
            "department": department,
            "deadline_days": days,
            "requires_after_photo": requires_after_photo,
        }
        if before == after:
            return False
        f = self.cases.catalogue.files.categories[code]
        if (f.department, f.deadline_days, f.requires_after_photo) == (
            department,
            days,
            requires_after_photo,
        ):
            self.store.remove_catalog_override(code)
        else:
            self.store.put_catalog_override(
                code,
                department_code=department,
                deadline_days=days,
                requires_after_photo=requires_after_photo,
                by=caller.actor,
            )
        self.cases.catalogue.refresh()
        changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        self.audit.record(caller, CATALOG_CHANGE, f"category:{code}", changed)
        return True


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"password too short: at least {MIN_PASSWORD} characters", field="password", code="password_short"
        )


def _is_self(caller: Caller, username: str) -> bool:
    return caller.kind == "user" and caller.name == username


__all__ = ["CATALOG_CHANGE", "AdminService", "CatalogRow", "UserRow", "require_admin"]
