"""Plain anonymous point lookups answered in the server's event loop (webmap.serving, issue 11: 4).

A real gunicorn, the production way, one worker with one thread. The proof that the loop
answers: while that one thread is held by a client that trickles a request body, a plain
lookup is still answered at once, while the same lookup with a cookie (which only a thread may
answer) waits. The answers are the bytes Flask gives on a kept-alive connection (a request
that closes its connection is a thread's: a graceful close may wait), anything unusual (a query, a body, a pipelined pair, odd headers) still gets its
right answer from a thread, the access log has every request, and rate limits still hold.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.apps import demo_db  # noqa: F401  (fixture)
from tests.apps import demo_template  # noqa: F401  (fixture)
from tests.apps import gunicorn_on
from webmap.serving import plain_get

POINT = "/api/v1/point/wgs84/113.1457,23.1110"
OUTSIDE = "/api/v1/point/wgs84/113.2100,23.1110"  # beyond the grids, inside the served area


def _exchange(sock: socket.socket, request: bytes, timeout: float = 10.0) -> tuple[str, dict, bytes]:
    """Send one request, read one whole answer: (status line, headers, body)."""
    sock.settimeout(timeout)
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the headers: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return lines[0], headers, body[:length]


def _get(path: str, *extra: str, version: str = "HTTP/1.1") -> bytes:
    return "\r\n".join([f"GET {path} {version}", "Host: 127.0.0.1", *extra, "", ""]).encode()


@pytest.fixture
def one_thread(demo_db, tmp_path):  # noqa: F811
    env = {"REDGRID_RATELIMIT_ENABLED": "false"}
    with gunicorn_on(demo_db, tmp_path, env, "-w", "1", "--threads", "1", "--keep-alive", "5") as port:
        with socket.create_connection(("127.0.0.1", port)) as first:
            _exchange(first, _get(POINT))  # the first plain lookup teaches the lean path the headers
        yield port, tmp_path


def test_the_loop_answers_while_the_only_thread_is_held(one_thread):
    port, _ = one_thread
    with socket.create_connection(("127.0.0.1", port)) as holder:
        # a body announced and never sent: the worker's one thread waits for it
        holder.sendall(
            b"POST /api/v1/points HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 50\r\n\r\nlon"
        )
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", port)) as client:
            started = time.monotonic()
            status, _, body = _exchange(client, _get(POINT))
            assert status == "HTTP/1.1 200 OK"
            assert time.monotonic() - started < 1.0
            assert b'"status":"ok"' in body
        with socket.create_connection(("127.0.0.1", port)) as cookie:
            cookie.settimeout(1.0)
            cookie.sendall(_get(POINT, "Cookie: theme=dark"))
            with pytest.raises(TimeoutError):  # only a thread answers this one, and none is free
                cookie.recv(100)


def test_loop_answers_are_flasks_bytes_and_keep_the_connection(one_thread):
    port, tmp_path = one_thread
    with socket.create_connection(("127.0.0.1", port)) as s:
        answers = [_exchange(s, _get(path)) for path in (POINT, OUTSIDE, POINT)]
        # the same lookups through Flask (a cookie sends them to a thread) on the same connection
        flask = [_exchange(s, _get(path, "Cookie: theme=dark")) for path in (POINT, OUTSIDE)]
        again = _exchange(s, _get(POINT))
    assert [a[0] for a in answers] == ["HTTP/1.1 200 OK"] * 3
    assert answers[0][2] == flask[0][2] == answers[2][2] == again[2]
    assert answers[1][2] == flask[1][2] and b'"status":"outside"' in answers[1][2]
    loop_headers, flask_headers = answers[0][1], flask[0][1]
    assert loop_headers["connection"] == "keep-alive"
    for name in ("content-type", "content-security-policy", "x-content-type-options", "cache-control"):
        assert loop_headers[name] == flask_headers[name], name
    deadline = time.monotonic() + 5  # a line is written just after its answer is sent
    while (tmp_path / "access.log").read_text().count(f'"GET {POINT} HTTP/1.1" 200') < 5:
        assert time.monotonic() < deadline, "the loop's answers are not all in the access log"
        time.sleep(0.05)


def test_http_1_0_and_connection_close_end_the_connection(one_thread):
    port, _ = one_thread
    for request in (_get(POINT, version="HTTP/1.0"), _get(POINT, "Connection: close")):
        with socket.create_connection(("127.0.0.1", port)) as s:
            status, headers, _ = _exchange(s, request)
            assert status.endswith("200 OK") and headers["connection"] == "close"
            s.settimeout(5)
            assert s.recv(100) == b""


def test_unusual_requests_still_get_their_right_answer_from_a_thread(one_thread):
    port, _ = one_thread
    with socket.create_connection(("127.0.0.1", port)) as s:
        status, _, body = _exchange(s, _get(POINT + "?version=1"))
        assert status.endswith("200 OK") and b'"id":1' in body
        status, _, body = _exchange(s, _get("/api/v1/point/wgs84/113.1457,oops"))
        assert status.startswith("HTTP/1.1 400")
        status, _, _ = _exchange(s, _get("/api/v1/point/wgs84/113.1457%2C23.1110"))
        assert status.endswith("200 OK")  # percent-escapes: gunicorn decodes them
        # two requests in one packet: both answered, in order
        s.sendall(_get(POINT) + _get(OUTSIDE))
        data = b""
        s.settimeout(10)
        while data.count(b"HTTP/1.1 200 OK") < 2 or not data.rstrip().endswith(b"}"):
            data += s.recv(65536)
        assert data.index(b'"status":"ok"') < data.index(b'"status":"outside"')


@pytest.mark.parametrize(
    ("request_bytes", "why"),
    [
        (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", None),
        (b"POST /a HTTP/1.1\r\nHost: x\r\n\r\n", "not a GET"),
        (b"GET /a HTTP/2.0\r\nHost: x\r\n\r\n", "not HTTP/1"),
        (b"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n", "absolute target"),
        (b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", "query"),
        (b"GET /a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", "escape"),
        (b"GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n", "dot segment"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "body header"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "body header"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "duplicate"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n", "underscore"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "folded"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\n\r\n", "cookie"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n", "key"),
        (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\n\r\n", "pipelined"),
        (b"GET /a HTTP/1.1\r\nHost: \xff\r\n\r\n", "not ASCII"),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "request line over gunicorn's limit"),
        (
            b"GET /a HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
            "over 100 fields",
        ),
        (b"GET /a HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", "a field over gunicorn's limit"),
    ],
)
def test_only_a_plain_get_is_taken_by_the_loop(request_bytes, why):
    environ = plain_get(request_bytes, ("127.0.0.1", 5555), ("127.0.0.1", 8000))
    if why is None:
        assert environ is not None and environ["PATH_INFO"] == "/a" and environ["HTTP_HOST"] == "x"
        assert environ["REMOTE_ADDR"] == "127.0.0.1"
    else:
        assert environ is None, why


def test_rate_limits_hold_for_loop_answers(demo_db, tmp_path):  # noqa: F811
    env = {"REDGRID_RATELIMIT_ENABLED": "true", "REDGRID_LIMIT_ANONYMOUS": "40/minute"}
    with gunicorn_on(demo_db, tmp_path, env, "-w", "2") as port:
        statuses = []
        with socket.create_connection(("127.0.0.1", port)) as s:
            for _ in range(60):
                statuses.append(_exchange(s, _get(POINT))[0].split(" ")[1])
    allowed = statuses.count("200")
    assert 35 <= allowed <= 40  # the start-up probe's health checks may have taken one or two
    assert statuses == ["200"] * allowed + ["429"] * (60 - allowed)
