"""A new grid version activated while clients hammer the point API (issue 11: 6).

The service runs the production way (gunicorn with ``webmap.serving``, two worker processes)
on a private copy of the demo database, on loopback. Client threads ask for one point whose
grid differs between the demo grids and a regenerated set, over kept-alive connections
(answered in front of Flask) and with a cookie (answered by Flask), while the command line
imports the regenerated set and activates it. Every answer must succeed, name version 1 or
2, and carry that version's grid for the point (never one version's id with the other's
grid), and once the activation is a few seconds old every answer must be version 2.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.apps import cli_ok
from tests.apps import gunicorn_on
from tests.apps import point_where_versions_differ

ACTIVE_TTL_S = 1.0
SETTLE_S = 4.0  # every worker on the new version within this long after the activation
CLIENTS = 6

pytestmark = pytest.mark.skipif(
    shutil.which("gunicorn") is None and not (Path(sys.executable).parent / "gunicorn").exists(),
    reason="gunicorn is not installed",
)


@pytest.fixture
def server(demo_db, tmp_path):
    env = {
        "REDGRID_ACTIVE_TTL_S": str(ACTIVE_TTL_S),
        "REDGRID_RATELIMIT_ENABLED": "false",  # one address sends thousands of requests here
    }
    with gunicorn_on(demo_db, tmp_path, env, "-w", "2") as port:
        yield port


def test_a_version_activated_under_load_switches_every_answer_cleanly(
    server, demo_db, demo_grids, reseeded_grids, reseeded_grids_file
):
    lon, lat, old_code, new_code = point_where_versions_differ(demo_grids, reseeded_grids)
    path = f"/api/v1/point/wgs84/{lon!r},{lat!r}"
    stop = threading.Event()
    answers: list[tuple[float, int, str | None]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        headers = {"Cookie": "lang=zh"} if k % 2 else {}  # odd clients go through Flask
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 25 == 0:  # a new connection now and then, so both workers get clients
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                at = time.monotonic()
                if response.status != 200:
                    failures.append(f"{response.status}: {body[:200]!r}")
                    continue
                doc = json.loads(body)
                with lock:
                    answers.append((at, doc["version"]["id"], (doc["grid"] or {}).get("code")))
            except Exception as exc:
                failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        imported = cli_ok(
            demo_db.cli("grids", "import", str(reseeded_grids_file), "--label", "seed 7", "--activate")
        ).stdout
        activated_at = time.monotonic()
        assert "version 2" in imported
        time.sleep(SETTLE_S + 2.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert failures == [], failures[:5]
    expected = {1: old_code, 2: new_code}
    mixed = [(v, code) for _, v, code in answers if expected.get(v) != code]
    assert mixed == [], mixed[:5]
    before = [v for at, v, _ in answers if at < activated_at - 0.5]
    late = [v for at, v, _ in answers if at > activated_at + SETTLE_S]
    assert before and set(before) == {1}
    assert len(late) > 50 and set(late) == {2}, (len(late), sorted(set(late)))
