"""What the browser tests and ``scripts/screenshots.py`` share: Chromium, the app on a port, the record.

No pytest here: the docs command imports this module outside a test session.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = os.environ.get("REDGRID_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 900}
LOCALE = "zh-CN"
USERS = [
    ("dispatcher", "王调度", "dispatcher-pass-123", "dispatcher"),
    ("planner", "李研判", "planner-pass-123", "planner"),
]


def launch_chromium(playwright):
    """Debian's Chromium, headless (never a browser downloaded by ``playwright install``)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}; install it with `apt-get install -y chromium` "
            "(scripts/install-test-deps) or set REDGRID_CHROMIUM"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def add_users(app) -> None:
    """The two test users (a dispatcher and a planner) with the passwords in ``USERS``."""
    services = app.extensions["redgrid"]
    accounts = getattr(services, "accounts", None)  # the accounts service, as `redgrid users create`
    for username, display_name, password, role in USERS:
        if accounts is not None:
            accounts.create_user(username, display_name, password, role)
        else:  # before the services layer
            from webmap.users import create_user

            create_user(services.store, username, display_name, password, role)


def grid_importer(app):
    """What imports grid files: the grid service (``app.extensions["redgrid"].grids``, or the
    extension itself before the services layer)."""
    services = app.extensions["redgrid"]
    return services if hasattr(services, "import_file") else services.grids


def serve(app):
    """Serve ``app`` on a free loopback port in a thread: (server, base URL); call server.shutdown()."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@dataclass
class Recorded:
    """Every request a page made and every console message and page error it showed."""

    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def foreign(self, base: str) -> list[str]:
        """Requests to any host other than the app's own."""
        return [
            u
            for u in self.requests
            if not (
                u.startswith(base) or u.startswith("data:") or u.startswith("blob:") or u == "about:blank"
            )
        ]

    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"] + self.page_errors


def new_recorded_page(browser, base: str, **options):
    """A fresh context and page that records requests and console messages (``page.record``);
    ``options`` go to ``new_context`` (a phone: viewport, has_touch, geolocation, ...)."""
    context = browser.new_context(**{"viewport": VIEWPORT, "locale": LOCALE, **options})
    page = context.new_page()
    record = Recorded()
    page.on("request", lambda r: record.requests.append(r.url))
    page.on("console", lambda m: record.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: record.page_errors.append(str(e)))
    page.record = record
    page.base = base
    return context, page


def assert_clean(page) -> None:
    """No request left localhost and the console showed no errors."""
    foreign = page.record.foreign(page.base)
    assert foreign == [], f"requests to other hosts: {foreign}"
    errors = page.record.errors()
    assert errors == [], f"console errors: {errors}"
