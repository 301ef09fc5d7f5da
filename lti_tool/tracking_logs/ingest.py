"""Ingest Open edX tracking-log files: incremental by content, idempotent, loud about bad lines."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lti_tool.activity.workers import Workers, default_processes, rare_collections
from lti_tool.events.sink import EventSink
from lti_tool.kpis import learner_summary
from lti_tool.models import IngestFile, Platform
from lti_tool.models.types import DbSession, utcnow
from lti_tool.tracking_logs.chunks import ParsedChunk, parse_chunk
from lti_tool.tracking_logs.parse import TruncatedFile, iter_paths, open_decompressed, read_chunks

HEAD_BYTES = 4096
PROBLEMS_IN_FULL = 20
# Files at least this large are parsed by worker processes; smaller ones are not worth starting
# them for.
PARALLEL_FROM_BYTES = 32 * 1024 * 1024


@dataclass
class IngestReport:
    """What an ingest run read, stored and skipped (and why)."""

    files: int = 0
    files_unchanged: int = 0
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    details_added: int = 0
    learners: int = 0
    courses: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    unreadable: int = 0
    summaries_seconds: float = 0.0

    def problem(self, where: str, reason: str) -> None:
        """Count a problem; keep the first ones in full."""
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_IN_FULL:
            self.problems.append(f"{where}: {reason}")

    @property
    def read_anything(self) -> bool:
        """True when at least one file could be read."""
        return self.files > self.unreadable

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json."""
        return {
            "files": self.files,
            "files_unchanged": self.files_unchanged,
            "files_unreadable": self.unreadable,
            "lines": self.lines,
            "events_ingested": self.events,
            "duplicates": self.duplicates,
            "details_added": self.details_added,
            "learners": self.learners,
            "courses": self.courses,
            "skipped": dict(sorted(self.skipped.items())),
            "problems": self.problems,
            "problems_not_shown": max(0, self.problem_count - len(self.problems)),
            # Of the run's time, writing the changed courses' summaries in its commits.
            "summaries_seconds": round(self.summaries_seconds, 3),
        }


def head_of(path: Path) -> bytes:
    """The first HEAD_BYTES decompressed bytes, which recognise a file whatever its name."""
    with open_decompressed(path) as stream:
        return stream.read(HEAD_BYTES)


def find_known_file(session: DbSession, path: Path) -> tuple[IngestFile | None, bytes]:
    """The record of a file already seen with the same beginning, if any."""
    head = head_of(path)
    lengths = session.scalars(select(IngestFile.head_length).distinct()).all()
    for length in sorted(lengths, reverse=True):
        if length <= len(head):
            digest = hashlib.sha256(head[:length]).hexdigest()
            known = session.scalar(
                select(IngestFile).where(
                    IngestFile.head_digest == digest, IngestFile.head_length == length
                )
            )
            if known is not None:
                return known, head
    return None, head


def ingest_tracking_logs(
    session: DbSession,
    paths: Iterable[str | Path],
    platform: Platform | None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    reprocess: bool = False,
) -> IngestReport:
    """Ingest files and folders of tracking logs; commits after each file.

    Files of PARALLEL_FROM_BYTES or more are parsed, and their learners' rollups computed, by
    `workers` processes (default: one per CPU when there are two or more; 0: none, everything
    runs in this process). With `reprocess`, files already ingested are read again from their
    start: their events are known and not stored twice, but the details they lack (problem
    answers, enrollment modes, kept since) are added to them, and their learners' rollups rebuilt.
    """
    report = IngestReport()
    pool = Workers()
    processes = default_processes() if workers is None else workers
    with rare_collections():
        try:
            _ingest_paths(session, paths, platform, report, pool, (processes, reprocess), progress)
        finally:
            pool.close()
    return report


def _ingest_paths(
    session: DbSession,
    paths: Iterable[str | Path],
    platform: Platform | None,
    report: IngestReport,
    pool: Workers,
    how: tuple[int, bool],
    progress: Callable[[int], None] | None,
) -> None:
    processes, reprocess = how
    for path in iter_paths(paths):
        report.files += 1
        try:
            record, head = find_known_file(session, path)
            consumed = record.consumed_bytes if record is not None and not reprocess else 0
            # The size on disk, gzipped or not, tells well enough whether workers pay.
            if path.stat().st_size - consumed >= PARALLEL_FROM_BYTES:
                pool.start(processes)
            start = 0 if reprocess else None
            _ingest_file(session, path, (record, head, start), platform, report, pool, progress)
        except OSError as exc:
            session.rollback()
            report.unreadable += 1
            report.skipped["unreadable_file"] += 1
            report.problem(str(path), f"unreadable file ({exc.strerror or exc})")


def _ingest_file(
    session: DbSession,
    path: Path,
    known: tuple[IngestFile | None, bytes, int | None],
    platform: Platform | None,
    report: IngestReport,
    pool: Workers,
    progress: Callable[[int], None] | None,
) -> None:
    record, head, start = known
    if record is None:
        if not head:
            report.files_unchanged += 1
            return
        record = IngestFile(
            head_digest=hashlib.sha256(head).hexdigest(),
            head_length=len(head),
            path=str(path),
            consumed_bytes=0,
            consumed_lines=0,
            platform_id=platform.id if platform else None,
        )
        session.add(record)
    sink = EventSink(
        session, platform, workers=pool if pool.started else None, hold_identities=True
    )
    offset, number = record.consumed_bytes, record.consumed_lines
    consumed = (offset, number)
    if start == 0 and record.id is not None:
        offset, number = 0, 0  # a reprocess: read it all again (lines already read are known)
    try:
        for chunk, parsed in pool.map_ordered(parse_chunk, read_chunks(path, offset)):
            _count_problems(path, number, parsed, report)
            offset, number = chunk.end_offset, number + parsed.lines
            report.lines += parsed.lines
            sink.add_grouped(parsed.groups, parsed.videos)
            sink.add_countries(parsed.countries)
            if progress:
                progress(parsed.lines)
    except TruncatedFile as exc:
        report.skipped["truncated_file"] += 1
        report.problem(f"{path}:{number + 1}", f"truncated or corrupt compressed file ({exc})")
    if offset == record.consumed_bytes and record.id is not None and start is None:
        report.files_unchanged += 1
    counts = sink.finish()
    report.events += counts.stored
    report.duplicates += counts.received - counts.stored
    report.details_added += counts.details_filled
    report.learners += counts.learners
    report.courses += counts.courses
    # A reprocess cut short by a damaged file keeps what an earlier run had read.
    record.consumed_bytes, record.consumed_lines = max((offset, number), consumed)
    record.path = str(path)
    record.last_ingested_at = utcnow()
    session.commit()
    report.summaries_seconds += learner_summary.summaries_seconds(session)


def _count_problems(path: Path, before: int, parsed: ParsedChunk, report: IngestReport) -> None:
    """Count a chunk's skipped lines; report the malformed ones with file and line number
    (`before` is the number of the line before the chunk)."""
    for index, reason in parsed.bad_lines:
        report.skipped[reason] += 1
        report.problem(f"{path}:{before + index + 1}", reason.replace("_", " "))
    if parsed.no_user:
        report.skipped["no_user"] += parsed.no_user
