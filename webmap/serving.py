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
        conn.init()  # the HTTP/1 parser, over a blocking socket
        conn.parser.unreader.unread(bytes(buf))
        conn.data_ready = True
        self.enqueue_req(conn)

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
