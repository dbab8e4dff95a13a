"""Logging in to the pages: Flask-Login sessions over the accounts service.

Sessions are Flask's signed cookies and every form carries a CSRF token (Flask-WTF).
Roles decide what a person may see and do (``services.callers``); anonymous visitors
get the public view.

A session keeps the user's id and session generation (``User.get_id``: ``"7:3"``).
Logout raises the generation, so it ends every session of that user, including any copy
of the cookie; so do a password change and disabling the user. Sessions are permanent
cookies that expire after ``PERMANENT_SESSION_LIFETIME`` without a request (idle timeout;
each request renews it). Failed sign-ins are throttled per user name and address
(``webmap.limits.LoginThrottle``); sign-ins, failures and logouts go to the audit log.
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
from flask import session
from flask import url_for
from flask_login import LoginManager
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from services.callers import ANONYMOUS
from services.callers import Caller
from webmap import limits
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
    generation: int = 0
    #: the caller the accounts service made for this session (a grid user's grids included)
    caller: Caller | None = None

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def get_id(self) -> str:
        return f"{self.id}:{self.generation}"

    @classmethod
    def of(cls, user_id: int, who: Caller, generation: int = 0) -> User:
        return cls(
            user_id,
            who.name,
            who.display_name or who.name,
            who.role or "",
            who.department_code,
            generation,
            who,
        )


@login_manager.user_loader
def _load(session_id: str) -> User | None:
    user_id, _, generation = session_id.partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None  # a cookie from before session generations: signed in again
    who = services().accounts.session(int(user_id), int(generation))
    return User.of(int(user_id), who, int(generation)) if who is not None else None


def _audit(who: Caller, action: str, target: str | None = None, detail: dict | None = None) -> None:
    """One audit entry, when the audit service is wired (``services().audit``)."""
    audit = getattr(services(), "audit", None)
    if audit is not None:
        audit.record(who, action, target=target, detail=detail, address=request.remote_addr)


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
        username = request.form.get("username", "").strip()[:200]
        throttle = limits.login_throttle()
        throttle.check(username)  # 429 while this name or address must wait
        found = services().accounts.login(username, request.form.get("password", ""))
        if found is not None:
            throttle.succeeded(username)
            session.clear()  # a new session: nothing carried over from before the sign-in
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME idle
            login_user(User.of(found.user_id, found.caller, found.generation))
            _audit(found.caller, "login", target=f"user:{username}")
            if not request.args.get("next") and found.caller.role == "department":
                # a department clerk starts from the department's cases, not the dispatcher map
                return redirect(url_for("pages.complaint_list", department=found.caller.department_code))
            return redirect(_safe_next(request.args.get("next")))
        throttle.failed(username)
        _audit(ANONYMOUS, "login.failed", target=f"user:{username}")
        error = t("login_failed")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """Log out everywhere: every session of this user ends, not only this cookie."""
    if current_user.is_authenticated:
        who = Caller(current_user.username, "user", role=current_user.role)
        services().accounts.end_sessions(current_user.id)
        _audit(who, "logout", target=f"user:{current_user.username}")
    logout_user()
    session.clear()
    flash(t("logged_out"))
    return redirect(url_for("pages.dispatcher"))
