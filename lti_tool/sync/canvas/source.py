"""The Canvas data source of a platform: its token, the API client with Canvas's throttling
rules, the connection test, and the courses it syncs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests
from sqlalchemy import select

from lti_tool import secrets
from lti_tool.config import setting
from lti_tool.i18n.text import N_, LazyText, lazy_gettext
from lti_tool.models import Course, DataSource
from lti_tool.models.types import DbSession
from lti_tool.sync.canvas.values import _id, _str
from lti_tool.sync.errors import SyncError
from lti_tool.sync.http import HttpError, JsonClient, where

KIND = "canvas"
USER_AGENT = "lti_tool-canvas"
#: A learner is "low on budget" under this X-Rate-Limit-Remaining (Canvas's bucket holds 700).
RATE_LOW = 100.0


def source_for(session: DbSession, course: Course) -> DataSource:
    """The enabled Canvas data source of the course's platform, or a SyncError saying why not."""
    if course.platform_id is None:
        raise SyncError(N_("course %(id)s belongs to no platform"), id=course.id)
    source = session.scalar(
        select(DataSource)
        .where(DataSource.platform_id == course.platform_id, DataSource.kind == KIND)
        .order_by(DataSource.id)
        .limit(1)
    )
    if source is None:
        raise SyncError(
            N_("the course's platform has no Canvas API source: store a token with `%(command)s`"),
            command="flask platform set-canvas --platform NAME --base-url URL --token-file FILE",
        )
    if not source.enabled:
        raise SyncError(N_("the platform's Canvas API source is disabled"))
    return source


def _token(source: DataSource) -> str:
    if not source.secret_encrypted:
        raise SyncError(
            N_(
                "the Canvas API source has no token (a new base URL clears it): enter it again "
                "(`flask platform set-canvas` or the admin page's Data sources)"
            )
        )
    try:
        return secrets.decrypt(source.secret_encrypted)
    except secrets.SecretsUnavailable as exc:
        raise SyncError(
            N_("the Canvas token cannot be read: %(detail)s"), detail=str(exc)
        ) from None


def _throttled(response: requests.Response) -> bool:
    """429, or Canvas's 403 "Rate Limit Exceeded"."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in (response.text or "").lower()


def client_for(
    source: DataSource,
    token: str,
    *,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = (1.0, 4.0),
    should_stop: Callable[[], bool] | None = None,
) -> JsonClient:
    """A JSON client of the source's Canvas API with Canvas's throttling rules."""
    base = source.location.strip().rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]  # typed with the API path on the admin page
    return JsonClient(
        base + "/api/v1/",
        token,
        timeout=timeout,
        retry_delays=retry_delays,
        should_stop=should_stop,
        throttled=_throttled,
        rate_header="X-Rate-Limit-Remaining",
        rate_low=RATE_LOW,
        rate_pause=float(setting("CANVAS_RATE_PAUSE", "2")),
        user_agent=USER_AGENT,
    )


def _token_refused(exc: HttpError) -> bool:
    """A 401 for the token itself (invalid, expired, revoked), not for one action."""
    if exc.status != 401:
        return False
    return bool(exc.www_authenticate) or "invalid access token" in exc.body.lower()


def check_connection(source: DataSource, timeout: float = 10) -> tuple[bool, LazyText]:
    """GET /api/v1/users/self with the stored token: whom it belongs to, or why it failed."""
    try:
        token = _token(source)
    except SyncError as exc:
        return False, exc.shown()
    client = client_for(source, token, timeout=timeout, retry_delays=())
    try:
        me = client.get_json("users/self")
    except HttpError as exc:
        if _token_refused(exc):
            return False, lazy_gettext(
                "the Canvas token was refused (HTTP 401 from %(url)s)", url=where(exc.url)
            )
        return False, exc.shown()
    except SyncError as exc:
        return False, exc.shown()
    finally:
        client.close()
    if not isinstance(me, dict) or _id(me.get("id")) is None:
        return False, lazy_gettext(
            "%(url)s did not answer a Canvas user", url=where(client.url("users/self"))
        )
    name = _str(me.get("name")) or _str(me.get("short_name")) or lazy_gettext("(no name)")
    return True, lazy_gettext(
        "the token belongs to %(name)s (Canvas user %(id)s)", name=name, id=_id(me.get("id"))
    )
