"""Worker processes (lti_tool.activity.workers): results in order, failures where they belong."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from lti_tool.activity import workers as workers_module
from lti_tool.activity.workers import Workers


def square(number: int) -> int:
    return number * number


def die(number: int) -> int:
    if number == 3:
        os._exit(1)  # a worker killed mid-task (for memory, say)
    return number


def numbers_then_damage() -> Iterator[int]:
    yield from range(6)
    raise ValueError("damaged input")


@pytest.fixture
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork as from the `flask` command, whatever idle threads other tests left behind."""
    monkeypatch.setattr(workers_module.threading, "active_count", lambda: 1)


@pytest.fixture(params=[0, 2], ids=["in-process", "two-workers"])
def workers(request: pytest.FixtureRequest, single_threaded: None) -> Iterator[Workers]:
    pool = Workers()
    pool.start(request.param)
    yield pool
    pool.close()


def test_results_come_in_the_items_order(workers: Workers) -> None:
    assert list(workers.map_ordered(square, range(50))) == [(n, n * n) for n in range(50)]


def test_an_exception_from_the_items_comes_after_the_results_before_it(workers: Workers) -> None:
    seen = []
    with pytest.raises(ValueError, match="damaged input"):
        for item, result in workers.map_ordered(square, numbers_then_damage()):
            seen.append((item, result))
    assert seen == [(n, n * n) for n in range(6)]


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="workers need fork"
)
def test_a_worker_that_dies_fails_the_run_instead_of_hanging(single_threaded: None) -> None:
    pool = Workers()
    pool.start(2)
    assert pool.started  # or die() would end this very process
    try:
        with pytest.raises(BrokenProcessPool):
            list(pool.map_ordered(die, range(10)))
    finally:
        pool.close()


def test_no_workers_are_forked_from_a_process_with_other_threads() -> None:
    pool = Workers()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pool.start(2)
        assert not pool.started
        assert list(pool.map_ordered(square, range(3))) == [(0, 0), (1, 1), (2, 4)]
    finally:
        stop.set()
        other.join()
        pool.close()


def test_rare_collections_freeze_what_exists_and_leave_an_earlier_freeze_as_it_was() -> None:
    """Unfrozen process (tests): frozen inside, thawed after. Frozen by create_app() (a `flask`
    command): the app's objects stay frozen after the batch, and the batch adds none."""
    import gc

    from lti_tool.activity.workers import rare_collections

    gc.unfreeze()  # as a test process is until an app of a non-test config is made in it
    threshold = gc.get_threshold()
    with rare_collections():
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == 50_000
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        made_later = [[n] for n in range(1000)]
        # Frozen objects that die leave the frozen set (CPython), so the count may drop by a
        # few while the test runs; freezing again would add the 1,000 lists made since.
        with rare_collections():
            assert gc.get_freeze_count() <= frozen
        assert gc.get_freeze_count() <= frozen and made_later
    finally:
        gc.unfreeze()


def test_rare_collections_nested_or_in_threads_put_the_collector_back_once_the_last_ends() -> None:
    """A summary refresh inside an ingest's commit opens one inside another; the scheduler's
    refresh and a page's may open two in threads: the collector comes back as it was only when
    the last one ends, whatever the order."""
    import gc
    import threading

    from lti_tool.activity.workers import rare_collections

    gc.unfreeze()
    threshold = gc.get_threshold()
    outer, inner = rare_collections(), rare_collections()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first one in ends first
    assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > 0
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0

    entered, release = threading.Event(), threading.Event()

    def job() -> None:
        with rare_collections():
            entered.set()
            release.wait(10)

    other = threading.Thread(target=job)
    other.start()
    entered.wait(10)
    with rare_collections():
        pass
    assert gc.get_threshold()[0] == 50_000  # the other thread's is still open
    release.set()
    other.join(10)
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0
