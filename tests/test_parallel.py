"""Batches on several threads (geo.parallel): results in order, a bound on the work in flight,
errors at their item, no deadlock when nested, and the same answers as one thread."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import numpy as np
import pytest

from geo import parallel
from geo.lookup import CHUNK
from geo.lookup import GridIndex
from geo.lut import LookupTable
from tests.apps import DEMO_GRIDS


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setenv("REDGRID_BATCH_THREADS", "2")
    monkeypatch.setattr(parallel, "_pool", None)
    yield
    pool = parallel._pool
    if pool is not None:
        pool.shutdown(wait=True)


def test_results_come_in_the_items_order_though_early_items_finish_last(two_threads):
    def slow_first(i: int) -> int:
        time.sleep(0.02 * (5 - i))
        return i * i

    assert list(parallel.ordered_map(slow_first, range(6))) == [0, 1, 4, 9, 16, 25]


def test_at_most_ahead_items_are_taken_before_the_first_answer(two_threads):
    taken = []
    gate = threading.Event()

    def items():
        for i in range(100):
            taken.append(i)
            yield i

    def work(i: int) -> int:
        if i == 0:
            gate.wait(5)
        return i

    results = parallel.ordered_map(work, items(), ahead=3)
    timer = threading.Timer(0.2, gate.set)
    timer.start()
    first = next(results)
    assert first == 0
    assert len(taken) == 3  # the first answer waited with only three items taken
    assert list(results) == list(range(1, 100))
    timer.join()


def test_an_error_is_raised_at_its_item_and_later_items_are_not_taken(two_threads):
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    def work(i: int) -> int:
        if i == 4:
            raise ValueError("item 4 is bad")
        return i

    got = []
    with pytest.raises(ValueError, match="item 4"):
        for value in parallel.ordered_map(work, items(), ahead=2):
            got.append(value)
    assert got == [0, 1, 2, 3]
    assert len(taken) <= 7


def test_nested_maps_run_inline_instead_of_waiting_on_their_own_pool(two_threads):
    def outer(i: int) -> list[int]:
        return list(parallel.ordered_map(lambda j: i * 10 + j, range(3)))

    done: list = []
    worker = threading.Thread(target=lambda: done.append(list(parallel.ordered_map(outer, range(4)))))
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "nested ordered_map deadlocked"
    assert done == [[[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32]]]


def test_one_thread_runs_in_the_callers_thread(monkeypatch):
    monkeypatch.setenv("REDGRID_BATCH_THREADS", "1")
    names = list(parallel.ordered_map(lambda _: threading.current_thread().name, range(3)))
    assert names == [threading.current_thread().name] * 3
    assert parallel.workers() == 1


def test_a_batch_on_two_threads_answers_as_one_thread_does(two_threads, monkeypatch):
    frame = gpd.read_file(DEMO_GRIDS)
    index = GridIndex(frame["code"], frame.geometry.values)
    index.attach_lut(LookupTable.build(index))
    x0, y0, x1, y1 = index.bounds
    rng = np.random.default_rng(11)
    n = 2 * CHUNK + 12_345  # three chunks, the last one short
    lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    threaded = index.locate_many(lon, lat, annotate=True)
    assert parallel._pool is not None  # the chunks did go to the pool
    monkeypatch.setenv("REDGRID_BATCH_THREADS", "1")
    serial = index.locate_many(lon, lat, annotate=True)
    for name in ("status", "grid", "runner_up", "runner_up_m", "nearest", "nearest_m"):
        assert np.array_equal(getattr(threaded, name), getattr(serial, name), equal_nan=True), name
    assert threaded.also_touches == serial.also_touches
    assert (threaded.status == 0).sum() > n // 2 and (threaded.runner_up >= 0).any()
