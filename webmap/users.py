"""Logging in to the pages: Flask-Login sessions over the accounts service.

Sessions are Flask's signed cookies and every form carries a CSRF token (Flask-WTF).
Roles decide what a person may see and do (``services.callers``); anonymous visitors
get the public view.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlparse

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import LoginManager
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from services.callers import Caller
from webmap.auth import services
from webmap.i18n import t

bp = Blueprint("users", __name__)
login_manager = LoginManager()
login_manager.login_view = "users.login"


@dataclass
class User:
    """Flask-Login's view of a person; the session keeps only the id."""

    id: int
    username: str
    display_name: str
    role: str
    department_code: str | None

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def of(cls, user_id: int, who: Caller) -> User:
        return cls(user_id, who.name, who.display_name or who.name, who.role or "", who.department_code)


@login_manager.user_loader
def _load(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    who = services().accounts.user_by_id(int(user_id))
    return User.of(int(user_id), who) if who is not None else None


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
        accounts = services().accounts
        who = accounts.authenticate(username, request.form.get("password", ""))
        user_id = accounts.user_id(username) if who is not None else None
        if who is not None and user_id is not None:
            login_user(User.of(user_id, who))
            return redirect(_safe_next(request.args.get("next")))
        error = t("login_failed")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    logout_user()
    flash(t("logged_out"))
    return redirect(url_for("pages.dispatcher"))
