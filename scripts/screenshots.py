#!/usr/bin/env python
"""The docs' screenshots: docs/screenshots/{dispatcher,grids,planner}.png, taken in Debian's Chromium.

    .venv/bin/python scripts/screenshots.py                 # all three, into docs/screenshots/
    .venv/bin/python scripts/screenshots.py planner --out /tmp/shots

Loads the bundled demo (``redgrid demo load --complaints 3000``) into a temporary SQLite
database, serves it on a free loopback port, and drives the pages with the browser tests' page
objects (tests/browser/pages.py). A picture is written only if its page made no request to
another host and logged no console error. The tests never write these files.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser.harness import add_users  # noqa: E402
from tests.browser.harness import assert_clean  # noqa: E402
from tests.browser.harness import launch_chromium  # noqa: E402
from tests.browser.harness import new_recorded_page  # noqa: E402
from tests.browser.harness import serve  # noqa: E402
from tests.browser.pages import DispatcherPage  # noqa: E402
from tests.browser.pages import GridsPage  # noqa: E402
from tests.browser.pages import LoginPage  # noqa: E402
from tests.browser.pages import PlannerPage  # noqa: E402

ADDRESS = "奇槎大道38号"  # an address of the demo gazetteer


def dispatcher(page) -> None:
    """A dispatcher (phones in full) who looked up an address."""
    LoginPage(page).login("dispatcher", "dispatcher-pass-123")
    DispatcherPage(page).open({"q": ADDRESS}).wait_located()
    page.wait_for_timeout(300)  # let the fitBounds animation settle


def grids(page) -> None:
    """The overview as anyone sees it, fitted to the town."""
    GridsPage(page).open().settle()


def planner(page) -> None:
    """The planner's default layer with the popup of the busiest grid."""
    LoginPage(page).login("planner", "planner-pass-123")
    planner = PlannerPage(page).open()
    i, _code = planner.busiest_grid()
    planner.open_popup_of(i)
    planner.frame_popup_for_picture(i)


SHOTS = {"dispatcher": dispatcher, "grids": grids, "planner": planner}


def demo_config(root: Path) -> dict:
    """The demo loaded into ``root`` through the ``redgrid`` command; the app's config for it."""
    config = {
        "DATABASE_URL": f"sqlite:///{root / 'redgrid.db'}",
        "CACHE_DIR": str(root / "cache"),
        "SECRET_KEY": "docs-screenshots",
        "ACTIVE_TTL_S": 0.0,
    }
    env = {**os.environ, **{f"REDGRID_{k}": str(v) for k, v in config.items()}}
    redgrid = Path(sys.executable).parent / "redgrid"
    if not redgrid.exists():
        found = shutil.which("redgrid")
        if found is None:
            raise SystemExit("the `redgrid` command is not installed; run `make install` first")
        redgrid = Path(found)
    done = subprocess.run(
        [str(redgrid), "demo", "load", "--complaints", "3000"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"redgrid demo load failed:\n{done.stdout}\n{done.stderr}")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"which pictures ({', '.join(SHOTS)}); all by default"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="where to write them")
    args = parser.parse_args(argv)
    names = args.names or list(SHOTS)
    unknown = sorted(set(names) - set(SHOTS))
    if unknown:
        parser.error(f"unknown picture(s) {', '.join(unknown)}; choose from {', '.join(SHOTS)}")

    from playwright.sync_api import sync_playwright

    from webmap import create_app

    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    with tempfile.TemporaryDirectory(prefix="redgrid-screenshots-") as tmp:
        print("loading the demo …", flush=True)
        app = create_app(demo_config(Path(tmp)))
        add_users(app)
        server, url = serve(app)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                for name in names:
                    context, page = new_recorded_page(browser, url)
                    try:
                        SHOTS[name](page)
                        assert_clean(page)
                        target = args.out / f"{name}.png"
                        partial = target.with_name(f".{name}.png.part")
                        page.screenshot(path=str(partial), type="png")
                        partial.replace(target)
                        print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
                    finally:
                        context.close()
                browser.close()
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
