"""What one run read from Canvas: the users, the lists, and the per-student payloads spooled to
temporary files.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from lti_tool.sync.canvas.values import AssignmentDates


class Spool:
    """Tuples kept in a temporary file in chunks, read back in the order they were added."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()
        self.count = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        """Append a chunk."""
        if rows:
            pickle.dump(rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.count += len(rows)

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """Every chunk, from the start."""
        self.file.flush()
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)  # noqa: S301 - our own temporary file
            except EOFError:
                return

    def close(self) -> None:
        """Remove the file."""
        self.file.close()


@dataclass
class CanvasUser:
    """One Canvas user of the course, merged from their enrollments and the users list."""

    user_id: str
    name: str | None = None
    sortable_name: str | None = None
    email: str | None = None
    sis_user_id: str | None = None
    login_id: str | None = None
    types: list[tuple[str, str]] = field(default_factory=list)  # (type, state)
    created_at: datetime | None = None  # the earliest `created_at` of their enrollments
    sections: set[str] = field(default_factory=set)
    learner: bool = False
    last_activity_at: datetime | None = None
    activity_seconds: int | None = None
    current_score: float | None = None
    final_score: float | None = None
    unposted_current_score: float | None = None
    unposted_final_score: float | None = None
    current_grade: str | None = None
    final_grade: str | None = None


@dataclass
class Fetched:
    """What one run read from Canvas."""

    full: bool
    since: datetime | None
    course: dict[str, Any] = field(default_factory=dict)
    users: dict[str, CanvasUser] = field(default_factory=dict)
    sections: list[tuple[str, str]] | None = None
    assignments: list[dict[str, Any]] | None = None
    #: Canvas assignment id → its dates (absent: Canvas sent no `all_dates`, or too many)
    dates: dict[str, AssignmentDates] = field(default_factory=dict)
    #: Assignments whose overrides Canvas did not list (25 or more: only `all_dates_count`).
    dates_truncated: list[str] = field(default_factory=list)
    #: (assignment id, user id, score, submitted, graded, late, missing, excused, state, due)
    submissions: Spool = field(default_factory=Spool)
    submissions_read: bool = False
    modules: list[tuple[str, str, int | None, int]] | None = None
    #: user id → (requirements, done, completed_at)
    progress: dict[str, tuple[int | None, int | None, datetime | None]] = field(
        default_factory=dict
    )
    #: (user id, module id, state, completed_at, required, done)
    module_states: Spool = field(default_factory=Spool)
    #: user id → (page_views, participations, missing, late, on_time)
    summaries: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    days: list[tuple[date, int, int]] | None = None
    #: (user id, [(hour, views, participations)])
    hours: Spool = field(default_factory=Spool)
    active: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Parts the token's user may not read (PERMISSIONS keys).
    skipped: set[str] = field(default_factory=set)
    #: True when the users list came back without any `email` key (Canvas omits the key when
    #: the token's user may not read e-mail addresses), or was not readable at all; None when
    #: this run read no users.
    emails_hidden: bool | None = None
    analytics: bool = True
    pages: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def close(self) -> None:
        """Drop the spool files."""
        for spool in (self.submissions, self.module_states, self.hours):
            spool.close()
