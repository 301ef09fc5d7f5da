"""Worker processes for the CPU-bound steps of a large ingest: parsing lines, computing rollups.

Python runs one thread at a time, so a second core only helps from another process. A
`Workers` pool is forked from the ingest (the workers inherit the loaded code and never touch
its database connection); `map_ordered` hands them items ahead of the one being consumed and
yields the results in the items' order, so that the caller sees exactly what a sequential run
would see.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Items handed out ahead of the one being consumed, per worker: enough to keep every worker
# busy while the caller works on a result, few enough to bound the memory they take.
AHEAD_PER_WORKER = 2


def default_processes() -> int:
    """Workers worth starting: one per CPU this process may use, none on a single CPU."""
    if hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
    else:
        usable = os.cpu_count() or 1
    return usable if usable > 1 else 0


class _Rare:
    """rare_collections' state: how many are open (in any thread), what they put back."""

    lock = threading.Lock()
    open = 0
    threshold: tuple[int, int, int] = gc.get_threshold()
    froze = False


@contextmanager
def rare_collections() -> Iterator[None]:
    """Cyclic garbage collection seldom, for a batch job that makes millions of short-lived
    containers and no reference cycles (scanning them takes a tenth of an ingest's time and a
    quarter of a summary refresh's).

    The objects that exist already are frozen out of the collector's sight, which also keeps
    forked workers from copying the pages that hold them; where create_app() froze the app's
    objects (a `flask` command, the scheduler) they stay frozen, and nothing else is added.
    Nested or in several threads at once (the collector is the process's), the first one in
    changes the collector and the last one out puts it back.
    """
    with _Rare.lock:
        if _Rare.open == 0:
            _Rare.threshold = gc.get_threshold()
            _Rare.froze = gc.get_freeze_count() == 0
            if _Rare.froze:
                gc.freeze()
            gc.set_threshold(50_000, 20, 100)
        _Rare.open += 1
    try:
        yield
    finally:
        with _Rare.lock:
            _Rare.open -= 1
            if _Rare.open == 0:
                gc.set_threshold(*_Rare.threshold)
                if _Rare.froze:
                    gc.unfreeze()


class Workers:
    """A pool of forked worker processes, or none: then everything runs in this process.

    concurrent.futures rather than multiprocessing.Pool: when a worker dies (killed for
    memory, say), its pending results fail with BrokenProcessPool instead of never arriving.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._processes = 0

    @property
    def started(self) -> bool:
        """True when worker processes are running."""
        return self._pool is not None

    def start(self, processes: int) -> None:
        """Start `processes` workers, unless started already, asked for none, or unable to fork.

        Only fork is used, and only from a single-threaded process (the `flask` command):
        spawning would import the whole app again in every worker, which costs more than it
        saves, so otherwise everything runs in this process.
        """
        if self._pool is not None or processes < 1:
            return
        if "fork" not in multiprocessing.get_all_start_methods():
            return
        if threading.active_count() > 1:
            # Forking copies one thread and every lock as it stands: in a process with other
            # threads (a scheduler, a web server) a child could wait forever on a lock.
            return
        # The tasks make no reference cycles, and scanning the many short-lived containers a
        # parse makes for cycles takes about a fifth of a worker's time: no cyclic GC there.
        self._pool = ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("fork"), initializer=gc.disable
        )
        self._processes = processes

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._processes = 0

    def map_ordered(
        self, function: Callable[[Item], Result], items: Iterable[Item]
    ) -> Iterator[tuple[Item, Result]]:
        """Each item with function(item), in the items' order.

        An exception raised by `items` itself comes after the results of the items before it,
        as in a sequential run; one raised by `function` comes when its result would have.
        """
        if self._pool is None:
            for item in items:
                yield item, function(item)
            return
        ahead: deque[tuple[Item, Future[Result]]] = deque()
        limit = AHEAD_PER_WORKER * self._processes
        iterator = iter(items)
        failure: Exception | None = None
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # raised again below, after the items before it
                failure = exc
                break
            ahead.append((item, self._pool.submit(function, item)))
            if len(ahead) > limit:
                done, result = ahead.popleft()
                yield done, result.result()
        while ahead:
            done, result = ahead.popleft()
            yield done, result.result()
        if failure is not None:
            raise failure
