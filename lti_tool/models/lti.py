"""LTI configuration: platforms, registrations, deployments, tool keys, launch state and errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import Model
from lti_tool.i18n import stored
from lti_tool.i18n.text import LazyText
from lti_tool.models.types import UTCDateTime, utcnow


class Platform(Model):
    """One LMS instance as an institution sees it (hosted Canvas shares its issuer)."""

    __tablename__ = "platform"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    issuer: Mapped[str] = mapped_column(String(500), index=True)
    # Origins allowed to frame the tool (CSP frame-ancestors); editable per platform.
    frame_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Which LMS it is: canvas | openedx | moodle | other. Open edX before lti-consumer-xblock
    # 11.1 sends course roles only as institution/system roles (lti_tool.people.roles).
    lms: Mapped[str] = mapped_column(String(20), default="other", server_default="other")
    # How it came: admin (CLI or admin area), dynamic (registered itself), invited (dynamic
    # registration with an administrator's one-time code), development (the dev LMS).
    registered_by: Mapped[str] = mapped_column(String(20), default="admin", server_default="admin")
    # A platform that registered itself uninvited waits for an administrator's approval.
    approved: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registrations: Mapped[list[LtiRegistration]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="LtiRegistration.id"
    )


class LtiRegistration(Model):
    """A client id at a platform, with the platform's OIDC and key endpoints."""

    __tablename__ = "lti_registration"
    # Hosted Canvas shares one issuer across institutions: a registration is found by both.
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    # Copied from the platform so the database enforces (issuer, client_id) uniqueness.
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    auth_audience: Mapped[str | None] = mapped_column(String(1000))
    jwks_url: Mapped[str | None] = mapped_column(String(1000))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="registrations")
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )


class LtiDeployment(Model):
    """A deployment id under a registration (Open edX always uses "1")."""

    __tablename__ = "lti_deployment"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE")
    )
    deployment_id: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Off by default: a launch carrying institution or system Administrator may open the admin
    # area for this deployment only (a local administrator switches it on).
    admin_launch_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[LtiRegistration] = relationship(back_populates="deployments")


class ToolKey(Model):
    """An RSA key of the tool; the active one signs, unretired ones are published in the JWKS."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiStoreEntry(Model):
    """Shared launch state (OIDC state, nonces, launch data) visible to every worker."""

    __tablename__ = "lti_store"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LaunchError(Model):
    """A refused launch, kept for administrators: when, where from, why, what was received."""

    __tablename__ = "launch_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
    issuer: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(20))  # login | launch | page
    status_code: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    # The reason's message id and values (lti_tool.i18n.stored), so the page shows it in its
    # language; None for a reason kept only in English.
    reason_id: Mapped[str | None] = mapped_column(Text)
    reason_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The id_token header and claims as received, never the signature.
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def reason_shown(self) -> str | LazyText:
        """The reason in the language of where it is shown (as stored when kept in English)."""
        return stored.shown(self.reason, self.reason_id, self.reason_values) or self.reason


class RegistrationInvite(Model):
    """A one-time code an administrator made for LTI Dynamic Registration (`platform invite`).

    Only the code's sha256 is kept; the platform it registers is approved at once.
    """

    __tablename__ = "registration_invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # canvas | moodle | None (whatever the LMS says it is).
    lms: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))


class ToolSetting(Model):
    """A value the tool made for itself and keeps across restarts (e.g. the pseudonym key)."""

    __tablename__ = "tool_setting"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
