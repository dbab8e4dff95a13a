"""People who log in and systems that call with keys: creating them, and knowing them again.

Passwords are werkzeug scrypt hashes (a maintained, memory-hard KDF). A sign-in costs
one scrypt verification whether the user exists, is disabled or not: an unknown name is
checked against a dummy hash made with the same parameters, so response times do not tell
user names apart. API keys are random tokens shown once at creation; only their SHA-256 is
stored. A request with a wrong or revoked key is refused outright rather than treated as
anonymous, so a misconfigured client finds out at once.

Sessions: each user has a session generation. A session remembers the generation it was
made under (``login``), and ``session`` accepts it only while it is current, so logout, a
password change or disabling the user (each raises it) ends every session of that user,
on every device and every copy of the cookie.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from geo.crs import COORDSYS_NAMES
from geo.timeutil import utcnow
from services.callers import KEY_SCOPES
from services.callers import ROLES
from services.callers import Caller
from services.callers import user_caller
from services.errors import Conflict
from services.errors import Invalid
from services.errors import NotFound
from services.errors import Unauthenticated
from services.teams import TeamService
from services.teams import beijing_day
from store.accounts import UserAccount
from store.base import Store

Clock = Callable[[], datetime.datetime]

MIN_PASSWORD = 10
TOKEN_PREFIX = "rg_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password too short: at least {MIN_PASSWORD} characters", field="password")
    return generate_password_hash(password, method="scrypt")


@dataclass(frozen=True)
class Session:
    """What a session cookie keeps of a signed-in user: the id and the generation."""

    user_id: int
    generation: int
    caller: Caller


_dummy: list[str] = []
_dummy_lock = threading.Lock()


def _dummy_hash() -> str:
    """A scrypt hash of a random password, made once per process with the same parameters
    as real ones: what an unknown user name is checked against."""
    with _dummy_lock:
        if not _dummy:
            _dummy.append(generate_password_hash(secrets.token_urlsafe(16), method="scrypt"))
        return _dummy[0]


#: the settings a person may keep: name → (default, allowed values). Pasted coordinates are
#: read as GCJ-02 unless chosen otherwise: Amap, Tencent and WeChat location shares give GCJ-02.
PREFERENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "coordsys": ("gcj02", COORDSYS_NAMES),
}


class AccountService:
    def __init__(self, store: Store, teams: TeamService | None = None, clock: Clock = utcnow) -> None:
        self.store = store
        #: the roster, for a grid user's grids (``services.teams``); none: grid users see no grid
        self.teams = teams
        self.now = clock

    # --- people ---------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        display_name: str,
        password: str,
        role: str,
        department_code: str | None = None,
        official_id: int | None = None,
    ) -> int:
        """A new user; a grid user (``grid``) names their roster entry (``official_id``), which
        must exist: it decides their grids and their queue (``services.teams``)."""
        if role not in ROLES:
            raise Invalid(f"role {role!r}; expected one of {', '.join(ROLES)}", field="role")
        if role == "department" and not department_code:
            raise Invalid("a department user needs --department (its department code)", field="department")
        if role == "grid":
            if official_id is None:
                raise Invalid("a grid user needs --official (their roster id)", field="official")
            if self.teams is None or self.teams.person(official_id) is None:
                raise Invalid(
                    f"no roster entry {official_id} (redgrid officials list)",
                    field="official",
                    code="unknown_official",
                )
        elif official_id is not None:
            raise Invalid("only a grid user is linked to a roster entry", field="official")
        if self.store.user(username=username) is not None:
            raise Conflict(f"user {username!r} already exists", code="user_exists")
        return self.store.add_user(
            username, display_name, hash_password(password), role, department_code, official_id
        )

    def authenticate(self, username: str, password: str) -> Caller | None:
        """The caller for a good user name and password of an active user, else None."""
        found = self.login(username, password)
        return found.caller if found is not None else None

    def login(self, username: str, password: str) -> Session | None:
        """A new session for a good user name and password of an active user, else None.

        Exactly one scrypt verification runs on every path (an unknown name is checked
        against a dummy hash), so the time taken does not say whether the name exists."""
        account = self.store.user(username=username) if username else None
        stored = account.password_hash if account is not None else _dummy_hash()
        good = check_password_hash(stored, password)
        if account is None or not good or not account.active:
            return None
        return Session(account.id, account.session_generation, self._caller(account))

    def session(self, user_id: int, generation: int) -> Caller | None:
        """The caller of a session made under ``generation``: None once the user logged out
        everywhere, changed the password or was disabled."""
        account = self.store.user(user_id=user_id)
        if account is None or not account.active or account.session_generation != generation:
            return None
        return self._caller(account)

    def end_sessions(self, user_id: int) -> None:
        """End every session of the user (logout)."""
        account = self.store.user(user_id=user_id)
        if account is not None:
            self.store.update_user(account.username, session_generation=account.session_generation + 1)

    def user_by_id(self, user_id: int) -> Caller | None:
        """The caller of a user id (active users only), whatever the session generation."""
        account = self.store.user(user_id=user_id)
        return self._caller(account) if account is not None and account.active else None

    def users(self) -> list[UserAccount]:
        return self.store.users()

    def display_names(self) -> dict[str, str]:
        """username → the name people know the user by (pages show it instead of account ids)."""
        return {u.username: u.display_name for u in self.store.users() if u.display_name}

    def _account(self, username: str) -> UserAccount:
        account = self.store.user(username=username)
        if account is None:
            raise NotFound.of("user", username)
        return account

    def set_password(self, username: str, password: str) -> None:
        """A new password (a reset by an administrator, or the user's own change); every
        session of the user ends."""
        account = self._account(username)
        self.store.update_user(
            username,
            password_hash=hash_password(password),
            session_generation=account.session_generation + 1,
        )

    def change_password(self, user_id: int, old: str, new: str) -> None:
        """The user's own change: the old password must be right; every session ends."""
        account = self.store.user(user_id=user_id)
        if account is None or not check_password_hash(account.password_hash, old):
            raise Invalid("the current password is not right", field="password")
        self.set_password(account.username, new)

    def set_active(self, username: str, active: bool) -> bool:
        """Disable (every session ends at once) or enable a user; whether anything changed."""
        account = self._account(username)
        if account.active == active:
            return False
        values: dict = {"active": active}
        if not active:
            values["session_generation"] = account.session_generation + 1
        self.store.update_user(username, **values)
        return True

    def user_id(self, username: str) -> int | None:
        account = self.store.user(username=username)
        return account.id if account is not None else None

    # --- preferences ----------------------------------------------------------------------

    def preferences(self, caller: Caller) -> dict[str, str]:
        """A signed-in person's kept settings, each with its default when never set."""
        kept: dict[str, str] = {}
        if caller.kind == "user":
            account = self.store.user(username=caller.name)
            kept = self.store.preferences(account.id) if account is not None else {}
        return {name: kept.get(name, default) for name, (default, _) in PREFERENCES.items()}

    def set_preference(self, caller: Caller, name: str, value: str) -> None:
        """Keep one setting of the signed-in caller (anonymous visitors keep theirs in the browser)."""
        if caller.kind != "user":
            raise Unauthenticated("sign in to keep a setting")
        if name not in PREFERENCES:
            raise Invalid(f"unknown setting {name!r}; known: {', '.join(PREFERENCES)}", field="name")
        allowed = PREFERENCES[name][1]
        if value not in allowed:
            raise Invalid(f"{name} must be one of {', '.join(allowed)}, not {value!r}", field=name)
        account = self.store.user(username=caller.name)
        if account is None:
            raise NotFound(f"no user {caller.name!r}")
        self.store.set_preference(account.id, name, value)

    def _caller(self, account: UserAccount) -> Caller:
        grid_codes: frozenset[str] = frozenset()
        if account.role == "grid" and self.teams is not None:
            grid_codes = self.teams.grids_of(account.official_id, beijing_day(self.now()))
        return user_caller(
            account.username,
            account.role,
            department_code=account.department_code,
            display_name=account.display_name,
            official_id=account.official_id,
            grid_codes=grid_codes,
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

    def rotate_key(self, name: str) -> str:
        """A new token for the key ``name`` with the same scopes; the old one is revoked in
        the same transaction. Returned once, like ``create_key``."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        if self.store.replace_api_key(name, token_hash(token)) is None:
            raise NotFound.of("API key", name)
        return token

    def keys(self) -> list[dict]:
        """Every key (never its token): name, scopes, created and revoked times."""
        return self.store.api_keys()

    def key_caller(self, token: str) -> Caller:
        """The caller a presented key stands for; a wrong or revoked key is refused."""
        found = self.store.api_key_scopes(token_hash(token))
        if found is None:
            raise Unauthenticated("API key not recognised or revoked", code="invalid_api_key")
        name, scopes = found
        # a department-bound key (redgrid apikey create NAME --department CODE) acts for it
        bound = [v for kind, v in self.store.grants(f"api_key:{name}") if kind == "department"]
        return Caller(name, "api_key", frozenset(scopes), department_code=bound[0] if bound else None)
