"""Ingest Open edX tracking-log files: incremental by content, idempotent, loud about bad lines."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import IngestFile, Platform
from lti_tool.models.types import utcnow
from lti_tool.sync.events import EventSink, IncomingEvent
from lti_tool.sync.tracking_log import (
    BadLine,
    NoUser,
    TruncatedFile,
    iter_paths,
    open_decompressed,
    parse_line,
    read_lines,
)

HEAD_BYTES = 4096
PROBLEMS_IN_FULL = 20


@dataclass
class IngestReport:
    """What an ingest run read, stored and skipped (and why)."""

    files: int = 0
    files_unchanged: int = 0
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    learners: int = 0
    courses: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    unreadable: int = 0

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
            "learners": self.learners,
            "courses": self.courses,
            "skipped": dict(sorted(self.skipped.items())),
            "problems": self.problems,
            "problems_not_shown": max(0, self.problem_count - len(self.problems)),
        }


def head_of(path: Path) -> bytes:
    """The first HEAD_BYTES decompressed bytes, which recognise a file whatever its name."""
    with open_decompressed(path) as stream:
        return stream.read(HEAD_BYTES)


def find_known_file(session: Session, path: Path) -> tuple[IngestFile | None, bytes]:
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
    session: Session,
    paths: Iterable[str | Path],
    platform: Platform | None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest files and folders of tracking logs; commits after each file."""
    report = IngestReport()
    for path in iter_paths(paths):
        report.files += 1
        try:
            _ingest_file(session, path, platform, report, progress)
        except OSError as exc:
            session.rollback()
            report.unreadable += 1
            report.skipped["unreadable_file"] += 1
            report.problem(str(path), f"unreadable file ({exc.strerror or exc})")
    return report


def _ingest_file(
    session: Session,
    path: Path,
    platform: Platform | None,
    report: IngestReport,
    progress: Callable[[int], None] | None,
) -> None:
    record, head = find_known_file(session, path)
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
    sink = EventSink(session, platform)
    offset, number = record.consumed_bytes, record.consumed_lines
    try:
        for line in read_lines(path, start_offset=offset, start_line=number):
            offset, number = line.end_offset, line.number
            report.lines += 1
            if progress and report.lines % 10000 == 0:
                progress(10000)
            _ingest_line(sink, path, line.number, line.raw, report)
    except TruncatedFile as exc:
        report.skipped["truncated_file"] += 1
        report.problem(f"{path}:{number + 1}", f"truncated or corrupt compressed file ({exc})")
    if offset == record.consumed_bytes and record.id is not None:
        report.files_unchanged += 1
    counts = sink.finish()
    report.events += counts.stored
    report.duplicates += counts.received - counts.stored
    report.learners += counts.learners
    report.courses += counts.courses
    record.consumed_bytes, record.consumed_lines = offset, number
    record.path = str(path)
    record.last_ingested_at = utcnow()
    session.commit()


def _ingest_line(
    sink: EventSink, path: Path, number: int, raw: bytes, report: IngestReport
) -> None:
    try:
        event = parse_line(raw)
    except BadLine as bad:
        report.skipped[bad.reason] += 1
        report.problem(f"{path}:{number}", bad.reason.replace("_", " "))
        return
    except NoUser:
        report.skipped["no_user"] += 1
        return
    if event is None:
        return
    if event.user_id:
        user_key, kind = event.user_id, "openedx_user_id"
    else:
        user_key, kind = str(event.username), "openedx_username"
    sink.add(
        IncomingEvent(
            course_key=event.course_key,
            user_key=user_key,
            identity_kind=kind,
            time=event.time,
            name=event.name,
            source=event.source,
            data=event.data,
            raw=raw,
            username=event.username,
        )
    )
