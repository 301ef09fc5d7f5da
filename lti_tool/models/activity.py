"""Activity: the event store (learner-day blocks), ingested files, and the rollups KPIs read.

Rollups are rebuilt at ingest for the learners an ingest touched, so that reading a KPI never
reads the events themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import Model
from lti_tool.models.types import UTCDateTime, utcnow

# The tables whose rows an ingest writes by the hundred thousand, keyed by course and person.
BATCH_CHECKED = (
    "activity_block",
    "learner_day",
    "weekly_activity",
    "video_learner_views",
    "learner_resource",
    "learner_problem",
    "enrollment_change",
)
# Marks their foreign keys (Constraint.info): constraints of SQLite's schema only.
SQLITE_ONLY = "sqlite_only"


def _not_postgresql(*_args: Any, dialect: Dialect, **_kw: Any) -> bool:
    return dialect.name != "postgresql"


def batch_checked_keys() -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    """The course and person foreign keys of a BATCH_CHECKED table, on every database but
    PostgreSQL.

    PostgreSQL checks a foreign key with a trigger per row and key, which took most of an
    ingest there (COPY of 233,289 learner_resource rows: 4.2-6.9 s with its two keys, 1.1 s
    without). There the writers check and lock a batch's course and people once
    (lti_tool.activity.sql.lock_keys), and statement triggers delete the rows of deleted people
    and courses (ROLLUP_CASCADE_DDL), as ON DELETE CASCADE did.
    """
    return (
        ForeignKeyConstraint(
            ["course_id"], ["course.id"], ondelete="CASCADE", info={SQLITE_ONLY: True}
        ).ddl_if(callable_=_not_postgresql),
        ForeignKeyConstraint(
            ["person_id"], ["person.id"], ondelete="CASCADE", info={SQLITE_ONLY: True}
        ).ddl_if(callable_=_not_postgresql),
    )


def compared_objects(dialect_name: str) -> Callable[..., bool]:
    """Alembic's `include_object` for a database: leaves out the foreign keys of
    batch_checked_keys where its schema has none (PostgreSQL)."""

    def include(item: Any, _name: Any, kind: str, _reflected: bool, _other: Any) -> bool:
        sqlite_only = kind == "foreign_key_constraint" and item.info.get(SQLITE_ONLY, False)
        return not (sqlite_only and dialect_name == "postgresql")

    return include


def _cascade(parent: str, column: str) -> str:
    """A PostgreSQL trigger deleting the BATCH_CHECKED rows of deleted parents, per statement."""
    deletes = "".join(
        f"  DELETE FROM {table} WHERE {column} IN (SELECT id FROM gone);\n"  # noqa: S608
        for table in BATCH_CHECKED
    )
    return (
        f"CREATE OR REPLACE FUNCTION cascade_{parent}_activity() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$\nBEGIN\n{deletes}  RETURN NULL;\nEND $$;\n"
        f"DROP TRIGGER IF EXISTS cascade_activity ON {parent};\n"
        f"CREATE TRIGGER cascade_activity AFTER DELETE ON {parent} "
        f"REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        f"EXECUTE FUNCTION cascade_{parent}_activity();\n"
    )


# What the migration 0023_activity_keys_per_batch makes, and create_all on PostgreSQL.
ROLLUP_CASCADE_DDL = _cascade("person", "person_id") + _cascade("course", "course_id")
DROP_ROLLUP_CASCADE_DDL = (
    "DROP TRIGGER IF EXISTS cascade_activity ON person;\n"
    "DROP TRIGGER IF EXISTS cascade_activity ON course;\n"
    "DROP FUNCTION IF EXISTS cascade_person_activity();\n"
    "DROP FUNCTION IF EXISTS cascade_course_activity();\n"
)

# Rollup rows are small and found by their primary key: on SQLite, stored in that key's B-tree
# alone (WITHOUT ROWID) rather than in a table plus an index: one B-tree to write, and a report
# reads a course's rows in key order directly.
_SMALL_ROWS = {"sqlite_with_rowid": False}


class ActivityBlock(Model):
    """A learner's events of one UTC day in one course, packed in one value.

    `data` is an orjson object of columns (time, key, name, source, active, label, object_id,
    video fields), sorted by time; lti_tool.activity.blocks reads and writes it. `events` counts
    them all, activity or not.
    """

    __tablename__ = "activity_block"
    __table_args__ = batch_checked_keys()

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    events: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class IngestFile(Model):
    """A log file recognised by its content: how much of it has been ingested."""

    __tablename__ = "ingest_file"
    __table_args__ = (UniqueConstraint("head_digest", "head_length"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the first head_length decompressed bytes (4 KiB, or the whole file if smaller).
    head_digest: Mapped[str] = mapped_column(String(64))
    head_length: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))  # where it was last seen
    consumed_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    consumed_lines: Mapped[int] = mapped_column(Integer, default=0)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LearnerDay(Model):
    """Per learner and day: events, first and last event time, and the day's gap histogram.

    `gaps` counts the gaps between the learner's consecutive events by whole minute, packed as
    an orjson list [minute, gaps, seconds, minute, gaps, seconds, …] in minute order. A gap
    belongs to the day of the event that ends it. Time spent under a cutoff of C minutes is the
    sum of `seconds` over minute < C; sessions are the day's events minus the gaps under the
    cutoff. Minute MAX_GAP_MINUTE holds every longer gap.
    """

    __tablename__ = "learner_day"
    __table_args__ = (*batch_checked_keys(), _SMALL_ROWS)

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    first_time: Mapped[float] = mapped_column(Float(precision=53))
    last_time: Mapped[float] = mapped_column(Float(precision=53))
    gaps: Mapped[bytes] = mapped_column(LargeBinary)


MAX_GAP_MINUTE = 240


class WeeklyActivity(Model):
    """Distinct learners per course, ISO week (its Monday) and Insights label."""

    __tablename__ = "weekly_activity"
    __table_args__ = (
        *batch_checked_keys(),
        # A few learners' weeks (a rebuild's delete, the rows it replaced kept before it) by
        # key, not by a scan of the course's (800,000 rows at 100,000 learners).
        Index("ix_weekly_activity_person", "course_id", "person_id"),
        _SMALL_ROWS,
    )

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    label: Mapped[str] = mapped_column(String(20), primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Video(Model):
    """A video of a course: its duration (from events or the LMS) and name."""

    __tablename__ = "video"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    video_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    duration: Mapped[float | None] = mapped_column(Float(precision=53))
    display_name: Mapped[str | None] = mapped_column(String(500))


class VideoLearnerViews(Model):
    """One learner's views of one video, packed as segment runs.

    `runs` is an orjson list [first, last, first, last, …]: each viewing adds one view to every
    5-second segment from its first to its last (lti_tool.activity.video.segment_runs).
    """

    __tablename__ = "video_learner_views"
    __table_args__ = (*batch_checked_keys(), _SMALL_ROWS)

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    runs: Mapped[bytes] = mapped_column(LargeBinary)


class LearnerResource(Model):
    """A resource a learner opened in a course: a video, a problem, a courseware page, an
    activity; when first, and how many of their events touched it."""

    __tablename__ = "learner_resource"
    __table_args__ = (*batch_checked_keys(), _SMALL_ROWS)

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The video or problem id as events name it, or the courseware page's subsection id.
    resource_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # video | problem | page | activity
    first_time: Mapped[float] = mapped_column(Float(precision=53))  # epoch seconds
    events: Mapped[int] = mapped_column(Integer)


class LearnerProblem(Model):
    """A learner's server problem checks of one problem, as the answer distribution reads them.

    `attempts` counts the checks with answers (Open edX's analytics pipeline drops the others);
    `correct_at` is the number of the first check the whole problem was correct at (None: not
    yet). `answers` is an orjson object {"first": parts, "last": parts, "names": [first, last]}:
    the first and last check's answers per problem part (lti_tool.activity.details), at
    `first_time` and `last_time`, and the display names those checks' contexts gave.
    """

    __tablename__ = "learner_problem"
    __table_args__ = (*batch_checked_keys(), _SMALL_ROWS)

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    correct_at: Mapped[int | None] = mapped_column(Integer)
    first_time: Mapped[float] = mapped_column(Float(precision=53))
    last_time: Mapped[float] = mapped_column(Float(precision=53))
    display_name: Mapped[str | None] = mapped_column(String(500))  # the last check's context
    answers: Mapped[bytes] = mapped_column(LargeBinary)


class EnrollmentChange(Model):
    """A learner's enrollment event in a course: enrolled, unenrolled or changed mode, and the
    mode it names (None where the stored event has none: ingested before modes were kept)."""

    __tablename__ = "enrollment_change"
    __table_args__ = (*batch_checked_keys(), _SMALL_ROWS)

    course_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[float] = mapped_column(Float(precision=53), primary_key=True)  # epoch seconds
    # edx.course.enrollment.activated | deactivated | mode_changed
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    mode: Mapped[str | None] = mapped_column(String(100))


# create_all (the tests' schema) makes the triggers too; DDL's __init__ is untyped in SQLAlchemy.
_CASCADE = DDL(ROLLUP_CASCADE_DDL)  # type: ignore[no-untyped-call]
event.listen(Model.metadata, "after_create", _CASCADE.execute_if(dialect="postgresql"))
