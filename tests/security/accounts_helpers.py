"""Small helpers of the security tests: an app on a fresh SQLite database, users, sign-ins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from webmap import create_app

PASSWORD = "correct horse battery"


def fresh(tmp_path: Path, **config: Any) -> Flask:
    """An app on an empty, migrated SQLite database of its own (no grids needed here)."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'redgrid.db'}",
            "CACHE_DIR": str(tmp_path / "cache"),
            "PHOTO_DIR": str(tmp_path / "photos"),
            "SECRET_KEY": "security-tests",
            "RATELIMIT_STORAGE_URI": f"sqlitefile:///{tmp_path / 'ratelimit.db'}",
            **config,
        }
    )


def add_user(app: Flask, username: str = "wang", role: str = "dispatcher", password: str = PASSWORD) -> int:
    return app.extensions["redgrid"].accounts.create_user(username, username.title(), password, role)


def csrf_token(client: FlaskClient) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: FlaskClient, username: str = "wang", password: str = PASSWORD, **kw: Any):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)}, **kw
    )


def logout(client: FlaskClient):
    html = client.get("/complaints").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return client.post("/logout", data={"csrf_token": token})


def signed_in(client: FlaskClient) -> bool:
    """Whether the client's cookie still stands for a signed-in user (the header says who)."""
    html = client.get("/complaints", headers={"Accept": "text/html"}).get_data(as_text=True)
    return 'action="/logout"' in html
