"""Apps and command lines on fresh SQLite databases loaded with the bundled Dali demo.

Use it from a test module with ``pytest_plugins = ["tests.apps"]``.

The demo is loaded once per session the way a user loads it, with ``redgrid demo load``
run through click's ``CliRunner``, into a template database. Tests then get:

* ``demo_client`` / ``demo_app``: session-scoped, on the template itself. **Read only**:
  never import, activate, create keys or rosters through them.
* ``demo_db`` (and ``fresh_app`` / ``fresh_client``): a private copy of the template for one
  test, to change at will (versions, API keys, rosters).
* ``empty_db``: a database with nothing in it yet (for tests of ``demo load`` itself).
* ``demo_grids``: the bundled grid file as a GeoDataFrame, sorted by code (the independent
  truth the answers are checked against), and ``reseeded_grids_file``: the demo grids
  generated again with another seed, for tests of a second version.

The look-up-table cache is shared by all databases of a session: its key names the
version, the file's hash, the grid count and the near distance, so equal keys mean equal tables.

Test modules import helpers from here before pytest loads it as a plugin, so pytest cannot
rewrite its asserts (PYTEST_DONT_REWRITE says so, instead of a warning); the helpers spell out
their own failure messages.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from click.testing import CliRunner
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from cli import main
from webmap import create_app

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO_ROOT / "data"
DEMO_GRIDS = DEMO_DIR / "shapes" / "dali-demo-grids.geojson"
DEMO_OUTLINE = DEMO_DIR / "shapes" / "dali-demo-outline.geojson"
DEMO_COMMUNITIES = DEMO_DIR / "communities.csv"
DEMO_ROSTER = DEMO_DIR / "officials" / "dali-demo-roster.csv"
DEMO_TOWN = "440605125"
DEMO_GRID_COUNT = 309
DEMO_COMMUNITY_COUNT = 43
RESEED = 7  # the seed of the "second version" of the demo grids (the bundled file used 2024)


@dataclass(frozen=True)
class Db:
    """One SQLite database file with the config to open an app or the command line on it."""

    path: Path
    cache_dir: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "TESTING": True,
            "DATABASE_URL": self.url,
            "CACHE_DIR": str(self.cache_dir),
            "SECRET_KEY": "test-secret",  # keeps the tests from writing one into ./instance
            "ACTIVE_TTL_S": 0.0,  # the command line and the app share the database: no stale state
            **extra,
        }

    def app(self, **extra: Any) -> Flask:
        return create_app(self.config(**extra))

    def cli(self, *args: str, input: str | bytes | None = None, **extra: Any) -> Result:
        """Run ``redgrid ARGS`` on this database (stdout and stderr kept apart)."""
        return run_cli(self.config(**extra), args, input=input)


def run_cli(config: dict[str, Any], args: Sequence[str], *, input: str | bytes | None = None) -> Result:
    """``redgrid ARGS`` through click's runner, on services built from ``config``."""
    runner = CliRunner()
    return runner.invoke(main, list(args), obj=dict(config), input=input, catch_exceptions=True)


def cli_ok(result: Result) -> Result:
    """The result, after checking the command succeeded (with its output if it did not)."""
    if result.exit_code != 0:
        raise AssertionError(
            f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"exception: {result.exception!r}"
        )
    return result


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Db:
    root = tmp_path_factory.mktemp("demo-template")
    db = Db(root / "redgrid.db", tmp_path_factory.getbasetemp() / "lut-cache")
    cli_ok(db.cli("demo", "load", "--complaints", "3000"))
    return db


@pytest.fixture(scope="session")
def demo_app(demo_template: Db) -> Flask:
    """An app on the shared demo database; read only (see the module docstring)."""
    return demo_template.app()


@pytest.fixture
def demo_client(demo_app: Flask) -> FlaskClient:
    return demo_app.test_client()


@pytest.fixture
def demo_db(demo_template: Db, tmp_path: Path) -> Db:
    """A private copy of the loaded demo database, for tests that change it."""
    db = Db(tmp_path / "redgrid.db", demo_template.cache_dir)
    # SQLite's backup API, not a file copy: the template runs in WAL mode, and pages still in its
    # -wal file (the app holding it open has not checkpointed) would be missing from a copy
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    return db


@pytest.fixture
def fresh_app(demo_db: Db) -> Flask:
    return demo_db.app()


@pytest.fixture
def fresh_client(fresh_app: Flask) -> FlaskClient:
    return fresh_app.test_client()


@pytest.fixture
def empty_db(tmp_path: Path, demo_template: Db) -> Db:
    """A database with nothing loaded (its schema is made on first use)."""
    return Db(tmp_path / "empty.db", demo_template.cache_dir)


@pytest.fixture(scope="session")
def demo_grids() -> gpd.GeoDataFrame:
    return read_grids(DEMO_GRIDS)


def read_grids(path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(path)
    frame["code"] = frame["code"].astype(str)
    frame["community_code"] = frame["community_code"].astype(str)
    return frame.sort_values("code").reset_index(drop=True)


@pytest.fixture(scope="session")
def reseeded_grids_file(tmp_path_factory) -> Path:
    """The demo grids generated again (same outline and communities, seed ``RESEED``)."""
    root = tmp_path_factory.mktemp("reseeded")
    out = root / f"dali-grids-seed{RESEED}.geojson"
    # flask wraps every command in an app context, so even this one opens a (throwaway) database
    scratch = Db(root / "scratch.db", root / "cache")
    cli_ok(
        scratch.cli(
            "generate",
            "grids",
            "--communities",
            str(DEMO_COMMUNITIES),
            "--outline",
            str(DEMO_OUTLINE),
            "--seed",
            str(RESEED),
            "--out",
            str(out),
        )
    )
    return out


@pytest.fixture(scope="session")
def reseeded_grids(reseeded_grids_file: Path) -> gpd.GeoDataFrame:
    return read_grids(reseeded_grids_file)


# --- places in the demo, computed from the files (the truth the answers are checked against) ---


def inside_point(grids: gpd.GeoDataFrame, code: str) -> tuple[float, float]:
    """A point well inside a grid (its representative point)."""
    geom = grids.loc[grids["code"] == code].geometry.iloc[0]
    point = geom.representative_point()
    return float(point.x), float(point.y)


def point_where_versions_differ(
    old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, clearance_m: float = 50.0
) -> tuple[float, float, str, str]:
    """A point inside an old grid and a new grid with different codes, far from the new edges."""
    import shapely

    new_metric = new.to_crs(32649)
    for row in old.itertuples(index=False):
        point = row.geometry.representative_point()
        hits = new.index[new.contains(point)]
        if len(hits) != 1:
            continue
        new_code = new.loc[hits[0], "code"]
        point_m = gpd.GeoSeries([point], crs=4326).to_crs(32649).iloc[0]
        edge_m = shapely.distance(new_metric.geometry.iloc[hits[0]].boundary, point_m)
        if new_code != row.code and edge_m > clearance_m:
            return float(point.x), float(point.y), str(row.code), str(new_code)
    raise AssertionError("no point found where the two grid versions differ")


def create_user(
    store: Any, username: str, display_name: str, password: str, role: str, department_code: str | None = None
) -> int:
    """A user made the way ``redgrid users create`` makes one (through the accounts service)."""
    from services.accounts import AccountService

    return AccountService(store).create_user(username, display_name, password, role, department_code)


def error_of(body: Any) -> Any:
    """The ``error`` member of an RFC 9457 problem (the shape clients of earlier versions read)."""
    return {"error": body["error"]} if isinstance(body, dict) and "error" in body else body


@contextlib.contextmanager
def gunicorn_on(db: Db, tmp_path: Path, env: dict[str, str], *args: str):
    """The service run the production way (``gunicorn -c python:webmap.serving``) on ``db``,
    on a free loopback port, until the block ends; yields the port. ``env`` adds to the
    environment, ``args`` to gunicorn's command line (``-w 1``)."""
    import http.client
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    full_env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "REDGRID_DATABASE_URL": db.url,
        "REDGRID_CACHE_DIR": str(db.cache_dir),
        "REDGRID_INSTANCE_PATH": str(tmp_path / "instance"),
        "REDGRID_SECRET_KEY": "test-secret",
        "REDGRID_ACCESS_LOG": str(tmp_path / "access.log"),
        **env,
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    cmd = [str(gunicorn), "-c", "python:webmap.serving", "-b", f"127.0.0.1:{port}", *args]
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [*cmd, "--no-control-socket", "webmap:create_app()"],
        env=full_env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                conn.close()
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "gunicorn.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
