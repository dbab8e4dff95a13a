"""RedGrid's web adapter: a Flask app whose views parse a request, call one service, render.

``create_app`` is the only way to build the app (no module-level app), so tests,
the command line and production each get their own, configured explicitly. The
services (``services.build``) are built once per app and kept in
``app.extensions["redgrid"]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from services.build import build_services
from services.config import Config
from services.config import default_instance

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
    # the local gazetteer of standard addresses (CSV); default: the bundled demo's
    "GAZETTEER_PATH": None,
    # keys for online geocoders, tried after the gazetteer when set
    "AMAP_KEY": None,
    "TIANDITU_KEY": None,
    # where complaint photos are kept (default: instance/photos)
    "PHOTO_DIR": None,
    # complaint categories, departments and whistle groups (data/catalog by default)
    "CATALOG_DIR": None,
    # base map tiles: none (offline: outlines only), osm, tianditu (needs TIANDITU_KEY), amap (GCJ-02)
    "MAP_TILES": "none",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``REDGRID_*`` environment variables, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True, instance_path=str(default_instance()))
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
    config = Config.from_mapping(app.config, instance=Path(app.instance_path))
    app.extensions["redgrid"] = build_services(config)


def _configure_http(app: Flask) -> None:
    from webmap.maps import tile_origins

    # base tiles other than "none" are images from the tile server: the only other host allowed
    images = " ".join(("'self'", "data:", *tile_origins(app.config["MAP_TILES"])))

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src {images}; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; connect-src 'self'",
        )
        return response


def _register_blueprints(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    from webmap import errors
    from webmap import i18n
    from webmap import open311
    from webmap import pages
    from webmap import planner
    from webmap import users
    from webmap.api import cases as cases_api
    from webmap.api import grids as grids_api
    from webmap.api import stats as stats_api
    from webmap.maps import TILES
    from webmap.maps import configure_assets

    if app.config["MAP_TILES"] not in TILES:
        raise ValueError(f"REDGRID_MAP_TILES={app.config['MAP_TILES']!r}; expected one of {', '.join(TILES)}")
    configure_assets(app.static_url_path)
    errors.init_app(app)
    i18n.init_app(app)
    users.login_manager.init_app(app)
    csrf = CSRFProtect(app)
    app.extensions["redgrid.csrf"] = csrf
    # API clients authenticate with keys, not cookies: only cookie-borne writes need the token
    for blueprint in (grids_api.bp, cases_api.bp, stats_api.bp, open311.bp):
        csrf.exempt(blueprint)
    app.register_blueprint(grids_api.bp, url_prefix="/api/v1")
    app.register_blueprint(cases_api.bp, url_prefix="/api/v1")
    app.register_blueprint(stats_api.bp, url_prefix="/api/v1")
    app.register_blueprint(open311.bp, url_prefix="/open311/v2")
    app.register_blueprint(users.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(planner.bp)
