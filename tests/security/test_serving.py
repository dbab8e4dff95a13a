"""Serving: the production command of the README keeps answering with 50 slow clients.

The command is read from the README and run as it stands (a real gunicorn on a loopback
port). Fifty clients each send their request headers a byte at a time; meanwhile a normal
client asks for the health check and must get every answer quickly. Before, the README said
``gunicorn -w 2 'webmap:create_app()'`` (sync workers): four slow clients took it down.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from webmap import create_app

REPO = Path(__file__).resolve().parents[2]
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn not installed")]


def readme_command() -> list[str]:
    """The production command as the README gives it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"`(gunicorn [^`]+)`", text)
    assert found, "the README names no gunicorn command"
    words = shlex.split(found.group(1))
    while "-b" in words:  # the test binds its own loopback port
        i = words.index("-b")
        del words[i : i + 2]
    return words


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(tmp_path: Path, command: list[str]):
    instance = tmp_path / "instance"
    db = tmp_path / "redgrid.db"
    create_app(  # migrate once, before the workers start
        {"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": "serving-test", "TESTING": True}
    ).extensions["redgrid"].store.dispose()
    port = free_port()
    env = {
        **os.environ,
        "REDGRID_INSTANCE_PATH": str(instance),
        "REDGRID_DATABASE_URL": f"sqlite:///{db}",
        "REDGRID_SECRET_KEY": "serving-test",
        "REDGRID_ACCESS_LOG": str(tmp_path / "access.log"),
    }
    args = [str(GUNICORN), *command[1:], "-b", f"127.0.0.1:{port}", "--chdir", str(REPO)]
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/api/v1/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "gunicorn.log").read_text(errors="replace")) from None
                time.sleep(0.2)
        yield url, port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def slow_client(port: int, stop: threading.Event, interval: float = 0.2) -> None:
    """Sends request headers one byte at a time, for as long as the test runs."""
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 4000
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for byte in head:
            if stop.is_set():
                return
            s.sendall(bytes([byte]))
            time.sleep(interval)


def test_the_readme_command_answers_with_50_slow_clients_connected(tmp_path):
    with gunicorn(tmp_path, readme_command()) as (url, port):
        stop = threading.Event()
        slow = [threading.Thread(target=slow_client, args=(port, stop), daemon=True) for _ in range(50)]
        for t in slow:
            t.start()
        time.sleep(3)  # every slow client connected and trickling
        latencies = []
        try:
            for _ in range(30):
                start = time.monotonic()
                with urllib.request.urlopen(url + "/api/v1/health", timeout=10) as r:
                    assert r.status == 200
                latencies.append(time.monotonic() - start)
                time.sleep(0.1)
        finally:
            stop.set()
        for t in slow:
            t.join(timeout=5)
    print(
        f"\n50 slow clients: normal client p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} requests"
    )
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.2, latencies


def test_a_client_that_never_finishes_its_headers_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("REDGRID_HEADER_TIMEOUT_S", "2")
    with (
        gunicorn(tmp_path, readme_command()) as (_url, port),
        socket.create_connection(("127.0.0.1", port)) as s,
    ):
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
        s.settimeout(10)
        start = time.monotonic()
        assert s.recv(100) == b""  # closed by the server
        assert time.monotonic() - start < 6


def test_keys_in_query_strings_stay_out_of_the_access_log_and_server_has_no_version(tmp_path):
    with gunicorn(tmp_path, readme_command()) as (url, _port):
        with urllib.request.urlopen(url + "/open311/v2/services.json?api_key=rg_SECRETKEY123&x=1") as r:
            server = r.headers["Server"]
        time.sleep(0.5)
    log = (tmp_path / "access.log").read_text()
    assert "/open311/v2/services.json" in log
    assert "rg_SECRETKEY123" not in log
    assert "api_key=[redacted]" in log
    assert not re.search(r"\d", server), server
