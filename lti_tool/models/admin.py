"""Administration: local administrator accounts, login attempts, the contact-details access log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import Model
from lti_tool.models.types import UTCDateTime, utcnow


class AdminUser(Model):
    """A local administrator (`flask admin create EMAIL`); the password is kept as a KDF hash."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(500))
    # None: every platform and deployment; else only this deployment's.
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_deployment.id", ondelete="CASCADE")
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Carried in every admin session cookie of this administrator; signing out adds one, which
    # ends all of them (every browser, and any copy of a cookie) on the server.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AdminLoginAttempt(Model):
    """A login attempt, in the database so throttling holds across every web worker."""

    __tablename__ = "admin_login_attempt"
    __table_args__ = (Index("ix_admin_login_attempt_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What is throttled: "email:<address> ip:<client>", "ip:<client>" and "email:<address>".
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class AccessLog(Model):
    """Who opened learners' contact details (or exported them), when, in which course."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_course_at", "course_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    # A course's staff member, or None for a local administrator (named in viewer_label).
    viewer_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    viewer_label: Mapped[str] = mapped_column(String(400))
    # contact_details | learner_page | learners_csv | email_addresses | student_view_preview
    action: Mapped[str] = mapped_column(String(40))
    # The learner whose details were shown; None when the action covered a list of learners.
    subject_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # How many learners the action showed (1 for one learner, N for a list or export).
    subjects: Mapped[int] = mapped_column(Integer, default=1)


class AdminAudit(Model):
    """What an administrator did: who, when, from where, what (kept under the retention rules)."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The administrator's e-mail, "cli" for a command on the server, or "launch" for an LMS
    # administrator who came in by launch.
    actor: Mapped[str] = mapped_column(String(320))
    admin_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_user.id", ondelete="SET NULL")
    )
    # The remote address (behind ProxyFix, the client's), or "local" for the CLI.
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # e.g. sign_in, platform_added, source_changed, token_revoked, key_rotated, purge.
    action: Mapped[str] = mapped_column(String(50), index=True)
    # What it was done to, in words ("platform Canvas (3)", "course 12").
    target: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # For filtering and for what a deployment's administrator may see.
    platform_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform.id", ondelete="SET NULL"), index=True
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="SET NULL"), index=True
    )
