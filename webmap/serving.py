"""Serving RedGrid in production with gunicorn: ``gunicorn -c python:webmap.serving 'webmap:create_app()'``.

This module is gunicorn's configuration (its upper-level names are gunicorn settings) and
holds the two classes it names:

* ``HeaderBufferingWorker``, gunicorn's threaded worker (``gthread``) that reads request
  headers in its event loop, without blocking, and hands a connection to a thread only once
  its headers are complete. With the stock ``gthread`` (and the ``sync`` worker), a client
  that sends its headers a byte at a time holds a thread until it finishes, so a handful of
  slow clients (4 against ``-w 2`` sync workers, 16 against ``-w 2 --threads 8``) leave
  nothing to answer anyone else. Here a slow client costs a socket and a buffer, and a
  client that has not sent its headers within ``HEADER_TIMEOUT_S`` is dropped; threads
  only ever wait on the application. (Request bodies are read by the application thread:
  a client that trickles a body still holds a thread, for at most ``timeout`` seconds.)
  The same loop answers the hot path of other systems itself: a plain anonymous
  ``GET /api/v1/point/...`` (``plain_get``: one complete request, no body, cookie, key or
  query) is handed to the app's lean lookup (``webmap.api.grids.LeanPoint.answer_in_loop``)
  and its answer written straight back, access-logged as any other. A lookup takes tens of
  microseconds, less than handing the connection to a thread and back; what the lean path
  cannot answer from memory (a rate-limit lease to take, an error, the first request, which
  teaches it the app's headers) goes to a thread as before.
* ``RedactingLogger``, gunicorn's logger with secrets taken out of the access log: an
  ``api_key=``, ``token=`` or ``key=`` value in a query string is logged as ``[redacted]``.

Threads, not gevent: the statistics and planner computations are CPU-bound numpy/pandas
work that would stall a gevent worker's event loop (every lookup in it waiting), while
threads share the CPU and ``webmap.limits`` bounds how many heavy computations run at once.

Every setting can still be overridden on the command line (``-w 4``, ``-b 0.0.0.0:8000``)
or with ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import os
import selectors
import time
from datetime import timedelta
from email.utils import formatdate
from functools import partial

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

#: a client must have sent its request line and headers within this many seconds
HEADER_TIMEOUT_S = float(os.environ.get("REDGRID_HEADER_TIMEOUT_S", "10"))
#: headers larger than this are handed to gunicorn's parser, which refuses them (431/400)
MAX_HEADER_BYTES = 64 * 1024


def _redact(text: str) -> str:
    from webmap import redact

    return redact(text)


class RedactingLogger(Logger):
    """gunicorn's logger; the access log never holds a key given in a query string."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q", "U", "{raw_uri}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _redact(atoms[name] if name != "q" else "?" + atoms[name])
                if name == "q":
                    atoms[name] = atoms[name][1:]
        return atoms


class HeaderBufferingWorker(ThreadWorker):
    """``gthread`` whose threads never wait for a slow client's headers (see the module text)."""

    def init_process(self) -> None:
        self._heads: dict[int, tuple[object, float, bytearray]] = {}
        cfg, unlimited = self.cfg, 1 << 30  # gunicorn's 0 is "no limit"
        # gunicorn's request limits, which the event loop's answers keep too (``plain_get``)
        self._limits = (
            cfg.limit_request_line or unlimited,
            cfg.limit_request_fields or unlimited,
            cfg.limit_request_field_size or unlimited,
        )
        super().init_process()

    # a new connection, or a kept-alive one that became readable: gather its headers first
    def accept(self, listener) -> None:  # type: ignore[no-untyped-def]
        if self.cfg.is_ssl:
            return super().accept(listener)
        try:
            client, addr = listener.accept()
        except OSError:
            return None
        self.nr_conns += 1
        from gunicorn.workers.gthread import TConn

        conn = TConn(self.cfg, client, addr, listener.getsockname())
        self._gather(conn)
        return None

    def on_client_socket_readable(self, conn, client) -> None:  # type: ignore[no-untyped-def]
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._gather(conn)
        return None

    def _gather(self, conn) -> None:  # type: ignore[no-untyped-def]
        conn.sock.setblocking(False)
        self._heads[conn.sock.fileno()] = (conn, time.monotonic() + HEADER_TIMEOUT_S, bytearray())
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_header_bytes, conn))

    def _on_header_bytes(self, conn, sock) -> None:  # type: ignore[no-untyped-def]
        fd = sock.fileno()
        _, _, buf = self._heads[fd]
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(fd, conn)
            return
        buf += data
        if b"\r\n\r\n" not in buf and len(buf) < MAX_HEADER_BYTES:
            return
        self.poller.unregister(sock)
        del self._heads[fd]
        if self._answer_in_loop(conn, bytes(buf)):
            return
        conn.init()  # the HTTP/1 parser, over a blocking socket
        conn.parser.unreader.unread(bytes(buf))
        conn.data_ready = True
        self.enqueue_req(conn)

    def _answer_in_loop(self, conn, data: bytes) -> bool:  # type: ignore[no-untyped-def]
        """Answer a plain anonymous point lookup here, in the event loop (see the module text);
        False leaves the request to a thread, as any other."""
        lean = getattr(self, "lean", None)
        if lean is None:
            return False
        environ = plain_get(data, conn.client, conn.server, self._limits)
        # only for a connection that stays open: closing one gracefully may wait (a thread's job)
        if (
            environ is None
            or not self.alive
            or self.cfg.keepalive <= 0
            or environ["SERVER_PROTOCOL"] != "HTTP/1.1"
            or "close" in (t.strip() for t in environ.get("HTTP_CONNECTION", "").lower().split(","))
            or len(self.keepalived_conns) >= self.max_keepalived
            or self.nr + 1 >= self.max_requests
        ):
            return False
        started = time.monotonic()
        try:
            answer = lean.answer_in_loop(environ)
        except Exception:  # the thread path answers it, through the app's error handling
            return False
        if answer is None:
            return False
        headers, body = answer
        self.nr += 1
        head = "".join(f"{k}: {v}\r\n" for k, v in headers)
        out = (
            f"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: {http_date()}\r\n"
            f"Connection: keep-alive\r\n{head}\r\n"
        ).encode("latin-1") + body
        try:
            sent = conn.sock.send(out)
        except OSError:
            sent = -1
        if sent != len(out):  # gone, or leaving its answers unread until the buffer is full: dropped
            self.nr_conns -= 1
            conn.close()
            return True
        self.log.access(
            _Sent(len(body), headers),
            _header_pairs(environ),
            environ,
            timedelta(seconds=time.monotonic() - started),
        )
        conn.set_timeout()
        self.keepalived_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))
        return True

    def _drop(self, fd: int, conn) -> None:  # type: ignore[no-untyped-def]
        self._heads.pop(fd, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for fd, (conn, deadline, _) in list(self._heads.items()):
            if deadline <= now:
                self._drop(fd, conn)


#: header names a plain lookup does not carry: a request with one goes to a thread, as any other
_NOT_PLAIN = frozenset(
    {
        "authorization", "connection-upgrade", "content-length", "cookie", "expect", "http2-settings",
        "transfer-encoding", "upgrade", "x-api-key",
    }
)  # fmt: skip
_TOKEN = frozenset("!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyz")


def plain_get(data: bytes, client, server, limits: tuple[int, int, int] | None = None) -> dict | None:  # type: ignore[no-untyped-def]
    """A WSGI environ for one complete, plain ``GET`` (HTTP/1.0 or 1.1, no body, nothing after
    the headers, no percent-escapes or query in the target, no header a lookup does not carry,
    no duplicate, folded, or underscored header name, within gunicorn's ``limits``: request
    line, header count, header size), else None. Anything unusual is left to gunicorn's own
    parser on a thread, which refuses what breaks its limits: this only ever says "not mine"."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 4 != len(data) or len(data) > MAX_HEADER_BYTES:
        return None
    try:
        lines = data[:end].decode("ascii").split("\r\n")
    except UnicodeDecodeError:
        return None
    line_max, fields_max, field_max = limits or (
        limit_request_line,
        limit_request_fields,
        limit_request_field_size,
    )
    if len(lines[0]) > line_max or len(lines) - 1 > fields_max or any(len(x) > field_max for x in lines[1:]):
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, protocol = parts
    if method != "GET" or protocol not in ("HTTP/1.1", "HTTP/1.0") or not target.startswith("/"):
        return None
    if any(c in target for c in "?%#\t") or "//" in target or "/." in target:
        return None
    environ: dict = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": target,
        "RAW_URI": target,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": protocol,
        "SCRIPT_NAME": "",
        "REMOTE_ADDR": client[0] if isinstance(client, tuple) else "",
        "SERVER_NAME": server[0] if isinstance(server, tuple) else "",
        "SERVER_PORT": str(server[1]) if isinstance(server, tuple) else "",
        "wsgi.url_scheme": "http",
    }
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = name.lower()
        if not colon or not key or not set(key) <= _TOKEN or key in _NOT_PLAIN:
            return None
        wsgi_key = "HTTP_" + key.upper().replace("-", "_")
        if wsgi_key in environ or any(c in value for c in "\r\n\0"):
            return None
        environ[wsgi_key] = value.strip(" \t")
    return environ


class _Sent:
    """What gunicorn's access log reads of a response."""

    status = "200 OK"

    def __init__(self, sent: int, headers: list[tuple[str, str]]) -> None:
        self.sent = sent
        self.headers = headers


def _header_pairs(environ: dict) -> list[tuple[str, str]]:
    return [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_")]


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, made once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    """gunicorn's hook, once a worker has loaded the app and before it takes requests: the
    active version's index, lookup table and teams are built now, so no caller waits for them,
    and the app's lean point lookup is handed to the worker's event loop."""
    app = getattr(worker, "wsgi", None)
    extensions = getattr(app, "extensions", {})
    worker.lean = extensions.get("redgrid.lean_point")
    services = extensions.get("redgrid")
    if services is None:
        return
    try:
        services.grids.warm()
    except Exception:  # a convenience: the first request builds what is missing, as without it
        worker.log.exception("warming the grid index failed; the first lookups will build it")


# --------------------------------------------------------------------------- gunicorn settings

bind = os.environ.get("REDGRID_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("REDGRID_WORKERS", "2"))
worker_class = "webmap.serving.HeaderBufferingWorker"
threads = int(os.environ.get("REDGRID_THREADS", "8"))
# connections a worker holds at once (slow ones included), beyond its threads
worker_connections = 1000
# a request the application takes longer than this to answer restarts the worker
timeout = 30
graceful_timeout = 30
keepalive = 2
# the largest request line and header fields (gunicorn's defaults, spelled out)
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# the database, photos and secret key the workers create are private to the service's user
umask = 0o077
logger_class = "webmap.serving.RedactingLogger"
accesslog = os.environ.get("REDGRID_ACCESS_LOG", "-")
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss "%(a)s"'
