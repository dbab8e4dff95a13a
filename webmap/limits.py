"""Limits: how much one caller may ask, how big a request may be, how many heavy computations
run at once, and how fast a password may be guessed.

* **Rate limits** (Flask-Limiter) per caller: an API key (by the hash of its token), a
  signed-in user (by id) or, for anonymous callers, the client address. Counters live in
  one store that every gunicorn worker shares: by default a small SQLite file in the
  instance folder (``ratelimit.db``, ``SqliteFileStorage`` below), because RedGrid runs on
  one host and SQLite is already there; ``memory://`` would give each worker its own
  counters (N workers, N times the limit), and Redis would be one more service to run. A
  deployment on several hosts sets ``REDGRID_RATELIMIT_STORAGE_URI=redis://…``. Over the
  limit: 429, an RFC 9457 problem (or the HTML error page) with ``Retry-After``.
* **Body limits** per endpoint (413): a batch of points up to ``BATCH_MAX_BYTES`` (64 MB,
  about 2M points as JSON pairs or 3M as CSV), a complaint import ``IMPORT_MAX_BYTES``,
  photos ``PHOTO_MAX_BYTES``, everything else ``MAX_CONTENT_LENGTH`` (1 MB).
* **Heavy computations** (the statistics API, the planner page and its exports) run at most
  ``HEAVY_CONCURRENCY`` at a time per process, so the other threads stay free for lookups;
  a request that waits longer than ``HEAVY_WAIT_S`` gets 503 with ``Retry-After``. They
  have their own, lower rate limit (``LIMIT_HEAVY``), and statistics answers are cached
  per caller, query and state of the complaint record (``STATS_CACHE_S``).
* **Login throttling**: after a few failures per user name (known or not) or per address,
  each further attempt must wait twice as long as the last (up to ``LOGIN_MAX_DELAY_S``);
  meanwhile the login answers 429 with ``Retry-After`` without checking the password.

Rate limits are on unless ``TESTING`` (tests of other things send many requests from one
address); ``RATELIMIT_ENABLED`` decides either way.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from typing import ClassVar
from urllib.parse import urlsplit

from cachetools import TTLCache
from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask_limiter import Limiter
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from limits import RateLimitItem
from limits import parse
from limits.storage import Storage
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

MB = 1024 * 1024

SETTINGS: dict[str, Any] = {
    # rate limits per caller (limits' notation: "300/minute", "10/second;300/minute")
    "LIMIT_ANONYMOUS": "300/minute",
    "LIMIT_USER": "1200/minute",
    "LIMIT_KEY": "6000/minute",
    "LIMIT_HEAVY": "30/minute",
    # wrong API keys per address (guessing keys)
    "LIMIT_BAD_KEY": "20/minute",
    # progress look-ups (ticket number + phone digits) per address: guessing pairs
    "LIMIT_PROGRESS": "10/minute",
    # request bodies per endpoint (MAX_CONTENT_LENGTH is everything else)
    "BATCH_MAX_BYTES": 64 * MB,
    "IMPORT_MAX_BYTES": 128 * MB,
    "PHOTO_MAX_BYTES": 6 * MB,
    "FORM_PHOTOS_MAX_BYTES": 32 * MB,
    # heavy computations at once per process, and how long a request waits for a turn
    "HEAVY_CONCURRENCY": 1,
    "HEAVY_WAIT_S": 20.0,
    "STATS_CACHE_S": 60.0,
    # login throttling: free failures per user name and per address, then doubling delays
    "LOGIN_FREE_FAILURES": 5,
    "LOGIN_ADDRESS_FREE_FAILURES": 20,
    "LOGIN_MAX_DELAY_S": 900,
    "LOGIN_FAILURE_WINDOW_S": 3600,
}

#: request bodies larger than MAX_CONTENT_LENGTH, by endpoint
BODY_LIMITS = {
    "api.points": "BATCH_MAX_BYTES",
    "complaints_api.import_complaints": "IMPORT_MAX_BYTES",
    "complaints_api.add_photo": "PHOTO_MAX_BYTES",
    "pages.new_complaint": "FORM_PHOTOS_MAX_BYTES",
    "pages.complaint": "FORM_PHOTOS_MAX_BYTES",
    "pages.admin_rosters": "IMPORT_MAX_BYTES",
    "pages.admin_grids_check": "IMPORT_MAX_BYTES",
}
#: endpoints whose computation is bounded per process and rate limited as heavy
HEAVY = (
    "stats_api.stat_counts",
    "stats_api.stat_departments",
    "stats_api.stat_satisfaction",
    "stats_api.stat_overdue",
    "planner.page",
    "planner.export",
    "pages.print_sheet",  # a PDF is laid out and rendered (about 0.1–1 s each)
)
#: heavy endpoints whose answers are cached (per caller, query and complaint-record state)
CACHED = tuple(e for e in HEAVY if e.startswith("stats_api."))


# --------------------------------------------------------------------------- shared storage


class SqliteFileStorage(Storage):
    """Fixed-window counters in a SQLite file, shared by every process on the host.

    ``sqlitefile:///abs/path/ratelimit.db``. One upsert per hit (WAL, no fsync: counters
    need not survive a crash). Expired rows are swept now and then.
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["sqlitefile"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = urlsplit(uri).path
        if not path:
            raise ValueError(f"{uri!r}: expected sqlitefile:///path/to/file.db")
        self.path = Path(path)
        self._local = threading.local()
        self._hits = 0
        self._connect()  # create the file and table now, with private permissions

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
            "expiry REAL NOT NULL)"
        )
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        now = time.time()
        conn = self._connect()
        (count,) = conn.execute(
            "INSERT INTO counters (key, count, expiry) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN counters.expiry <= ?4 THEN ?2 ELSE counters.count + ?2 END, "
            "expiry = CASE WHEN counters.expiry <= ?4 THEN ?3 ELSE counters.expiry END "
            "RETURNING count",
            (key, amount, now + expiry, now),
        ).fetchone()
        self._hits += 1
        if self._hits % 1000 == 0:
            conn.execute("DELETE FROM counters WHERE expiry <= ?", (now,))
        return int(count)

    def get(self, key: str) -> int:
        row = (
            self._connect()
            .execute("SELECT count FROM counters WHERE key = ? AND expiry > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._connect().execute("SELECT expiry FROM counters WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row and row[0] > time.time() else time.time()

    def check(self) -> bool:
        try:
            self._connect().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connect().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._connect().execute("DELETE FROM counters WHERE key = ?", (key,))


# --------------------------------------------------------------------------- who is counted


def address() -> str:
    """The client address (``request.remote_addr``; behind a proxy, what ProxyFix made of it)."""
    return request.remote_addr or "unknown"


def _presented_token() -> str | None:
    from webmap.auth import presented_token

    return presented_token()


def rate_key() -> str:
    """Who a request is counted against: its API key (the token's hash, never the token), the
    signed-in user, or the client address."""
    token = _presented_token()
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"addr:{address()}"


def _caller_limit() -> str:
    kind = rate_key().split(":", 1)[0]
    name = {"key": "LIMIT_KEY", "user": "LIMIT_USER"}.get(kind, "LIMIT_ANONYMOUS")
    return current_app.config[name]


class TooMany(TooManyRequests):
    """429 with a Retry-After of ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class Busy(ServiceUnavailable):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def limiter() -> Limiter:
    return current_app.extensions["redgrid.limiter"]


def hit(limit: str, *identity: str) -> None:
    """Count one hit of ``limit`` against ``identity``; TooMany when it is used up."""
    ext = limiter()
    if not ext.enabled:
        return
    for item in parse_many(limit):
        if not ext.limiter.hit(item, "redgrid", *identity):
            reset, _ = ext.limiter.get_window_stats(item, "redgrid", *identity)
            raise TooMany(f"too many requests: at most {item}", reset - time.time())


def parse_many(text: str) -> list[RateLimitItem]:
    return [parse(part.strip()) for part in text.split(";") if part.strip()]


class LeanLimit:
    """The anonymous caller's rate limit for a request answered in front of Flask (the lean
    single lookup, ``webmap.api.grids.LeanPoint``).

    It counts in the limiter's own storage under the key Flask-Limiter gives the application
    limit (``addr:<address>`` in the scope ``global``), so a caller has one budget whichever
    path answers, every worker's together. The address is the one ProxyFix would give Flask
    when it sits right below (``TRUSTED_PROXIES``).

    One storage increment (a SQLite write) costs more than the lookup it guards, so a caller
    who keeps asking takes hits in leases: the first request of a caller (or after a quiet
    second) counts one, and each lease used up within a second doubles the next, up to 1/64
    of the smallest limit (``LEASE_SHARE``) and ``LEASE_MAX``. A lease is counted in the shared
    storage when taken and spent locally for at most ``LEASE_S``; what is left unspent is lost,
    never given: a worker lets through no more than it counted, so the limit holds for all
    workers together (slow callers and small limits lease one at a time, as before). A lease
    that does not fit in the budget is refused whole, and Flask answers the request (429).
    """

    LEASE_SHARE = 64
    LEASE_MAX = 1024
    LEASE_S = 1.0

    def __init__(self, app: Flask, below: Any) -> None:
        self.app = app
        self.below = below  # the WSGI app under the lean path: ProxyFix, when proxies are trusted
        self._parsed: tuple[str, list[RateLimitItem], int] = ("", [], 1)
        # key -> [hits left, taken at (monotonic), size]
        self._leases: TTLCache[str, list] = TTLCache(maxsize=65536, ttl=2 * self.LEASE_S)
        self._lock = threading.Lock()

    def admit(self, environ: dict) -> bool:
        """Count one request; False when the caller's budget is spent (or cannot be counted here)."""
        ext = self.app.extensions.get("redgrid.limiter")
        if ext is None or not ext.enabled:
            return True
        text = self.app.config["LIMIT_ANONYMOUS"]
        if self._parsed[0] != text:
            items = parse_many(text)
            cap = max(1, min([self.LEASE_MAX, *(item.amount // self.LEASE_SHARE for item in items)]))
            self._parsed = (text, items, cap)
        _, items, cap = self._parsed
        key = "addr:" + self.address(environ)
        now = time.monotonic()
        with self._lock:
            if self._spend(key, now):
                return True
            lease = self._leases.get(key)
            quick = lease is not None and now - lease[1] < self.LEASE_S
            size = min(lease[2] * 2, cap) if quick and lease is not None else 1
        try:
            granted = all(ext.limiter.hit(item, key, "global", cost=size) for item in items)
        except Exception:  # a storage fault: Flask-Limiter decides (and reports) as it would
            return False
        if not granted:
            return False
        with self._lock:
            self._leases[key] = [size - 1, now, size]
        return True

    def admit_leased(self, environ: dict) -> bool:
        """Count one request only if it needs no storage write: limits off, or a hit left in the
        caller's lease. False means "ask ``admit``" (off the server's event loop: a storage write
        may wait on a lock), not a refusal."""
        ext = self.app.extensions.get("redgrid.limiter")
        if ext is None or not ext.enabled:
            return True
        with self._lock:
            return self._spend("addr:" + self.address(environ), time.monotonic())

    def _spend(self, key: str, now: float) -> bool:
        """One hit from the caller's lease, if it has one left and it is fresh (lock held)."""
        lease = self._leases.get(key)
        if lease is not None and lease[0] > 0 and now - lease[1] < self.LEASE_S:
            lease[0] -= 1
            return True
        return False

    def address(self, environ: dict) -> str:
        proxy = self.below
        if isinstance(proxy, ProxyFix) and proxy.x_for:
            real = proxy._get_real_value(proxy.x_for, environ.get("HTTP_X_FORWARDED_FOR"))
            if real:
                return str(real)
        return environ.get("REMOTE_ADDR") or "unknown"


# --------------------------------------------------------------------------- login throttling


class LoginThrottle:
    """Failed sign-ins per user name and per address, in the limiter's shared storage.

    After ``free`` failures within the window, the next attempt must wait 1 s, then 2, 4, …
    up to ``max_delay``. The same rule holds for names that do not exist, so the throttle
    does not tell them apart either.
    """

    def __init__(self, app: Flask) -> None:
        self.config = app.config

    def _storage(self) -> Storage | None:
        ext = limiter()
        return ext.storage if ext.enabled else None

    def _subjects(self, username: str) -> list[tuple[str, int]]:
        name = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
        return [
            (f"login:user:{name}", int(self.config["LOGIN_FREE_FAILURES"])),
            (f"login:addr:{address()}", int(self.config["LOGIN_ADDRESS_FREE_FAILURES"])),
        ]

    def check(self, username: str) -> None:
        """TooMany while the user name or the address must wait."""
        storage = self._storage()
        if storage is None:
            return
        for subject, _free in self._subjects(username):
            if storage.get(subject + ":wait") > 0:
                wait = storage.get_expiry(subject + ":wait") - time.time()
                raise TooMany("too many failed sign-ins; try again later", wait)

    def failed(self, username: str) -> None:
        storage = self._storage()
        if storage is None:
            return
        window = int(self.config["LOGIN_FAILURE_WINDOW_S"])
        for subject, free in self._subjects(username):
            failures = storage.incr(subject, window)
            if failures >= free:
                delay = min(2 ** (failures - free), int(self.config["LOGIN_MAX_DELAY_S"]))
                storage.clear(subject + ":wait")
                storage.incr(subject + ":wait", delay)

    def succeeded(self, username: str) -> None:
        storage = self._storage()
        if storage is None:
            return
        subject, _ = self._subjects(username)[0]
        storage.clear(subject)
        storage.clear(subject + ":wait")


def login_throttle() -> LoginThrottle:
    return current_app.extensions["redgrid.login_throttle"]


# --------------------------------------------------------------------------- heavy computations


class HeavyGate:
    """At most ``n`` heavy computations at once in this process; others wait their turn."""

    def __init__(self, n: int, wait_s: float, cache_s: float) -> None:
        self.semaphore = threading.BoundedSemaphore(max(1, n))
        self.wait_s = wait_s
        self.cache: TTLCache[tuple, Response] = TTLCache(maxsize=256, ttl=max(cache_s, 0.001))
        self.cache_on = cache_s > 0
        self.lock = threading.Lock()

    def run(self, view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self.semaphore.acquire(timeout=self.wait_s):
            raise Busy("the server is busy with other statistics; try again shortly", self.wait_s)
        try:
            return view(*args, **kwargs)
        finally:
            self.semaphore.release()


def _stats_cache_key() -> tuple | None:
    """Statistics depend on the query, the caller (scope) and the complaint record; ``now``
    (overdue counts) by the minute. CSV downloads are not cached (each is an export)."""
    if request.args.get("format") == "csv":
        return None
    from webmap.auth import caller
    from webmap.auth import services

    who = caller()
    svc = services()
    return (
        request.endpoint,
        tuple(sorted(request.args.items(multi=True))),
        who.kind,
        who.name,
        who.role,
        who.department_code,
        tuple(sorted(who.scopes)),
        svc.store.complaints_stamp(),
        svc.cases.now().replace(second=0, microsecond=0),
    )


def _heavy(view: Callable[..., Any], endpoint: str) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        hit(current_app.config["LIMIT_HEAVY"], "heavy", rate_key())
        gate: HeavyGate = current_app.extensions["redgrid.heavy"]
        key = _stats_cache_key() if gate.cache_on and endpoint in CACHED else None
        if key is not None:
            with gate.lock:
                cached = gate.cache.get(key)
            if cached is not None:
                return _copy(cached)
        response = current_app.make_response(gate.run(view, *args, **kwargs))
        if key is not None and response.status_code == 200 and not response.is_streamed:
            with gate.lock:
                gate.cache[key] = _copy(response)
        return response

    return wrapped


def _copy(response: Response) -> Response:
    return Response(response.get_data(), status=response.status, headers=list(response.headers.items()))


# --------------------------------------------------------------------------- wiring


def _retry_after(exc: HTTPException) -> int | None:
    if isinstance(exc, TooMany | Busy):
        return exc.retry_after
    if isinstance(exc, RateLimitExceeded):
        current = limiter().current_limit
        if current is not None:
            return max(1, math.ceil(current.window[0] - time.time()))
        return 60
    return None


def _limit_body() -> None:
    """The body limit of this endpoint; a declared length over it is refused at once (413),
    before any work; a chunked body is cut off when it reaches the limit."""
    name = BODY_LIMITS.get(request.endpoint or "")
    if name is not None:
        request.max_content_length = int(current_app.config[name])
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the request body is larger than this endpoint takes ({limit:,} bytes)")


def init_app(app: Flask) -> None:
    """The limiter, its error answers and the per-endpoint body limits (before the blueprints)."""
    for name, value in SETTINGS.items():
        app.config.setdefault(name, value)
    if app.config.get("RATELIMIT_ENABLED") is None:
        app.config["RATELIMIT_ENABLED"] = not app.config.get("TESTING", False)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = f"sqlitefile:///{Path(app.instance_path) / 'ratelimit.db'}"
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    # application limits: one budget per caller over every endpoint (default limits would
    # give each endpoint its own)
    ext = Limiter(rate_key, app=app, application_limits=[_caller_limit], headers_enabled=False)
    app.extensions["redgrid.limiter"] = ext
    app.extensions["redgrid.login_throttle"] = LoginThrottle(app)
    app.extensions["redgrid.heavy"] = HeavyGate(
        int(app.config["HEAVY_CONCURRENCY"]),
        float(app.config["HEAVY_WAIT_S"]),
        float(app.config["STATS_CACHE_S"]),
    )
    app.before_request(_limit_body)
    for cls in (TooMany, Busy, RateLimitExceeded):
        app.register_error_handler(cls, _render_limit)


def _render_limit(exc: HTTPException) -> Response:
    """A 429 or 503 as every other error (problem details, Open311's list or the HTML page),
    with the seconds to wait in ``Retry-After``."""
    from webmap import errors

    response = current_app.make_response(errors.render(exc))
    seconds = _retry_after(exc)
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


def wrap_heavy_views(app: Flask) -> None:
    """After the blueprints: the heavy endpoints behind the per-process gate and cache."""
    for endpoint in HEAVY:
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = _heavy(view, endpoint)


__all__ = [
    "BODY_LIMITS",
    "HEAVY",
    "SETTINGS",
    "Busy",
    "HeavyGate",
    "LeanLimit",
    "LoginThrottle",
    "SqliteFileStorage",
    "TooMany",
    "hit",
    "init_app",
    "login_throttle",
    "rate_key",
    "wrap_heavy_views",
]
