"""RedGrid's web layer: a thin Flask app that parses requests, calls the core, renders.

``create_app`` is the only way to build the app (no module-level app), so tests,
the command line and production each get their own, configured explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from webmap.grid_service import GridService

DEFAULTS: dict[str, Any] = {
    # the embedded default: SQLite in the instance folder
    "DATABASE_URL": None,
    # a point within this many metres of another grid is flagged near_boundary
    "NEAR_M": 30.0,
    # precomputed lookup table for the active version (cached under the instance folder)
    "USE_LUT": True,
    # seconds a process trusts its idea of the active version before asking the store again
    "ACTIVE_TTL_S": 2.0,
    # largest accepted request body (batch uploads), bytes
    "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``REDGRID_*`` environment variables, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("REDGRID")
    if test_config:
        app.config.from_mapping(test_config)
    _configure_paths(app)
    _configure_json(app)
    _configure_service(app)
    _configure_http(app)
    _register_blueprints(app)
    return app


def _configure_paths(app: Flask) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'redgrid.db'}"
    app.config.setdefault("CACHE_DIR", str(Path(app.instance_path) / "cache"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(instance: Path) -> str:
    """A random per-installation secret kept in the instance folder (never in the repo)."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()


def _configure_json(app: Flask) -> None:
    app.json.ensure_ascii = False  # Chinese names stay readable in API answers
    app.json.sort_keys = False


def _configure_service(app: Flask) -> None:
    from store import open_store

    store = open_store(app.config["DATABASE_URL"], upgrade=app.config.get("AUTO_MIGRATE", True))
    app.extensions["redgrid"] = GridService(
        store,
        near_m=float(app.config["NEAR_M"]),
        cache_dir=Path(app.config["CACHE_DIR"]),
        use_lut=bool(app.config["USE_LUT"]),
        active_ttl_s=float(app.config["ACTIVE_TTL_S"]),
    )


def _configure_http(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'")
        return response


def _register_blueprints(app: Flask) -> None:
    from webmap import api
    from webmap import errors

    errors.init_app(app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
