"""Browser tests: the app served on a free loopback port, driven by Playwright in Debian's Chromium.

Every page test records each request the page makes and each console message, so a
test can assert that nothing left localhost and that the console stayed clean.

Tests write no files of the repository. Only when a test fails is the live page kept, under
the git-ignored tests/artifacts/browser/: a screenshot, its HTML and a log of what the page
asked for and said (see ``pytest_runtest_makereport``). The pictures of the docs are made by
``scripts/screenshots.py``, never by the tests.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.harness import add_users
from tests.browser.harness import assert_clean  # noqa: F401  (the tests import it from here)
from tests.browser.harness import launch_chromium
from tests.browser.harness import new_recorded_page
from tests.browser.harness import serve
from tests.browser.pages import LoginPage
from webmap import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"


@dataclass
class LiveServer:
    url: str
    app: object


def serve_copy_of_demo(demo_template, root: Path, users: bool = True, **config):
    """A private copy of the demo database served on a free port: (server, url, app)."""
    db = root / "redgrid.db"
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db)) as dst,
    ):
        src.backup(dst)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "CACHE_DIR": str(demo_template.cache_dir),
            "SECRET_KEY": "browser-tests",
            "ACTIVE_TTL_S": 0.0,
            **config,
        }
    )
    if users:
        add_users(app)
    server, url = serve(app)
    return server, url, app


@pytest.fixture(scope="session")
def live_server(demo_template, tmp_path_factory):
    """The demo app (with demo complaints) on a free port, for the whole session."""
    server, url, app = serve_copy_of_demo(demo_template, tmp_path_factory.mktemp("live"))
    yield LiveServer(url, app)
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context and page, recording requests and console messages."""
    context, page = new_recorded_page(browser, live_server.url)
    yield page
    context.close()


@pytest.fixture
def api(live_server):
    """GET a JSON answer of the live server's API (Flask's test client): what a page must show."""
    client = live_server.app.test_client()

    def get(url: str) -> dict:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_json())
        return response.get_json()

    return get


def login(page, username: str, password: str) -> None:
    LoginPage(page).login(username, password)


# --- a failing test keeps its page ------------------------------------------------------------------


def _artifact_name(nodeid: str) -> str:
    """``tests/browser/test_x.py::test_y[p]`` → ``test_x__test_y_p``."""
    name = nodeid.split("tests/browser/")[-1].replace(".py::", "__")
    return re.sub(r"[^\w-]+", "_", name).strip("_")


def save_failure_artifacts(page, nodeid: str) -> list[Path]:
    """The page as it is now: a full-page screenshot, its HTML and a log of requests and console."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = _artifact_name(nodeid)
    png, html, log = (ARTIFACTS / f"{name}.{ext}" for ext in ("png", "html", "log"))
    saved = []
    with contextlib.suppress(Exception):
        page.screenshot(path=str(png), full_page=True, timeout=10_000)
        saved.append(png)
    with contextlib.suppress(Exception):
        html.write_text(page.content(), encoding="utf-8")
        saved.append(html)
    record = getattr(page, "record", None)
    if record is not None:
        base = getattr(page, "base", "")
        lines = [f"url: {page.url}", f"base: {base}", "", "console:"]
        lines += [f"  [{kind}] {text}" for kind, text in record.console]
        lines += ["", "page errors:"] + [f"  {e}" for e in record.page_errors]
        lines += ["", "requests to other hosts:"] + [f"  {u}" for u in record.foreign(base)]
        lines += ["", "requests:"] + [f"  {u}" for u in record.requests]
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
        saved.append(log)
    return saved


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails (in its setup or its body), keep its live page before it closes."""
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    page = getattr(item, "funcargs", {}).get("page")
    if page is None or page.is_closed():
        return
    saved = save_failure_artifacts(page, item.nodeid)
    if saved:
        report.sections.append(("browser page at failure", "\n".join(str(p) for p in saved)))
