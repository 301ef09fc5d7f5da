"""Courses, people, the identities that name them, enrollments, course settings and events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import Model
from lti_tool.models.types import UTCDateTime, utcnow


class Course(Model):
    """A course at a platform; pages use the tool's integer id."""

    __tablename__ = "course"
    __table_args__ = (
        UniqueConstraint("platform_id", "lti_context_id"),
        # NULLs are distinct in unique constraints (SQLite and PostgreSQL alike): courses that
        # stand alone, without a platform, need a partial index of their own.
        Index(
            "uq_course_standalone_context",
            "lti_context_id",
            unique=True,
            sqlite_where=text("platform_id IS NULL"),
            postgresql_where=text("platform_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Nullable: a course first seen in activity logs stands alone until a launch claims it.
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id"), index=True)
    lti_context_id: Mapped[str | None] = mapped_column(String(255))
    # The LMS's own id: Canvas course number, or the Open edX course key.
    lms_course_id: Mapped[str | None] = mapped_column(String(255), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    label: Mapped[str | None] = mapped_column(String(255))
    # The NRPS context_memberships_url of the latest launch that carried one, and the client
    # id (registration) of that launch: its client credentials fetch the roster.
    nrps_memberships_url: Mapped[str | None] = mapped_column(String(2000))
    nrps_client_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course")


class CourseDeployment(Model):
    """A deployment a course was launched through: what a deployment's administrator sees."""

    __tablename__ = "course_deployment"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("lti_deployment.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    first_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Person(Model):
    """One human, however many identities the sources give them."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities: Mapped[list[PersonIdentity]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )


class PersonIdentity(Model):
    """One way a source names a person: (platform, kind, value), e.g. lti_sub, openedx_user_id."""

    __tablename__ = "person_identity"
    __table_args__ = (
        UniqueConstraint("platform_id", "kind", "value"),
        # As for courses: identities of standalone learners (no platform) are unique too.
        Index(
            "uq_person_identity_standalone",
            "kind",
            "value",
            unique=True,
            sqlite_where=text("platform_id IS NULL"),
            postgresql_where=text("platform_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # Nullable: learners of a course seen in logs before any platform claims it stand alone.
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="identities")


class Enrollment(Model):
    """A person's membership of a course, with the context roles the LMS gave them."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("course_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # Every role URI as received (context, institution and system).
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Derived from the context roles: staff | learner | observer | none.
    course_role: Mapped[str] = mapped_column(String(20), default="none")
    # active | inactive (left the course; kept, never deleted).
    status: Mapped[str] = mapped_column(String(20), default="active")
    is_test_user: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where we last learned of this enrollment: lti | nrps | canvas | openedx | logs | demo.
    source: Mapped[str] = mapped_column(String(20), default="lti")
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Session tokens of this enrollment launched before this moment no longer open pages
    # (`flask sessions revoke`, the admin area).
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="enrollments")
    person: Mapped[Person] = relationship()


#: Every student view a course can switch off on the settings page.
STUDENT_VIEWS = ("time", "calendar", "videos", "completion", "grades", "due")


class CourseSettings(Model):
    """Per-course choices staff make on the settings page; a missing row means the defaults."""

    __tablename__ = "course_settings"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    # IANA name; days and weeks are counted in it.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The pages' language when the launch names none we offer (en, es, nb); None: the browser's.
    language: Mapped[str | None] = mapped_column(String(10))
    # "Week N of the course" counts from here (Canvas start_at, or set by staff).
    starts_on: Mapped[date | None] = mapped_column(Date)
    # The last day of teaching (Canvas end_at, or set by staff): after it, the course has an
    # outcome the at-risk backtest can judge by.
    ends_on: Mapped[date | None] = mapped_column(Date)
    # Time spent: gaps strictly shorter than this many minutes count.
    time_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # Figures about other learners are hidden below this group size; never below 5.
    privacy_floor: Mapped[int] = mapped_column(Integer, default=5)
    # At-risk rule thresholds (README, "The at-risk rule").
    risk_inactive_days: Mapped[int] = mapped_column(Integer, default=7)
    risk_time_percentile: Mapped[int] = mapped_column(Integer, default=15)
    risk_completion_behind: Mapped[int] = mapped_column(Integer, default=2)
    # Percent; None: no pass-mark rule.
    risk_pass_mark: Mapped[float | None] = mapped_column(Float)
    # The student views switched on (a subset of STUDENT_VIEWS).
    student_views: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(STUDENT_VIEWS))
    # Activity older than this many days is purged by the retention job; None keeps it.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CourseEvent(Model):
    """A dated event drawn on the course's time charts: a due date from the LMS, or staff's own."""

    __tablename__ = "course_event"
    __table_args__ = (UniqueConstraint("course_id", "source", "lms_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    # canvas | openedx (due dates, kept in step by the sync) | staff (added on the page).
    source: Mapped[str] = mapped_column(String(20))
    # The LMS's id for the event (the assignment id); None for staff events.
    lms_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20), default="due")  # due | exam | release | other
    # A due date that applies to one section only (a Canvas override); None: everyone.
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("section.id", ondelete="CASCADE"), index=True
    )
    # Staff events: their title. LMS due dates: the dated item's name as the LMS gives it ("":
    # none), never words of ours ("… due" is written on the page, in the viewer's language).
    title: Mapped[str] = mapped_column(String(500))
    # A section's due date: the section's name as the LMS gives it (None: no name).
    section_name: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ViewPreference(Model):
    """How one person likes one of a course's pages (the learners table's columns): kept on the
    server, since an LMS iframe may have no storage of its own (third-party storage blocked)."""

    __tablename__ = "view_preference"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The page and what on it: "learners.columns".
    view: Mapped[str] = mapped_column(String(40), primary_key=True)
    # What the page reads back (the learners table: the optional columns shown, a list).
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
