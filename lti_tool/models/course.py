"""Courses, people, the identities that name them, and enrollments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models.types import UTCDateTime, utcnow


class Course(db.Model):
    """A course at a platform; pages use the tool's integer id."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("platform_id", "lti_context_id"),)

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


class Person(db.Model):
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


class PersonIdentity(db.Model):
    """One way a source names a person: (platform, kind, value), e.g. lti_sub, openedx_user_id."""

    __tablename__ = "person_identity"
    __table_args__ = (UniqueConstraint("platform_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # Nullable: learners of a course seen in logs before any platform claims it stand alone.
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="identities")


class Enrollment(db.Model):
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship(back_populates="enrollments")
    person: Mapped[Person] = relationship()
