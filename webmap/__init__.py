"""RedGrid's web adapter: a Flask app whose views parse a request, call one service, render.

``create_app`` is the only way to build the app (no module-level app), so tests,
the command line and production each get their own, configured explicitly. The
services (``services.build``) are built once per app and kept in
``app.extensions["redgrid"]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask import g
from flask import has_request_context
from flask import request
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import WSGIRequestHandler

from services.build import build_services
from services.config import Config
from services.config import default_instance
from webmap import limits
from webmap.i18n import translate

DEFAULTS: dict[str, Any] = {
    # the embedded default: SQLite in the instance folder
    "DATABASE_URL": None,
    # a point within this many metres of another grid is flagged near_boundary
    "NEAR_M": 30.0,
    # precomputed lookup table for the active version (cached under the instance folder)
    "USE_LUT": True,
    # seconds a process trusts its idea of the active version before asking the store again
    "ACTIVE_TTL_S": 2.0,
    # largest accepted request body, bytes; larger per endpoint (batch, imports, photos):
    # webmap.limits.BODY_LIMITS and its settings BATCH_MAX_BYTES (64 MB), IMPORT_MAX_BYTES, ...
    "MAX_CONTENT_LENGTH": 1024 * 1024,
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
    # None: Secure exactly when the request came over HTTPS (behind a proxy: TRUSTED_PROXIES)
    "SESSION_COOKIE_SECURE": None,
    # idle timeout of a signed-in session, seconds (each request renews it)
    "PERMANENT_SESSION_LIFETIME": 30 * 60,
    "WTF_CSRF_TIME_LIMIT": None,
    # how many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: none, trust nothing)
    "TRUSTED_PROXIES": 0,
    # files the service creates (database, photos, secret key) are private to its user
    "UMASK": 0o077,
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``REDGRID_*`` environment variables, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True, instance_path=str(default_instance()))
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("REDGRID")
    if test_config:
        app.config.from_mapping(test_config)
    if app.config.get("UMASK") is not None:
        os.umask(int(app.config["UMASK"]))
    _configure_paths(app)
    _configure_json(app)
    _configure_service(app)
    _protect_files(app)
    _configure_http(app)
    limits.init_app(app)
    _register_blueprints(app)
    limits.wrap_heavy_views(app)
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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "w") as out:
            out.write(os.urandom(32).hex())
    path.chmod(0o600)
    return path.read_text().strip()


def _protect_files(app: Flask) -> None:
    """The instance folder 0700; the SQLite database (and its -wal/-shm), the secret key, the
    photos and the rate-limit counters 0600, also when an older version left them readable."""
    instance = Path(app.instance_path)
    instance.chmod(0o700)
    services = app.extensions["redgrid"]
    private = [instance / "secret_key", instance / "ratelimit.db"]
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        db = Path(url.removeprefix("sqlite:///"))
        private += [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    photos = services.config.photo_dir
    if photos is not None:
        photos = Path(photos)
        photos.mkdir(parents=True, exist_ok=True)
        photos.chmod(0o700)
        private += [p for p in photos.iterdir() if p.is_file()]
    for path in private:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


def _configure_json(app: Flask) -> None:
    app.json.ensure_ascii = False  # Chinese names stay readable in API answers
    app.json.sort_keys = False


def _configure_service(app: Flask) -> None:
    config = Config.from_mapping(app.config, instance=Path(app.instance_path))
    app.extensions["redgrid"] = build_services(config, translate=translate)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookies; ``SESSION_COOKIE_SECURE=None`` means Secure over HTTPS only."""

    def get_cookie_secure(self, app: Flask) -> bool:
        value = app.config.get("SESSION_COOKIE_SECURE")
        if value is None:
            return bool(has_request_context() and request.is_secure)
        return bool(value)


def csp_nonce() -> str:
    """This response's script nonce (made on first use; the CSP names it)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _configure_http(app: Flask) -> None:
    from webmap.maps import tile_origins
    from webmap.maps.base import with_nonce

    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:  # the client's address and scheme as the proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    app.session_interface = _SessionInterface()
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # folium's maps are rendered once and cached; their inline scripts get this response's nonce
    app.jinja_env.filters["nonced"] = lambda html: Markup(with_nonce(str(html), csp_nonce()))
    _quiet_werkzeug_log()

    # base tiles other than "none" are images from the tile server: the only other host allowed
    images = " ".join(("'self'", "data:", *tile_origins(app.config["MAP_TILES"])))

    @app.after_request
    def _headers(response):
        scripts = "'self'" + (f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src {images}; style-src 'self' 'unsafe-inline'; "
            f"script-src {scripts}; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        return response


class _RedactSecrets(logging.Filter):
    """Access-log lines without secrets: ``api_key=…`` and the like in a logged URL become
    ``api_key=[redacted]`` (the Open311 key may arrive in a query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_SECRET_PARAM = re.compile(r"(?i)([?&;](?:api_key|apikey|key|token|access_token|password)=)[^&;\s\"']*")


def redact(text: str) -> str:
    """``text`` with the values of secret-looking query parameters replaced."""
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


def _quiet_werkzeug_log() -> None:
    """The development server (``redgrid run``): no keys in its log, no versions in its
    ``Server`` header (gunicorn's says only "gunicorn")."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
        logger.addFilter(_RedactSecrets())
    WSGIRequestHandler.version_string = lambda self: "RedGrid"  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    from webmap import errors
    from webmap import i18n
    from webmap import ogcapi
    from webmap import open311
    from webmap import pages
    from webmap import planner
    from webmap import users
    from webmap.api import cases as cases_api
    from webmap.api import grids as grids_api
    from webmap.api import openapi
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
    app.register_blueprint(openapi.bp, url_prefix="/api")  # after the API: it wraps their views
    app.register_blueprint(ogcapi.bp, url_prefix="/ogcapi")
    app.register_blueprint(open311.bp, url_prefix="/open311/v2")
    app.register_blueprint(users.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(planner.bp)
