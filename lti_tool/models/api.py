"""The event API: access tokens, and the xAPI statement ids seen (for idempotence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import Model
from lti_tool.models.course import Course
from lti_tool.models.lti import Platform
from lti_tool.models.types import UTCDateTime, utcnow

SCOPE_EVENTS_WRITE = "events:write"
SCOPE_REPORTS_READ = "reports:read"
SCOPES = (SCOPE_EVENTS_WRITE, SCOPE_REPORTS_READ)


class ApiToken(Model):
    """A bearer token for one source or reader: one scope, optionally one course; kept hashed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique among tokens not revoked (checked by `flask tokens create`); revoked ones keep it.
    name: Mapped[str] = mapped_column(String(200))
    # The public part of the token (`ltk_<prefix>_<secret>`), which finds its row.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # sha256 hex of the whole token; the token itself is shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(20))  # events:write | reports:read
    # None: any course. Deleting the course deletes its tokens (never widens them).
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    # Bound to one platform: writes only to its courses (None with no course: any course).
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform.id", ondelete="CASCADE"), index=True
    )
    # With a platform binding: events for a course the platform does not have yet create it.
    may_create_courses: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course | None] = relationship()
    platform: Mapped[Platform | None] = relationship()

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


class XapiStatement(Model):
    """An xAPI statement id already stored: a repeat is ignored, a different body is a 409."""

    __tablename__ = "xapi_statement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # lower-case UUID
    # sha256 of the statement's canonical JSON, without what an LRS may add (stored, authority…).
    digest: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
