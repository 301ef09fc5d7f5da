"""Sync bookkeeping: every run of a source for a course, and the scheduler's claimed job slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import Model
from lti_tool.i18n import stored
from lti_tool.i18n.text import Explained, LazyText
from lti_tool.models.course import Course
from lti_tool.models.types import DbSession, UTCDateTime, utcnow

SOURCES = ("nrps", "canvas", "openedx")
#: The trigger of a run that stands for the demo's LMS data (`flask demo load`): nothing was
#: fetched, and no LMS is connected.
DEMO_TRIGGER = "demo"
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
#: The longest error kept, in characters.
MAX_ERROR = 2000


class SyncRun(Model):
    """One sync of one source for one course: queued → running → succeeded | failed.

    A run's data and its "succeeded" row are committed in one transaction; a failed run
    leaves the previous data as it was and says why in `error`.
    """

    __tablename__ = "sync_run"
    __table_args__ = (
        # At most one queued and one running run per course and source (a "Sync now" clicked
        # twice queues one run; a CLI run and a scheduled one never overlap). Partial unique
        # indexes, understood by SQLite and PostgreSQL alike.
        Index(
            "uq_sync_run_queued",
            "course_id",
            "source",
            unique=True,
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "uq_sync_run_running",
            "course_id",
            "source",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_sync_run_course_source_queued", "course_id", "source", "queued_at"),
        Index("ix_sync_run_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))  # nrps | canvas | openedx
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    # Who asked: schedule (the scheduler's periodic job) | cli | page ("Sync now").
    trigger: Mapped[str] = mapped_column(String(20), default="page")
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the run found and wrote, e.g. {"members": 30, "added": 2, "deactivated": 1}.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # HTTP requests made to the LMS (token requests included).
    requests: Mapped[int] = mapped_column(Integer, default=0)
    # Why it failed, in words (never a token or a secret).
    error: Mapped[str | None] = mapped_column(Text)
    # The error's message id and values (lti_tool.i18n.stored), so a page shows it in its
    # language; None for an error kept only in English.
    error_id: Mapped[str | None] = mapped_column(Text)
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # host:pid of the process running it, so a run whose process died can be told apart.
    worker: Mapped[str | None] = mapped_column(String(200))

    course: Mapped[Course] = relationship()

    def record_error(self, said: str | LazyText | Explained | None) -> None:
        """Keep why the run failed (None: it did not), its message id with it."""
        if said is None:
            self.error = self.error_id = self.error_values = None
            return
        english, self.error_id, self.error_values = stored.record(said)
        self.error = english[:MAX_ERROR]

    @property
    def error_shown(self) -> str | LazyText | None:
        """The error in the language of where it is shown (as stored when kept in English)."""
        return stored.shown(self.error, self.error_id, self.error_values)


class JobSlot(Model):
    """A scheduler job's time slot, claimed by the first scheduler to reach it.

    The unique (job, slot_start) makes a slot run once however many schedulers are running.
    """

    __tablename__ = "job_slot"
    __table_args__ = (UniqueConstraint("job", "slot_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "ok", or what went wrong, in words.
    outcome: Mapped[str | None] = mapped_column(Text)


def last_succeeded(session: DbSession, course_id: int, source: str | None = None) -> SyncRun | None:
    """The latest successful run of a course (of one source, or any): "data as of …"."""
    query = select(SyncRun).where(SyncRun.course_id == course_id, SyncRun.status == SUCCEEDED)
    if source:
        query = query.where(SyncRun.source == source)
    return session.scalar(query.order_by(SyncRun.finished_at.desc(), SyncRun.id.desc()).limit(1))
