"""Browser tests: the app served on a free loopback port, driven by Playwright in Debian's Chromium.

Every page test records each request the page makes and each console message, so a
test can assert that nothing left localhost and that the console stayed clean, and
saves a screenshot under tests/artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from webmap import create_app

CHROMIUM = os.environ.get("REDGRID_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


@dataclass
class LiveServer:
    url: str
    app: object


@pytest.fixture(scope="session")
def live_server(demo_template, tmp_path_factory):
    """The demo app (with demo complaints) on a free port, for the whole session."""
    root = tmp_path_factory.mktemp("live")
    db = root / "redgrid.db"
    with contextlib.closing(sqlite3.connect(demo_template.path)) as src, \
            contextlib.closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "CACHE_DIR": str(demo_template.cache_dir),
                      "SECRET_KEY": "browser-tests", "ACTIVE_TTL_S": 0.0})
    from webmap.users import create_user

    store = app.extensions["redgrid"].store
    create_user(store, "dispatcher", "王调度", "dispatcher-pass-123", "dispatcher")
    create_user(store, "planner", "李研判", "planner-pass-123", "planner")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; install it with `apt-get install -y chromium` "
                           "(scripts/install-test-deps) or set REDGRID_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@dataclass
class Recorded:
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def foreign(self, base: str) -> list[str]:
        """Requests to any host other than the app's own."""
        return [u for u in self.requests if not (u.startswith(base) or u.startswith("data:")
                                                  or u.startswith("blob:") or u == "about:blank")]

    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser context and page, recording requests and console messages."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    record = Recorded()
    page.on("request", lambda r: record.requests.append(r.url))
    page.on("console", lambda m: record.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: record.page_errors.append(str(e)))
    page.record = record
    page.base = live_server.url
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


def login(page, username: str, password: str) -> None:
    page.goto(f"{page.base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def assert_clean(page) -> None:
    """No request left localhost and the console showed no errors."""
    foreign = page.record.foreign(page.base)
    assert foreign == [], f"requests to other hosts: {foreign}"
    errors = page.record.errors()
    assert errors == [], f"console errors: {errors}"


def keep_screenshot(name: str, target_dir: Path) -> None:
    """Copy a saved screenshot somewhere else (e.g. docs/screenshots) when asked to."""
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCREENSHOTS / f"{name}.png", target_dir / f"{name}.png")
