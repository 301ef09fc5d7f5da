"""Who is administering: the admin session cookie, CSRF tokens, login throttling and the scope.

The admin session is a signed cookie of its own (`lti_tool_admin`, path /admin), separate from
the LTI launch state and the course session tokens: a launched course session never opens the
admin area. The cookie also carries the CSRF token every admin form posts back. Login attempts
are counted in the database, so the throttle holds across every web worker and machine.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from flask import abort, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, Select, delete, select, text, true
from sqlalchemy.orm import QueryableAttribute
from werkzeug.security import check_password_hash, generate_password_hash

from lti_tool import audit
from lti_tool.config import setting
from lti_tool.i18n.text import gettext as _
from lti_tool.models import AdminLoginAttempt, AdminUser, CourseDeployment, LtiDeployment
from lti_tool.models.types import DbSession, utcnow

COOKIE = "lti_tool_admin"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the e-mail is unknown, so that a wrong address costs as long as a
    wrong password and the timing does not tell which addresses are administrators. Made at
    the first sign-in, not at import: a scrypt hash costs every process start ~90 ms."""
    return generate_password_hash("not a real password: timing only", method="scrypt")


class PasswordRefused(ValueError):
    """A password that cannot be used (too short, empty, a common one)."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords shipped with the package (lower-case; 19,640 of them: Django's
    list by Royce Williams, see admin/common_passwords.LICENSE.txt). Read at the first use."""
    data = resources.files(__package__).joinpath("common_passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


_TRAILING = re.compile(r"[\W\d_]+$")


def is_common_password(password: str) -> bool:
    """True for a common password, compared without case, also once the digits and symbols at
    its end are taken off ("Password2024!!!!" is "password")."""
    lowered = password.strip().lower()
    listed = common_passwords()
    return lowered in listed or _TRAILING.sub("", lowered) in listed


def normalise_email(value: str) -> str:
    """The e-mail address as stored and compared: trimmed and lower-case; ValueError if invalid."""
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise ValueError(f"{value!r} is not an e-mail address")
    return email


def hash_password(password: str) -> str:
    """The password's scrypt hash (werkzeug), refusing short and common ones."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if is_common_password(password):
        raise PasswordRefused(
            "this password is on a list of common passwords (compared without case and "
            "without the digits and symbols at its end); choose another"
        )
    return generate_password_hash(password, method="scrypt")


def admin_named(session: DbSession, email: str) -> AdminUser | None:
    """The administrator with this e-mail address (trimmed, any case), if any."""
    return session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))


def create_admin(
    session: DbSession, address: str, password: str, deployment_id: int | None = None
) -> AdminUser:
    """Add a local administrator (audited), of one deployment's row id or of the whole tool.

    The address is a `normalise_email` one; PasswordRefused when the password is too weak.
    """
    user = AdminUser(
        email=address, password_hash=hash_password(password), deployment_id=deployment_id
    )
    session.add(user)
    scope = {"deployment": deployment_id} if deployment_id is not None else {"scope": "whole tool"}
    audit.record(session, "admin_created", address, details=scope)
    return user


def admin_as_dict(session: DbSession, user: AdminUser) -> dict[str, Any]:
    """An administrator as plain data, with the deployment it is limited to (never a password)."""
    deployment = session.get(LtiDeployment, user.deployment_id) if user.deployment_id else None
    return {
        "id": user.id,
        "email": user.email,
        "deployment": (
            {
                "id": deployment.id,
                "deployment_id": deployment.deployment_id,
                "client_id": deployment.registration.client_id,
                "platform": deployment.registration.platform.name,
            }
            if deployment
            else None
        ),
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def authenticate(session: DbSession, email: str, password: str) -> AdminUser | None:
    """The enabled administrator with this e-mail and password, else None (same cost either way)."""
    user = admin_named(session, email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled:
        return None
    return user


# --- throttling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Failures allowed within a window: per account from one client address, per client
    address, and per account from every address together.

    The per-account count is kept per address so that a stranger failing from elsewhere cannot
    lock an administrator out of their own address; `per_account_total` is a much higher
    ceiling that still stops guessing one account from many addresses at once (0: none).
    """

    per_email: int = 5
    per_ip: int = 20
    per_account_total: int = 100
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls) -> Limits:
        """ADMIN_LOGIN_MAX_FAILURES (5, per account and address), ADMIN_LOGIN_MAX_FAILURES_PER_IP
        (20), ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT (100, every address together; 0: no
        ceiling), ADMIN_LOGIN_WINDOW_MINUTES (15): app config, else environment."""
        return cls(
            per_email=int(setting("ADMIN_LOGIN_MAX_FAILURES", "5")),
            per_ip=int(setting("ADMIN_LOGIN_MAX_FAILURES_PER_IP", "20")),
            per_account_total=int(setting("ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT", "100")),
            window=timedelta(minutes=float(setting("ADMIN_LOGIN_WINDOW_MINUTES", "15"))),
        )

    def limit(self, kind: str) -> int:
        """The failures allowed for a kind of key (0: not limited)."""
        return {"account": self.per_email, "ip": self.per_ip}.get(kind, self.per_account_total)


def throttle_keys(email: str, ip: str | None) -> dict[str, str]:
    """The attempt keys of a login: the address typed from this client ("account"), the
    client ("ip"), and the address typed from anywhere ("email", the high ceiling)."""
    account = email.strip().lower()[:300]
    client = (ip or "unknown")[:64]
    return {
        "account": f"email:{account} ip:{client}",
        "ip": "ip:" + client,
        "email": "email:" + account,
    }


#: The first key of the two-key advisory locks that serialise login attempts per e-mail.
_LOCK_CLASS = 0x61646D  # "adm"


def serialise_attempts(session: DbSession, key: str) -> None:
    """On PostgreSQL, let one login attempt per key count and record at a time (until commit).

    Without it, two workers could both see four failures and let a sixth attempt through.
    SQLite runs one writer at a time anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(:key))"),
            {"cls": _LOCK_CLASS, "key": key},
        )


def retry_after(
    session: DbSession, keys: dict[str, str], limits: Limits, now: datetime | None = None
) -> int | None:
    """Seconds until a login may be tried again, or None when it may be tried now.

    A key is blocked when it has `limit` failures in the window since its last success; it is
    free again when the oldest of those failures leaves the window.
    """
    now = now or utcnow()
    since = now - limits.window
    wait = 0.0
    for kind, key in keys.items():
        limit = limits.limit(kind)
        if limit <= 0:
            continue
        rows = session.execute(
            select(AdminLoginAttempt.at, AdminLoginAttempt.succeeded)
            .where(AdminLoginAttempt.key == key, AdminLoginAttempt.at >= since)
            .order_by(AdminLoginAttempt.at, AdminLoginAttempt.id)
        ).all()
        failures: list[datetime] = []
        for at, succeeded in rows:
            failures = [] if succeeded else [*failures, at]
        if len(failures) >= limit:
            free_at = failures[-limit] + limits.window
            wait = max(wait, (free_at - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def record_attempt(session: DbSession, keys: dict[str, str], succeeded: bool) -> None:
    """Record a login attempt under each key, and forget attempts older than a day."""
    now = utcnow()
    for key in keys.values():
        session.add(AdminLoginAttempt(key=key, at=now, succeeded=succeeded))
    session.execute(delete(AdminLoginAttempt).where(AdminLoginAttempt.at < now - timedelta(days=1)))


# --- the session cookie -----------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lti-tool-admin-session")


def max_age() -> int:
    """Seconds an admin session lasts (ADMIN_SESSION_MAX_AGE, default 8 hours)."""
    return int(setting("ADMIN_SESSION_MAX_AGE", str(8 * 3600)))


def password_mark(user: AdminUser) -> str:
    """A short digest of the stored hash: a password change or reset ends older sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def end_sessions(user: AdminUser) -> None:
    """End every admin session of this administrator, in every browser (sign-out)."""
    user.session_generation = (user.session_generation or 0) + 1


def new_session(**fields: Any) -> dict[str, Any]:
    """A fresh session (a new CSRF token every time: a login never keeps the old one)."""
    return {"csrf": secrets.token_urlsafe(32), **fields}


def read_session() -> dict[str, Any] | None:
    """The request's admin session, or None when absent, forged or expired."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=max_age())
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


def save_session(response: Any, data: dict[str, Any]) -> None:
    """Set the admin cookie: HttpOnly, Secure over https, SameSite=Lax, only under /admin.

    Lax rather than Strict: the administration link of an LMS launch opens a new top-level
    window from the LMS's iframe, and its redirect must keep the cookie. Forms are protected by
    the CSRF token, not by SameSite.
    """
    response.set_cookie(
        COOKIE,
        _serializer().dumps(data),
        max_age=max_age(),
        path="/admin",
        httponly=True,
        secure=request.is_secure,
        samesite="Lax",
    )


def csrf_ok(data: dict[str, Any] | None) -> bool:
    """True when the posted form carries this session's CSRF token."""
    sent = request.form.get(CSRF_FIELD, "")
    if not data or not sent:
        return False
    return hmac.compare_digest(sent, str(data["csrf"]))


# --- who, and how far ---------------------------------------------------------------------------


def deployment_course_ids(deployment_id: int) -> Select[tuple[int]]:
    """The ids of the courses launched through one deployment (course_deployment)."""
    return select(CourseDeployment.course_id).where(CourseDeployment.deployment_id == deployment_id)


@dataclass(frozen=True)
class AdminScope:
    """The administrator of this request and what they may see.

    An administrator of one deployment (`flask admin create --deployment`, or an LMS
    administrator's launch) sees the courses launched through that deployment and nothing
    else: not the platform's other deployments' courses, nor courses known only from logs or
    events. Every admin page limits its rows with `courses` rather than a condition of its own.
    """

    label: str
    admin_id: int | None  # a local administrator; None for an LMS administrator's launch
    deployment_id: int | None  # None: every platform and deployment
    platform_id: int | None  # the deployment's platform
    via_launch: bool = False

    @property
    def is_global(self) -> bool:
        """True for an administrator of the whole tool."""
        return self.deployment_id is None

    def courses(self, column: QueryableAttribute[Any]) -> ColumnElement[bool]:
        """SQL: the course id in `column` (Course.id, SyncRun.course_id…) is one this
        administrator may see; always true for an administrator of the whole tool."""
        if self.deployment_id is None:
            return true()
        return column.in_(deployment_course_ids(self.deployment_id))

    def sees_course(self, session: DbSession, course_id: int) -> bool:
        """True when this administrator may see and act on the course."""
        if self.deployment_id is None:
            return True
        found = session.get(CourseDeployment, (course_id, self.deployment_id))
        return found is not None

    def sees_platform(self, platform_id: int | None) -> bool:
        """True when this administrator may see the platform's page (its own registration and
        deployment only: see admin.platforms)."""
        return self.is_global or (platform_id is not None and platform_id == self.platform_id)


def _deployment_platform(session: DbSession, deployment_id: int) -> int | None:
    deployment = session.get(LtiDeployment, deployment_id)
    if deployment is None:
        return None
    return deployment.registration.platform_id


def scope_from_session(session: DbSession, data: dict[str, Any] | None) -> AdminScope | None:
    """The administrator a session names, checked against the database on every request."""
    if not data:
        return None
    if isinstance(data.get("admin"), int):
        user = session.get(AdminUser, data["admin"])
        if user is None or user.disabled or data.get("pw") != password_mark(user):
            return None
        # Signed out since (anywhere): this cookie, and every copy of it, is over.
        if data.get("gen") != (user.session_generation or 0):
            return None
        platform_id = None
        if user.deployment_id is not None:
            platform_id = _deployment_platform(session, user.deployment_id)
            if platform_id is None:
                return None
        return AdminScope(user.email, user.id, user.deployment_id, platform_id)
    launch = data.get("launch")
    if isinstance(launch, dict) and isinstance(launch.get("deployment"), int):
        deployment = session.get(LtiDeployment, launch["deployment"])
        # Switched off (or the deployment disabled) since: the session ends at once.
        if deployment is None or not deployment.admin_launch_enabled or not deployment.enabled:
            return None
        label = f"{launch.get('name') or 'LMS administrator'} (by launch)"
        return AdminScope(
            label, None, deployment.id, deployment.registration.platform_id, via_launch=True
        )
    return None


def current_scope() -> AdminScope:
    """The request's administrator (set by the blueprint's before_request)."""
    scope: AdminScope = g.admin
    return scope


def require_global() -> None:
    """403 for an administrator of one deployment (platform-wide things are the whole tool's)."""
    if not current_scope().is_global:
        abort(
            403,
            description=_(
                "Only administrators of the whole tool can do this; you administer one "
                "deployment and the courses launched through it."
            ),
        )
