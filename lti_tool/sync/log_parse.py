"""Tracking-log chunks to events grouped by learner and day: an ingest's per-line work.

Parsing is most of what an ingest does, and it needs nothing but the bytes: `parse_chunk` turns
a chunk of lines into the events' block columns, grouped by course, learner and day, and lists
the bad lines by number. `ChunkParser` runs it in worker processes when a file is large enough
for that to pay, so that the main process only resolves learners, merges and writes, and hands
the results back in file order, so that problems are reported exactly as a sequential read
would report them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lti_tool.sync.blocks import EventRow, epoch_day, event_key, event_row
from lti_tool.sync.events import GroupedEvents
from lti_tool.sync.tracking_log import BadLine, Chunk, NoUser, TruncatedFile, parse_line

# Chunks handed to workers ahead of the one being stored, per worker: keeps them busy while
# bounding the memory that lines and results in flight take.
AHEAD_PER_WORKER = 2


@dataclass(slots=True)
class ParsedChunk:
    """A chunk's events, grouped, and what was wrong with its other lines."""

    groups: GroupedEvents = field(default_factory=dict)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (number, reason), in order
    no_user: int = 0  # well-formed events without any user: skipped, not malformed


def parse_chunk(chunk: Chunk) -> ParsedChunk:
    """Parse a chunk's lines; events become block columns per (course, learner) and day."""
    parsed = ParsedChunk()
    rows: dict[tuple[str, str, str], tuple[str | None, dict[int, list[EventRow]]]] = {}
    for number, raw in chunk.numbered_lines():
        try:
            event = parse_line(raw)
        except BadLine as bad:
            parsed.bad_lines.append((number, bad.reason))
            continue
        except NoUser:
            parsed.no_user += 1
            continue
        if event is None:
            continue  # blank or comment line
        if event.user_id:
            learner = (event.course_key, "openedx_user_id", event.user_id)
        else:
            learner = (event.course_key, "openedx_username", str(event.username))
        time = event.time
        row = event_row(time, event_key(raw), event.name, event.source, event.data)
        days = rows.get(learner)
        if days is None:
            # The learner's first event in the chunk gives the username, as one at a time would.
            days = rows[learner] = (event.username, {})
        day = epoch_day(time)
        day_rows = days[1].get(day)
        if day_rows is None:
            days[1][day] = [row]
        else:
            day_rows.append(row)
    for learner, (username, by_day) in rows.items():
        # Rows to columns in one C-level transposition per learner-day.
        columns = {
            day: [list(column) for column in zip(*day_rows, strict=True)]
            for day, day_rows in by_day.items()
        }
        parsed.groups[learner] = (username, columns)
    return parsed


def default_workers() -> int:
    """Parser processes worth starting: one per usable CPU, none on a single CPU."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return usable if usable and usable > 1 else 0


class ChunkParser:
    """Parses chunks in file order: in this process, or in worker processes when started."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._workers = 0

    def start(self, workers: int) -> None:
        """Use `workers` processes from now on (fork only: they inherit the loaded code)."""
        if self._pool is not None or workers < 1:
            return
        if "fork" not in multiprocessing.get_all_start_methods():
            return  # spawning would re-import the app in every worker: parse here instead
        self._pool = multiprocessing.get_context("fork").Pool(workers)
        self._workers = workers

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def parse(self, chunks: Iterator[Chunk]) -> Iterator[tuple[Chunk, ParsedChunk]]:
        """Each chunk with its parsed lines, in order.

        An exception from `chunks` (a damaged gzip file) comes after the results of every
        chunk read before it, as it would reading in order.
        """
        if self._pool is None:
            for chunk in chunks:
                yield chunk, parse_chunk(chunk)
            return
        ahead: deque[tuple[Chunk, Any]] = deque()
        limit = AHEAD_PER_WORKER * self._workers
        damage: TruncatedFile | None = None
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except TruncatedFile as exc:
                damage = exc
                break
            ahead.append((chunk, self._pool.apply_async(parse_chunk, (chunk,))))
            if len(ahead) > limit:
                done, result = ahead.popleft()
                yield done, result.get()
        while ahead:
            done, result = ahead.popleft()
            yield done, result.get()
        if damage is not None:
            raise damage
