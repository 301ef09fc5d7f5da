"""Data pulled from LMS REST APIs: sources, sections, assignments, submissions, modules, stats.

Filled by the Canvas and Open edX syncs (lti_tool.sync.canvas, lti_tool.sync.openedx); the
learners table, completion and grades KPIs read it. Every row is keyed by the LMS's own id
within the course, so a re-run upserts rather than duplicates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import Model
from lti_tool.i18n import stored
from lti_tool.i18n.text import Explained, LazyText
from lti_tool.models.lti import Platform
from lti_tool.models.types import UTCDateTime, utcnow

SOURCE_KINDS = ("canvas", "openedx", "log_folder")


class DataSource(Model):
    """Where a platform's data comes from: a Canvas or Open edX API, or a tracking-log folder.

    `secret_encrypted` holds the Canvas API token or the Open edX client secret, encrypted
    with DATA_ENCRYPTION_KEY (lti_tool.secrets); it is never logged or shown.
    """

    __tablename__ = "data_source"
    __table_args__ = (UniqueConstraint("platform_id", "kind", "location"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("platform.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # canvas | openedx | log_folder
    # The API base URL, or the log folder's path.
    location: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str | None] = mapped_column(String(255))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The outcome of the last "test connection" or run, in words.
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_check: Mapped[str | None] = mapped_column(Text)
    # The last check's message id and values (lti_tool.i18n.stored), so a page shows it in its
    # language; None for a check kept only in English.
    last_check_id: Mapped[str | None] = mapped_column(Text)
    last_check_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    platform: Mapped[Platform] = relationship()

    def record_check(self, said: str | LazyText | Explained | None, when: datetime | None) -> None:
        """Keep a check's outcome (None: forget it), its message id with it."""
        if said is None:
            self.last_check = self.last_check_id = self.last_check_values = None
        else:
            self.last_check, self.last_check_id, self.last_check_values = stored.record(said)
        self.last_checked_at = when

    @property
    def last_check_shown(self) -> str | LazyText | None:
        """The last check in the language of where it is shown (as stored when kept in English)."""
        return stored.shown(self.last_check, self.last_check_id, self.last_check_values)


class Section(Model):
    """A section of a course (Canvas sections; Open edX cohorts)."""

    __tablename__ = "section"
    __table_args__ = (UniqueConstraint("course_id", "lms_section_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    lms_section_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500), default="")


class LmsEnrollment(Model):
    """When the LMS says a learner's enrollment was made, and its mode: Canvas `created_at` and
    type (student or other), Open edX `created` and `mode`. The enrollment page's history for
    a course without enrollment events; NRPS gives no such date."""

    __tablename__ = "lms_enrollment"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mode: Mapped[str | None] = mapped_column(String(100))


class SectionMember(Model):
    """A person in a section (a learner may be in several)."""

    __tablename__ = "section_member"

    section_id: Mapped[int] = mapped_column(
        ForeignKey("section.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Assignment(Model):
    """A graded item of a course, with its due date."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("course_id", "lms_assignment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    lms_assignment_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500), default="")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_possible: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int | None] = mapped_column(Integer)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    # Deleted or unpublished at the LMS since: kept for history, out of the figures.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Submission(Model):
    """A learner's submission to an assignment, as the LMS last reported it."""

    __tablename__ = "submission"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    score: Mapped[float | None] = mapped_column(Float)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    missing: Mapped[bool] = mapped_column(Boolean, default=False)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    workflow_state: Mapped[str | None] = mapped_column(String(30))
    # Canvas `cached_due_date`: the due date that applies to this learner (section, group and
    # individual overrides included), where the assignment's own `due_at` may not.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CourseModule(Model):
    """A module (Canvas) or section/chapter (Open edX) of a course."""

    __tablename__ = "course_module"
    __table_args__ = (UniqueConstraint("course_id", "lms_module_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    lms_module_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int | None] = mapped_column(Integer)
    # Items with a completion requirement.
    items_required: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class ModuleProgress(Model):
    """A learner's completion of one module."""

    __tablename__ = "module_progress"

    module_id: Mapped[int] = mapped_column(
        ForeignKey("course_module.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    items_required: Mapped[int] = mapped_column(Integer, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    # Canvas module state: locked | unlocked | started | completed.
    state: Mapped[str | None] = mapped_column(String(20))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LmsLearnerStats(Model):
    """What the LMS itself says about a learner in a course: its activity time, scores, progress.

    Canvas: enrollments (total_activity_time, last_activity_at, grades), student_summaries
    (page views, participations, tardiness) and bulk_user_progress (course completion).
    """

    __tablename__ = "lms_learner_stats"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    source: Mapped[str] = mapped_column(String(20))  # canvas | openedx
    total_activity_seconds: Mapped[int | None] = mapped_column(Integer)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Posted scores (what the learner sees) and, where Canvas gives them to the token's user,
    # the unposted ones (what the gradebook shows staff).
    current_score: Mapped[float | None] = mapped_column(Float)
    final_score: Mapped[float | None] = mapped_column(Float)
    unposted_current_score: Mapped[float | None] = mapped_column(Float)
    unposted_final_score: Mapped[float | None] = mapped_column(Float)
    current_grade: Mapped[str | None] = mapped_column(String(50))
    final_grade: Mapped[str | None] = mapped_column(String(50))
    page_views: Mapped[int | None] = mapped_column(Integer)
    participations: Mapped[int | None] = mapped_column(Integer)
    missing: Mapped[int | None] = mapped_column(Integer)
    late: Mapped[int | None] = mapped_column(Integer)
    on_time: Mapped[int | None] = mapped_column(Integer)
    requirements: Mapped[int | None] = mapped_column(Integer)
    requirements_done: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreSnapshot(Model):
    """A learner's score as the last sync of one week (course time zone) found it: what the
    at-risk backtest judges that week by, since the LMS only ever gives today's score."""

    __tablename__ = "score_snapshot"
    __table_args__ = {"sqlite_with_rowid": False}

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)  # Monday
    # The current score staff saw (unposted where the LMS gave it), and the posted one.
    score: Mapped[float | None] = mapped_column(Float)
    posted_score: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LmsCourseActivityDay(Model):
    """Canvas course analytics: page views and participations of the whole course per day."""

    __tablename__ = "lms_course_activity_day"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    participations: Mapped[int] = mapped_column(Integer, default=0)


class LmsLearnerActivityHour(Model):
    """Canvas per-student analytics: one learner's page views and participations per hour."""

    __tablename__ = "lms_learner_activity_hour"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    views: Mapped[int] = mapped_column(Integer, default=0)
    participations: Mapped[int] = mapped_column(Integer, default=0)


class CourseBlock(Model):
    """An Open edX course block (chapter, sequential, vertical, video, problem…) and its name."""

    __tablename__ = "course_block"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    block_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the usage key
    block_type: Mapped[str] = mapped_column(String(50))
    display_name: Mapped[str] = mapped_column(String(500), default="")
    parent_id: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[int | None] = mapped_column(Integer)
    graded: Mapped[bool] = mapped_column(Boolean, default=False)
    duration: Mapped[float | None] = mapped_column(Float)  # videos, seconds
