"""Issue 8, item 8: writes during imports.

A long complaint import used to hold the database's write lock from its first chunk to its
commit, so on SQLite every other write (filing, workflow actions) failed after 30 s with
"database is locked" (a 400k-row hotline export). Imports are now staged in temporary tables
and switched in with one short transaction. These tests run a large import in a thread and
file and act on complaints meanwhile, on SQLite and on PostGIS; they check the import stays
all-or-nothing, and that an import killed half-way leaves nothing behind.
"""

from __future__ import annotations

import csv
import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.apps import REPO_ROOT
from tests.apps import cli_ok
from tests.apps import inside_point
from tests.apps import run_cli
from webmap import create_app

ROWS = int(os.environ.get("REDGRID_IMPORT_ROWS", "100000"))
SOURCE = "12345热线"
HEADER = ["工单编号", "受理时间", "来源渠道", "诉求类别", "诉求内容", "经度", "纬度"]


def write_export(path: Path, grids, rows: int, *, prefix: str = "BIG", bad_last: bool = False) -> Path:
    """A hotline export of ``rows`` rows at points inside the demo grids (UTF-8 CSV)."""
    points = [inside_point(grids, code) for code in sorted(grids["code"])[:50]]
    start = datetime.datetime(2025, 1, 1, 8, 0)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            lon, lat = points[i % len(points)]
            when = (start + datetime.timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M")
            out.writerow([f"{prefix}-{i:07d}", when, "热线", "noise", "夜间噪音", lon, lat])
        if bad_last:
            out.writerow([f"{prefix}-bad", "2025-13-45 25:00", "热线", "noise", "夜间噪音", 113.1, 23.1])
    return path


class Writer:
    """Files complaints and moves them through the workflow until told to stop; times each write."""

    def __init__(self, svc, grids, tag: str) -> None:
        self.svc, self.tag = svc, tag
        self.point = inside_point(grids, sorted(grids["code"])[100])
        self.done: list[tuple[float, float, str]] = []  # (start, end, what)
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def one(self, n: int) -> None:
        from complaints import intake

        item = intake.check(
            {
                "external_id": f"{self.tag}-{n}",
                "reported_at": "2025-06-01 09:00",
                "category": "noise",
                "text": "写入测试",
                "lon": self.point[0],
                "lat": self.point[1],
            },
            catalog=self.svc.catalog,
            source="writes-during-import",
        )
        t0 = time.monotonic()
        case = self.svc.file(item, actor="test")
        self.done.append((t0, time.monotonic(), "file"))
        t0 = time.monotonic()
        self.svc.transition(case.id, "deliberate", expected_version=case.row_version, actor="test")
        self.done.append((t0, time.monotonic(), "deliberate"))

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                self.one(n)
            except BaseException as exc:
                self.errors.append(exc)
                return
            n += 1
            time.sleep(0.05)


def _import_while_writing(svc, grids, tmp_path: Path, rows: int, *, bad_last: bool = False):
    path = write_export(tmp_path / "big.csv", grids, rows, bad_last=bad_last)
    before = svc.store.count_complaints()
    writer = Writer(svc, grids, tag=f"w{rows}{bad_last}")
    staged_at: list[float] = []  # when the first chunk had been checked (and, from then on, staged)

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "rows checked" and not staged_at:
            staged_at.append(time.monotonic())

    outcome: dict = {}

    def run_import() -> None:
        try:
            outcome["report"] = svc.import_file(path, source=SOURCE, actor="test", progress=progress)
        except BaseException as exc:
            outcome["error"] = exc
        outcome["end"] = time.monotonic()

    thread = threading.Thread(target=writer.run)
    thread.start()
    started = time.monotonic()
    run_import()
    writer.stop.set()
    thread.join(120)
    return outcome, writer, started, staged_at, before


def _check_writes_went_on(outcome, writer, staged_at) -> None:
    assert not writer.errors, f"a write failed during the import: {writer.errors[0]!r}"
    during = [d for d in writer.done if staged_at and d[0] >= staged_at[0] and d[1] <= outcome["end"]]
    slowest = max(end - start for start, end, _ in writer.done)
    assert len(during) >= 4, (
        f"only {len(during)} writes finished while the import was staging "
        f"({len(writer.done)} in all, import took {outcome['end'] - staged_at[0]:.1f} s after its first chunk)"
    )
    assert slowest < 10, f"a write waited {slowest:.1f} s"
    print(
        f"\nwrites during import: {len(writer.done)} done ({len(during)} while staging), "
        f"slowest {slowest:.2f} s, 0 failed"
    )


def test_filing_and_actions_succeed_while_a_large_import_runs_on_sqlite(fresh_app, demo_grids, tmp_path):
    svc = fresh_app.extensions["redgrid"].cases
    outcome, writer, _started, staged_at, before = _import_while_writing(svc, demo_grids, tmp_path, ROWS)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert (report.rows, report.added, report.skipped) == (ROWS, ROWS, 0)
    _check_writes_went_on(outcome, writer, staged_at)
    files = sum(1 for d in writer.done if d[2] == "file")
    assert svc.store.count_complaints() == before + ROWS + files
    # every imported row has its intake event, and the import record counts them
    assert svc.store.count_complaints({"source": SOURCE}) >= ROWS


def test_a_faulty_last_row_stores_nothing_while_other_writes_go_on(fresh_app, demo_grids, tmp_path):
    from geo.errors import RowErrors

    svc = fresh_app.extensions["redgrid"].cases
    rows = min(ROWS, 60_000)
    outcome, writer, _started, _staged_at, before = _import_while_writing(
        svc, demo_grids, tmp_path, rows, bad_last=True
    )
    assert isinstance(outcome.get("error"), RowErrors)
    assert [e.field for e in outcome["error"].errors] == ["reported_at"]
    files = sum(1 for d in writer.done if d[2] == "file")
    assert not writer.errors
    assert svc.store.count_complaints() == before + files  # only the other writes are there


def test_reimporting_skips_what_is_there_and_duplicates_in_the_file(fresh_app, demo_grids, tmp_path):
    svc = fresh_app.extensions["redgrid"].cases
    path = write_export(tmp_path / "small.csv", demo_grids, 50, prefix="DUP")
    first = svc.import_file(path, source=SOURCE, actor="test")
    assert (first.rows, first.added, first.skipped) == (50, 50, 0)
    again = svc.import_file(path, source=SOURCE, actor="test")
    assert (again.rows, again.added, again.skipped) == (50, 0, 50)
    stored = svc.store.list_complaints(filters={"source": SOURCE}, limit=100)
    events = svc.store.complaint_events(stored[0].id)
    assert [(e.action, e.actor) for e in events] == [("collect", "test")]
    assert {c.import_id for c in stored} == {first.import_id}


_KILL_SCRIPT = """
import sys
from webmap import create_app
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "CACHE_DIR": sys.argv[2],
                  "SECRET_KEY": "t", "ACTIVE_TTL_S": 0.0})
svc = app.extensions["redgrid"].cases
seen = []
def progress(stage, done, total):
    if stage == "rows checked":
        seen.append(done)
        if len(seen) == 2:  # the first chunk is staged by now
            print("staging", flush=True)
svc.import_file(sys.argv[3], source="12345热线", actor="killed", progress=progress)
print("finished", flush=True)
"""


def test_an_import_killed_half_way_leaves_nothing_and_the_next_one_works(demo_db, demo_grids, tmp_path):
    path = write_export(tmp_path / "kill.csv", demo_grids, 120_000, prefix="KILL")
    app = demo_db.app()
    store = app.extensions["redgrid"].store
    before = store.count_complaints()
    with subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, demo_db.url, str(demo_db.cache_dir), str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        failure = proc.stderr.read()[-2000:]
    assert line == "staging", failure
    assert store.count_complaints() == before
    assert store.count_complaints({"source": SOURCE}) == 0
    # the database is whole, and a second import goes through
    small = write_export(tmp_path / "after.csv", demo_grids, 20, prefix="AFTER")
    result = cli_ok(demo_db.cli("complaints", "import", str(small), "--source", SOURCE))
    assert result.stdout.strip() == "20 rows: 20 added, 0 already present"


@pytest.mark.postgis
def test_filing_and_actions_succeed_while_a_large_import_runs_on_postgis(postgis, demo_grids, tmp_path):
    url = postgis("imports")
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "CACHE_DIR": str(tmp_path / "cache"),
        "SECRET_KEY": "test",
        "ACTIVE_TTL_S": 0.0,
    }
    cli_ok(run_cli(config, ["demo", "load", "--complaints", "100"]))
    svc = create_app(config).extensions["redgrid"].cases
    rows = min(ROWS, 50_000)
    outcome, writer, _started, staged_at, before = _import_while_writing(svc, demo_grids, tmp_path, rows)
    assert "error" not in outcome, outcome.get("error")
    assert (outcome["report"].added, outcome["report"].skipped) == (rows, 0)
    _check_writes_went_on(outcome, writer, staged_at)
    files = sum(1 for d in writer.done if d[2] == "file")
    assert svc.store.count_complaints() == before + rows + files
