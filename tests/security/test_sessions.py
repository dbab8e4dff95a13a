"""7. Sessions and accounts: logout and password change end every session, Secure cookies over
HTTPS, an idle timeout, the user commands, key rotation.

Failed before, passes now: a session cookie copied before logout still worked after it;
there was no command to disable a user or reset a password.
"""

from __future__ import annotations

import time

from click.testing import CliRunner
from flask.testing import FlaskClient

from cli import main
from tests.security.accounts_helpers import PASSWORD
from tests.security.accounts_helpers import add_user
from tests.security.accounts_helpers import fresh
from tests.security.accounts_helpers import login
from tests.security.accounts_helpers import logout
from tests.security.accounts_helpers import signed_in


def _copy_cookies(src: FlaskClient, dst: FlaskClient) -> None:
    for cookie in src._cookies.values():
        dst.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_cookie_copied_before_logout_no_longer_works_after_it(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    browser, thief = app.test_client(), app.test_client()
    assert login(browser).status_code == 302
    _copy_cookies(browser, thief)
    assert signed_in(thief)  # the copy works while the user is signed in
    logout(browser)
    assert not signed_in(browser)
    assert not signed_in(thief)  # and not after the logout: every session of the user ended


def test_logout_ends_the_sessions_on_other_devices_too(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    desk, phone = app.test_client(), app.test_client()
    login(desk), login(phone)
    logout(phone)
    assert not signed_in(desk)
    assert login(desk).status_code == 302 and signed_in(desk)  # signing in again works


def test_a_password_reset_ends_every_session_and_the_new_password_works(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    client = app.test_client()
    login(client)
    app.extensions["redgrid"].accounts.set_password("wang", "another good password")
    assert not signed_in(client)
    assert login(client, password=PASSWORD).status_code == 401
    assert login(client, password="another good password").status_code == 302


def test_the_users_own_password_change_needs_the_old_one_and_ends_sessions(tmp_path):
    app = fresh(tmp_path)
    user_id = add_user(app)
    client = app.test_client()
    login(client)
    accounts = app.extensions["redgrid"].accounts
    try:
        accounts.change_password(user_id, "wrong old password", "a new password 1")
    except Exception as exc:  # Invalid
        assert "current password" in str(exc)
    else:
        raise AssertionError("a wrong old password was accepted")
    assert signed_in(client)
    accounts.change_password(user_id, PASSWORD, "a new password 1")
    assert not signed_in(client)


def test_disabling_a_user_ends_its_sessions_and_refuses_sign_ins(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    client = app.test_client()
    login(client)
    accounts = app.extensions["redgrid"].accounts
    accounts.set_active("wang", False)
    assert not signed_in(client)
    assert login(client).status_code == 401
    accounts.set_active("wang", True)
    assert login(client).status_code == 302


def _cli(tmp_path, *args: str, input: str | None = None):
    env = {
        "REDGRID_DATABASE_URL": f"sqlite:///{tmp_path / 'redgrid.db'}",
        "REDGRID_CACHE_DIR": str(tmp_path / "cache"),
        "REDGRID_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    return CliRunner(env=env).invoke(main, list(args), input=input, catch_exceptions=False)


def test_the_commands_list_disable_enable_and_reset_password(tmp_path):
    app = fresh(tmp_path)
    add_user(app, "wang")
    add_user(app, "li", role="planner")
    client = app.test_client()
    login(client, "wang")

    listed = _cli(tmp_path, "users", "list")
    assert listed.exit_code == 0, listed.output
    assert "wang" in listed.output and "li\t" in listed.output and "planner" in listed.output

    result = _cli(tmp_path, "users", "disable", "wang")
    assert result.exit_code == 0 and "disabled" in result.output
    assert "wang\tWang\tdispatcher\t-\tdisabled" in _cli(tmp_path, "users", "list").output
    assert not signed_in(client)
    assert login(client, "wang").status_code == 401

    assert _cli(tmp_path, "users", "enable", "wang").exit_code == 0
    result = _cli(tmp_path, "users", "reset-password", "wang", "--password", "brand new secret")
    assert result.exit_code == 0, result.output
    assert login(client, "wang").status_code == 401
    assert login(client, "wang", "brand new secret").status_code == 302

    unknown = _cli(tmp_path, "users", "disable", "nobody")
    assert unknown.exit_code != 0 and "nobody" in unknown.output


def test_key_rotation_gives_a_new_token_and_revokes_the_old(tmp_path):
    app = fresh(tmp_path)
    old = app.extensions["redgrid"].accounts.create_key("hotline", ["personal_data"])
    client = app.test_client()
    assert client.get("/api/v1/health", headers={"X-API-Key": old}).status_code == 200

    rotated = _cli(tmp_path, "apikey", "rotate", "hotline")
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.strip()
    assert new.startswith("rg_") and new != old
    assert client.get("/api/v1/health", headers={"X-API-Key": old}).status_code == 401
    assert client.get("/api/v1/health", headers={"X-API-Key": new}).status_code == 200
    caller = app.extensions["redgrid"].accounts.key_caller(new)
    assert caller.name == "hotline" and caller.scopes == {"personal_data"}  # same scopes

    listed = _cli(tmp_path, "apikey", "list").output
    assert listed.count("hotline") == 2 and "live" in listed
    assert old not in listed and new not in listed  # tokens are never shown again
    missing = _cli(tmp_path, "apikey", "rotate", "nobody")
    assert missing.exit_code != 0


def test_cookies_are_secure_over_https_only(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    over_http = login(app.test_client())
    assert "Secure" not in over_http.headers["Set-Cookie"]
    over_https = login(app.test_client(), base_url="https://localhost")
    assert "; Secure" in over_https.headers["Set-Cookie"]
    assert (
        "HttpOnly" in over_https.headers["Set-Cookie"] and "SameSite=Lax" in over_https.headers["Set-Cookie"]
    )


def test_behind_a_trusted_proxy_the_forwarded_scheme_makes_cookies_secure(tmp_path):
    app = fresh(tmp_path, TRUSTED_PROXIES=1)
    add_user(app)
    response = login(app.test_client(), headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in response.headers["Set-Cookie"]
    untrusted = fresh(tmp_path / "b", TRUSTED_PROXIES=0)
    add_user(untrusted)
    response = login(untrusted.test_client(), headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_an_idle_session_expires(tmp_path):
    app = fresh(tmp_path, PERMANENT_SESSION_LIFETIME=2)
    add_user(app)
    client = app.test_client()
    response = login(client)
    assert "Expires=" in response.headers["Set-Cookie"]  # a permanent cookie with an end
    assert signed_in(client)
    time.sleep(1.2)
    assert signed_in(client)  # activity renews it
    time.sleep(1.2)
    assert signed_in(client)
    # the cookie kept beyond its lifetime (a copy, or a browser that ignores Expires)
    stale = app.test_client()
    _copy_cookies(client, stale)
    time.sleep(3.5)  # itsdangerous counts whole seconds: age > 2
    assert not signed_in(stale)


def test_logins_logouts_and_failures_are_audited(tmp_path):
    app = fresh(tmp_path)
    add_user(app)
    client = app.test_client()
    login(client, password="wrong password!!")
    login(client)
    logout(client)
    svc = app.extensions["redgrid"]
    from services.callers import system

    actions = [(e.action, e.target) for e in svc.audit.list(system(), limit=10)]
    assert ("login.failed", "user:wang") in actions
    assert ("login", "user:wang") in actions
    assert ("logout", "user:wang") in actions
