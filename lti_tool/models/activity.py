"""Activity: the slim event store, ingested files, and the rollups KPIs read.

Rollups are rebuilt at ingest for the learners an ingest touched, so that reading a KPI never
scans `activity_event`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models.types import UTCDateTime, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ActivityEvent(db.Model):
    """One learner event in a course, reduced to what the KPIs need."""

    __tablename__ = "activity_event"
    __table_args__ = (
        Index("ix_activity_event_learner_time", "course_id", "person_id", "time"),
        UniqueConstraint("event_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    # 64-bit digest of the event as received: the same event ingested twice is stored once.
    event_key: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[float] = mapped_column(Float(precision=53))  # epoch seconds, UTC
    day: Mapped[date] = mapped_column(Date)  # in the course's time zone (UTC by default)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # browser | server | mobile | task | lab | xapi
    # False for events that are not learner activity (task events, enrollment changes).
    active: Mapped[bool] = mapped_column(Boolean)
    # ATTEMPTED_PROBLEM | PLAYED_VIDEO | POSTED_FORUM (Insights' weekly labels), else None.
    label: Mapped[str | None] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(255))  # video, problem or activity id
    video_kind: Mapped[str | None] = mapped_column(String(10))  # play | pause | seek | stop | …
    video_time: Mapped[float | None] = mapped_column(Float(precision=53))
    video_old_time: Mapped[float | None] = mapped_column(Float(precision=53))
    video_new_time: Mapped[float | None] = mapped_column(Float(precision=53))
    video_duration: Mapped[float | None] = mapped_column(Float(precision=53))


class IngestFile(db.Model):
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


class LearnerDay(db.Model):
    """Per learner and day: events, first and last event time."""

    __tablename__ = "learner_day"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    first_time: Mapped[float] = mapped_column(Float(precision=53))
    last_time: Mapped[float] = mapped_column(Float(precision=53))


class LearnerDayGap(db.Model):
    """Histogram of gaps between a learner's consecutive events, per day and whole minute.

    A gap belongs to the day of the event that ends it. Time spent under a cutoff of C minutes
    is the sum of `seconds` over minute < C; sessions are the day's events minus the gaps
    under the cutoff. Minute MAX_GAP_MINUTE holds every longer gap.
    """

    __tablename__ = "learner_day_gap"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    gaps: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float(precision=53))


MAX_GAP_MINUTE = 240


class WeeklyActivity(db.Model):
    """Distinct learners per course, ISO week (its Monday) and Insights label."""

    __tablename__ = "weekly_activity"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    label: Mapped[str] = mapped_column(String(20), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )


class Video(db.Model):
    """A video of a course: its duration (from events or the LMS) and name."""

    __tablename__ = "video"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    video_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    duration: Mapped[float | None] = mapped_column(Float(precision=53))
    display_name: Mapped[str | None] = mapped_column(String(500))


class VideoLearnerSegment(db.Model):
    """How many times one learner viewed one 5-second segment of a video."""

    __tablename__ = "video_learner_segment"
    __table_args__ = {"sqlite_with_rowid": False}

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    video_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    segment: Mapped[int] = mapped_column(Integer, primary_key=True)
    views: Mapped[int] = mapped_column(Integer)
