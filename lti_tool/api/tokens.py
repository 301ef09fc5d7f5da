"""API tokens: made once, stored hashed, found by their public prefix, checked per request.

A token reads `ltk_<prefix>_<secret>`: the prefix (12 hex digits) finds the row, the sha256 of
the whole token must match the stored hash. Requests send it as `Authorization: Bearer <token>`,
or as the password of HTTP Basic auth (any user name), which is how xAPI clients such as Open
edX's event-routing-backends send an LRS key and secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lti_tool import audit
from lti_tool.models import ApiToken, Course, Platform
from lti_tool.models.api import SCOPE_EVENTS_WRITE, SCOPE_REPORTS_READ, SCOPES
from lti_tool.models.types import DbSession, utcnow

TOKEN_PREFIX = "ltk_"  # noqa: S105 (the public prefix, not a secret)
PREFIX_HEX = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(Exception):
    """A request's credentials were refused: 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, status: int, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass(frozen=True)
class NewToken:
    """A token just made: the row and the only copy of the secret."""

    row: ApiToken
    token: str


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def reads_all_platforms(row: ApiToken) -> bool:
    """True for a reports:read token bound to no course and no platform: it reads every
    platform's learners and e-mails (made with --all-platforms, or before binding was asked)."""
    return row.scope == SCOPE_REPORTS_READ and row.course_id is None and row.platform_id is None


def token_as_dict(session: DbSession, row: ApiToken) -> dict[str, Any]:
    """A token as plain data: its name, prefix, scope and binding, never its secret or hash."""
    course = row.course
    platform = session.get(Platform, row.platform_id) if row.platform_id else None
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scope": row.scope,
        "course_id": row.course_id,
        "course": (course.lms_course_id or course.lti_context_id) if course else None,
        "platform_id": row.platform_id,
        "platform": platform.name if platform else None,
        "may_create_courses": bool(row.may_create_courses),
        "all_platforms": reads_all_platforms(row),
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def create_token(
    session: DbSession,
    name: str,
    scope: str,
    course: Course | None = None,
    *,
    platform: Platform | None = None,
    may_create_courses: bool = False,
    all_platforms: bool = False,
) -> NewToken:
    """Make a token bound to a course, a platform or (events:write, or reports:read with
    `all_platforms`) neither; the caller shows `token` once and commits."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    if course is not None and platform is not None:
        raise ValueError(
            "bind a token to a course or to a platform, not both (a course belongs to one "
            "platform already)"
        )
    if all_platforms and scope != SCOPE_REPORTS_READ:
        raise ValueError(
            "only a reports:read token is made for all platforms (an events:write token bound "
            "to nothing writes to every existing course)"
        )
    if all_platforms and (course is not None or platform is not None):
        raise ValueError("a token for all platforms is bound to no course and no platform")
    if scope == SCOPE_REPORTS_READ and course is None and platform is None and not all_platforms:
        # It would read every tenant's learners and e-mails: only when asked for by name.
        raise ValueError(
            "a reports:read token reads learners' names and e-mails: bind it to a course "
            "(--course) or a platform (--bind-platform), or make it read all platforms "
            "(--all-platforms)"
        )
    if may_create_courses and platform is None:
        raise ValueError(
            "only a token bound to a platform may create courses (they are made on that "
            "platform): add --bind-platform NAME"
        )
    if may_create_courses and scope != SCOPE_EVENTS_WRITE:
        raise ValueError("only an events:write token may create courses")
    if not name.strip():
        raise ValueError("a token needs a name")
    taken = session.scalar(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if taken is not None:
        raise ValueError(f"a token named {name!r} exists: revoke it first or pick another name")
    while True:
        prefix = secrets.token_hex(PREFIX_HEX // 2)
        if session.scalar(select(ApiToken.id).where(ApiToken.prefix == prefix)) is None:
            break
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        name=name,
        prefix=prefix,
        secret_hash=hash_token(token),
        scope=scope,
        course_id=course.id if course else None,
        platform_id=platform.id if platform else None,
        may_create_courses=may_create_courses,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "token_created",
        f"token {name}",
        details={"scope": scope, "all_platforms": all_platforms},
        platform_id=_platform_of(row),
        course_id=row.course_id,
    )
    return NewToken(row, token)


def _platform_of(row: ApiToken) -> int | None:
    """The platform a token's binding names (directly, or through its course)."""
    if row.platform_id is not None:
        return row.platform_id
    course = row.course
    return course.platform_id if course is not None else None


def revoke_token(
    session: DbSession, *, name: str | None = None, token_id: int | None = None
) -> ApiToken:
    """Revoke the active token with this name, or the token with this id."""
    if token_id is not None:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise LookupError(f"no token with id {token_id}")
    else:
        row = session.scalar(
            select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
        )
        if row is None:
            raise LookupError(f"no active token named {name!r}")
    if row.revoked_at is not None:
        raise LookupError(f"token {row.id} ({row.name!r}) is already revoked")
    row.revoked_at = utcnow()
    audit.record(
        session,
        "token_revoked",
        f"token {row.name}",
        platform_id=_platform_of(row),
        course_id=row.course_id,
    )
    return row


def credentials_from_header(header: str) -> str | None:
    """The token in an Authorization header (Bearer, or Basic with the token as password)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        return password or username or None  # `curl -u TOKEN:` puts it in the user name
    return None


def looks_like_api_token(token: str) -> bool:
    """True for the shape of our API tokens (session tokens look different)."""
    return token.startswith(TOKEN_PREFIX) and token.count("_") >= 2


def find_token(session: DbSession, token: str) -> ApiToken:
    """The active token row for a presented token, or TokenError(401)."""
    if not looks_like_api_token(token):
        raise TokenError(401, "The credentials are not an API token of this tool.")
    prefix = token[len(TOKEN_PREFIX) :].split("_", 1)[0]
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if row is None or not hmac.compare_digest(row.secret_hash, hash_token(token)):
        raise TokenError(401, "The API token is not valid (unknown token or wrong secret).")
    if row.revoked_at is not None:
        raise TokenError(401, f"The API token {row.name!r} was revoked.")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row


def require_scope(row: ApiToken, scope: str) -> None:
    """TokenError(403) unless the token carries this scope."""
    if row.scope != scope:
        raise TokenError(
            403,
            f"This token has the scope {row.scope}; this endpoint needs {scope}.",
            code="insufficient_scope",
        )


def require_course(row: ApiToken, course_id: int, platform_id: int | None = None) -> None:
    """TokenError(403) when the token is bound to another course, or to a platform other than
    the course's (`platform_id`)."""
    if row.course_id is not None and row.course_id != course_id:
        raise TokenError(
            403,
            f"This token is bound to course {row.course_id} and cannot act on course {course_id}.",
            code="insufficient_scope",
        )
    if row.platform_id is not None and row.platform_id != platform_id:
        raise TokenError(
            403,
            f"This token is bound to platform {row.platform_id} and cannot act on course "
            f"{course_id}, which is not one of its courses.",
            code="insufficient_scope",
        )
