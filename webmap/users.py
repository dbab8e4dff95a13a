"""People who log in to the pages: dispatchers, planners, departments, administrators.

Passwords are hashed with werkzeug's scrypt (a maintained, memory-hard KDF), sessions
are Flask's signed cookies managed by Flask-Login, and every form carries a CSRF token
(Flask-WTF). Roles decide what a person may see and do; anonymous visitors get the
public view, with phone numbers masked and no reporter contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlparse

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import LoginManager
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from webmap.i18n import t

ROLES = ("dispatcher", "planner", "department", "admin")
#: What each role may do: personal_data = full phones and reporter contacts, write = changes.
ROLE_SCOPES = {
    "admin": frozenset({"personal_data", "write", "admin"}),
    "dispatcher": frozenset({"personal_data", "write"}),
    "department": frozenset({"personal_data", "write"}),
    "planner": frozenset(),
}
MIN_PASSWORD = 10

bp = Blueprint("users", __name__)
login_manager = LoginManager()
login_manager.login_view = "users.login"


@dataclass
class User:
    id: int
    username: str
    display_name: str
    role: str
    department_code: str | None
    active: bool

    # Flask-Login's protocol
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES.get(self.role, frozenset())

    @classmethod
    def from_row(cls, row: dict) -> User:
        return cls(row["id"], row["username"], row["display_name"], row["role"],
                   row["department_code"], bool(row["active"]))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: at least {MIN_PASSWORD} characters")
    return generate_password_hash(password, method="scrypt")


def create_user(store, username: str, display_name: str, password: str, role: str,
                department_code: str | None = None) -> int:
    if role not in ROLES:
        raise ValueError(f"role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "department" and not department_code:
        raise ValueError("a department user needs --department (its department code)")
    if store.user(username=username) is not None:
        raise ValueError(f"user {username!r} already exists")
    return store.add_user(username, display_name, hash_password(password), role, department_code)


@login_manager.user_loader
def _load(user_id: str) -> User | None:
    row = current_app.extensions["redgrid"].store.user(user_id=int(user_id))
    return User.from_row(row) if row and row["active"] else None


def role_required(*roles: str):
    """Views for some roles only: anonymous visitors go to the login page, others get 403."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles and current_user.role != "admin":
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _safe_next(target: str | None) -> str:
    """Only same-site redirects after login (no open redirect)."""
    if not target:
        return url_for("pages.dispatcher")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return url_for("pages.dispatcher")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """登录 / Log in."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        row = current_app.extensions["redgrid"].store.user(username=username)
        if row and row["active"] and check_password_hash(row["password_hash"], password):
            login_user(User.from_row(row))
            return redirect(_safe_next(request.args.get("next")))
        error = t("login_failed")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    logout_user()
    flash(t("logged_out"))
    return redirect(url_for("pages.dispatcher"))
