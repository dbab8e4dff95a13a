"""Fixtures of the data-scope, permission and audit tests (issue 8: 1, 2, 3).

``world``: a copy of the demo database with every kind of caller, and two complaints
filed and dispatched, one to the police and one to urban management. The police's
complaint carries a reporter, a phone and an ID number typed into its text, an address
and a staff note with a phone in it, so each test can see exactly which of them reaches
which caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field

import pytest
from flask import Flask
from flask.testing import FlaskClient

from complaints.records import Case
from services.cases import ComplaintService
from tests.apps import create_user
from tests.test_complaints_service import Clock
from tests.test_complaints_service import api_key
from tests.test_complaints_service import file_at
from tests.test_complaints_service import grid_of_kind
from tests.test_complaints_service import install
from tests.test_complaints_service import step

PASSWORD = "scope-pass-123"
SOURCE = "scope-test"
REPORTER = "陈女士"
REPORTER_PHONE = "13800138000"
TEXT_PHONE = "13912345678"
TEXT_ID = "440605199001011234"
TEXT = f"楼上夜间装修噪音，请回电{TEXT_PHONE}，身份证{TEXT_ID}"
ADDRESS = "大沥镇振兴路80号3座"
NOTE_PHONE = "13700001111"
NOTE = f"派单，联系网格员王五{NOTE_PHONE}"
STAFF = "user:wang"
#: the users of the world: username → (role, department)
USERS = {
    "wang": ("dispatcher", None),
    "boss": ("admin", None),
    "li": ("planner", None),
    "police-desk": ("department", "police"),
    "city-desk": ("department", "urban_management"),
}
#: the API keys: name → (scopes, sources, department)
KEYS = {
    "reader": ((), (), None),
    "personal": (("personal_data",), (), None),
    "centre": (("write", "personal_data", "dispatch"), (), None),
    "police-key": (("write", "personal_data"), (), "police"),
    "filer": (("write",), (), None),
    "hotline": (("write",), ("12345热线",), None),
}


@dataclass
class World:
    app: Flask
    svc: ComplaintService
    clock: Clock
    police_case: Case
    city_case: Case
    keys: dict[str, str] = field(default_factory=dict)  # name → Authorization header
    _clients: dict[str, tuple[FlaskClient, dict[str, str]]] = field(default_factory=dict)

    def client(self, who: str) -> tuple[FlaskClient, dict[str, str]]:
        """A client and the headers to send for ``who``: ``anonymous``, a user name (signed in
        through the login page, with a CSRF header for writes) or ``key:NAME``."""
        if who not in self._clients:
            client = self.app.test_client()
            headers: dict[str, str] = {}
            if who.startswith("key:"):
                headers["Authorization"] = self.keys[who[4:]]
            elif who != "anonymous":
                headers["X-CSRFToken"] = sign_in(client, who)
            self._clients[who] = (client, headers)
        return self._clients[who]

    def get(self, who: str, path: str, **kw):
        client, headers = self.client(who)
        return client.get(path, headers={**headers, **kw.pop("headers", {})}, **kw)

    def post(self, who: str, path: str, **kw):
        client, headers = self.client(who)
        return client.post(path, headers={**headers, **kw.pop("headers", {})}, **kw)

    def audit(self, action: str = "case") -> list:
        """Audit entries of ``action`` (and its sub-actions), newest first."""
        return self.svc.store.audit_entries(action=action, limit=10_000)

    def refreshed(self, case: Case) -> Case:
        found = self.svc.store.complaint(case.id)
        assert found is not None
        return found


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login page; the CSRF token of the new session."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _token(client.get("/login").text)},
    )
    assert response.status_code == 302, response.text
    return _token(client.get("/").text)  # signing in starts a new session: a fresh token


@pytest.fixture
def world(fresh_app, demo_grids, tmp_path) -> World:
    clock = Clock("2025-09-29T09:00:00+08:00")
    svc = install(fresh_app, clock, photo_dir=tmp_path / "photos")
    store = svc.store
    for username, (role, department) in USERS.items():
        create_user(store, username, username, PASSWORD, role, department)
    keys = {}
    grants = fresh_app.extensions["redgrid"].grants
    from services.callers import system

    for name, (scopes, sources, department) in KEYS.items():
        _, header = api_key(fresh_app, *scopes, name=name)
        keys[name] = header
        for source in sources:
            grants.grant(system(), f"api_key:{name}", "source", source)
        if department:
            grants.grant(system(), f"api_key:{name}", "department", department)
    code = grid_of_kind(demo_grids, "urban")
    police = file_at(
        svc,
        demo_grids,
        code,
        "scope-police",
        "2025-09-29 08:30",
        category="noise",
        source=SOURCE,
        text=TEXT,
        address=ADDRESS,
        reporter_name=REPORTER,
        reporter_phone=REPORTER_PHONE,
    )
    police = step(svc, clock, police, "2025-09-29T10:00:00+08:00", "dispatch", note=NOTE)
    city = file_at(
        svc,
        demo_grids,
        code,
        "scope-city",
        "2025-09-29 08:40",
        category="rubbish",
        source=SOURCE,
        text="垃圾堆放三天无人清理",
        reporter_name="李先生",
        reporter_phone="13600136000",
    )
    city = step(svc, clock, city, "2025-09-29T10:05:00+08:00", "dispatch")
    assert (police.department_code, city.department_code) == ("police", "urban_management")
    return World(fresh_app, svc, clock, police, city, keys)
