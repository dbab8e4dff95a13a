"""The active version and the roster as a worker holds them (issue 11: 4): no database call on
a lookup's path, another process's activation or roster import seen within seconds, the roster
reloaded only when it changed."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from services.grids import GridService
from store import open_store
from tests.apps import demo_db  # noqa: F401  (fixture)
from tests.apps import demo_template  # noqa: F401  (fixture)
from tests.apps import reseeded_grids_file  # noqa: F401  (fixture)

TTL_S = 0.3


class CountingStore:
    """The store, with every call counted by name, and the calls made on the caller's own
    thread (not the watcher's) listed apart."""

    def __init__(self, store) -> None:
        self._store = store
        self.calls: dict[str, int] = {}
        self.on_request: list[str] = []

    def __getattr__(self, name: str):
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            if threading.current_thread().name != "redgrid-watch":
                self.on_request.append(name)
            return value(*args, **kwargs)

        return counted


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not seen in time")
        time.sleep(0.02)


@pytest.fixture
def two_workers(demo_db):  # noqa: F811
    """Two services on one database, as two gunicorn workers are: one counted, one the other."""
    counted = CountingStore(open_store(demo_db.url))
    other = open_store(demo_db.url)
    watched = GridService(counted, active_ttl_s=TTL_S, cache_dir=demo_db.cache_dir)
    yield watched, counted, GridService(other, cache_dir=demo_db.cache_dir)
    other.dispose()
    counted._store.dispose()


def test_a_lookup_asks_the_store_nothing_once_warm(two_workers):
    watched, counted, _ = two_workers
    grid_set = watched.grid_set(watched.active_version_id())
    code = str(grid_set.index.codes[0])
    lon, lat = grid_set.index.geoms[0].representative_point().coords[0]
    x1 = grid_set.index.bounds[2]
    watched.point(lon, lat)  # warm: the version's set, the roster, the team
    counted.calls.clear()
    counted.on_request.clear()
    deadline = time.monotonic() + 4 * TTL_S  # several TTLs: the watcher looks, the lookups never
    while time.monotonic() < deadline:
        answer = watched.point(lon, lat)
        outside = watched.point(x1 + 0.01, lat)  # in no grid: the datum hints too
    assert str(answer.grid_set.index.codes[answer.match.grid]) == code and answer.team
    assert outside.match.status.name == "OUTSIDE" and outside.match.nearest >= 0
    assert counted.on_request == []
    assert counted.calls.get("place_stamps", 0) >= 2  # the watcher did look


def test_the_roster_is_reloaded_only_when_its_stamp_moves(two_workers):
    watched, counted, _ = two_workers
    watched.roster()
    counted.calls.clear()
    deadline = time.monotonic() + 4 * TTL_S
    while time.monotonic() < deadline:  # several TTLs: the stamps are read again, the roster not
        watched.roster()
        time.sleep(0.02)
    _wait_for(lambda: counted.calls.get("place_stamps", 0) >= 2)
    assert counted.calls.get("assignments", 0) == 0, counted.calls


def test_another_workers_activation_and_roster_import_arrive_within_the_ttl(
    two_workers,
    reseeded_grids_file,  # noqa: F811
    tmp_path,
):
    watched, counted, other = two_workers
    before = watched.active_version_id()
    outcome = other.import_file(reseeded_grids_file, activate=True, label="reseeded", by="test")
    assert outcome.version_id != before
    assert watched.active_version_id() == before  # not yet: the worker goes on with what it has
    _wait_for(lambda: watched.active_version_id() == outcome.version_id, 10 * TTL_S + 2)

    code = next(iter(watched.roster()))
    people = watched.roster()[code]
    changed = [dataclasses.replace(people[0], name=people[0].name + "乙", id=None)]
    other.store.import_assignments(changed, filename="r.csv", sha256="r" * 64)
    _wait_for(lambda: watched.roster()[code][0].name.endswith("乙"), 10 * TTL_S + 2)
    assert counted.calls.get("assignments", 0) >= 1


def test_a_warmed_worker_answers_its_first_lookup_from_memory(two_workers):
    watched, counted, _ = two_workers
    watched.warm()  # what gunicorn's post_worker_init does before a worker takes requests
    assert counted.calls.get("grids", 0) == 1  # the active version's shapes, read once
    far = watched.grid_set(watched.active_version_id()).index.edges._far
    assert far is not None and (far.start >= 0).all()  # no far cell left to fill on a request
    counted.calls.clear()
    counted.on_request.clear()
    index = watched.grid_set(watched.active_version_id()).index
    for i in range(0, len(index), 25):
        lon, lat = index.geoms[i].representative_point().coords[0]
        assert watched.point(lon, lat).team
    assert counted.on_request == []


def test_warming_an_empty_service_builds_nothing(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        GridService(store).warm()  # no version active yet: nothing to build, no error
    finally:
        store.dispose()


def test_a_failed_look_keeps_the_last_answers_and_the_next_one_recovers(
    two_workers,
    reseeded_grids_file,  # noqa: F811
    caplog,
):
    watched, counted, other = two_workers
    before = watched.active_version_id()
    real = counted._store.place_stamps
    failures = []

    def broken():
        failures.append(1)
        raise OSError("database is away")

    counted._store.place_stamps = broken
    deadline = time.monotonic() + 4 * TTL_S
    while time.monotonic() < deadline:
        assert watched.active_version_id() == before  # requests go on with what is known
        time.sleep(0.02)
    assert len(failures) >= 2  # looked again after each TTL, never stuck
    assert "could not read the active version" in caplog.text
    counted._store.place_stamps = real
    outcome = other.import_file(reseeded_grids_file, activate=True, label="reseeded", by="test")
    _wait_for(lambda: watched.active_version_id() == outcome.version_id, 10 * TTL_S + 2)
