"""Who is asking after the launch: a signed, short-lived token, carried without third-party cookies.

The token travels three ways, checked in this order: the `Authorization: Bearer` header (XHR),
the `t` query parameter (links and forms), and a per-course Partitioned cookie. Access logs
strip the query string (see lti_tool.logging_setup).

A token lives at most SESSION_TOKEN_MAX_AGE seconds from its launch: pages hand on the same
launch time, never a fresh one. Every request also checks the enrollment it was issued for: a
person dropped, deactivated or relaunched as a learner loses staff pages at once, and tokens
launched before the enrollment's sessions were revoked open nothing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update

from lti_tool import audit
from lti_tool.extensions import db
from lti_tool.i18n.text import gettext as _
from lti_tool.models import Course, Enrollment, Person, Platform
from lti_tool.models.types import utcnow
from lti_tool.people.roles import STAFF

TOKEN_PARAM = "t"  # noqa: S105 (a parameter name)
F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


@dataclass(frozen=True)
class Viewer:
    """The launched user of one course, as the signed token states."""

    person_id: int
    course_id: int
    role: str  # staff | learner
    platform_id: int
    # When the launch happened (epoch seconds): the token's absolute lifetime counts from here.
    launched_at: float = field(default_factory=time.time)
    # The launch's launch_presentation.locale (a language we offer), kept for every page of it.
    locale: str | None = None

    @property
    def is_staff(self) -> bool:
        """True for course staff."""
        return self.role == STAFF


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lti-tool-session")


def cookie_name(course_id: int) -> str:
    """Name of the per-course session cookie (several courses may be open in tabs)."""
    return f"lti_tool_c{course_id}"


def issue_token(viewer: Viewer) -> str:
    """Sign a session token for a viewer."""
    return _serializer().dumps(asdict(viewer))


def read_token(token: str) -> Viewer | None:
    """Return the viewer a token names, or None when it is forged, malformed or expired."""
    max_age = current_app.config["SESSION_TOKEN_MAX_AGE"]
    try:
        data = _serializer().loads(token, max_age=max_age)
        if not isinstance(data, dict) or not isinstance(data.get("launched_at"), int | float):
            return None  # a token from before launch times were carried: launch again
        viewer = Viewer(**data)
    except (BadSignature, SignatureExpired, TypeError):
        return None
    return viewer if time.time() - viewer.launched_at <= max_age else None


def _token_candidates(course_id: int) -> list[str]:
    found = []
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        found.append(header[7:].strip())
    if request.args.get(TOKEN_PARAM):
        found.append(request.args[TOKEN_PARAM])
    if request.method in ("GET", "HEAD"):
        if request.cookies.get(cookie_name(course_id)):
            found.append(request.cookies[cookie_name(course_id)])
    elif request.form.get(TOKEN_PARAM):
        # A change needs the token in the form or a header: a cross-site form post carries only
        # the cookie (SameSite=None inside the LMS iframe), so the cookie alone cannot do it.
        found.append(request.form[TOKEN_PARAM])
    return found


def current_viewer(course_id: int) -> Viewer | None:
    """The viewer of this course for this request, if a valid token for it was presented."""
    for token in _token_candidates(course_id):
        viewer = read_token(token)
        if viewer is not None and viewer.course_id == course_id:
            return viewer
    return None


def set_session_cookie(response: Any, viewer: Viewer, token: str) -> None:
    """Set the per-course cookie: Partitioned over https so it survives the LMS iframe."""
    secure = request.is_secure
    left = current_app.config["SESSION_TOKEN_MAX_AGE"] - (time.time() - viewer.launched_at)
    response.set_cookie(
        cookie_name(viewer.course_id),
        token,
        max_age=max(0, int(left)),
        path=f"/courses/{viewer.course_id}",
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
        partitioned=secure,
    )


def session_ended(viewer: Viewer) -> str | None:
    """Why the enrollment the token was issued for no longer holds it, or None.

    The course, its platform and the viewer's person are read with it, into the session: every
    page shows its course and several greet the viewer, and `session.get` then finds them (one
    statement a request, not three)."""
    found = db.session.execute(
        _ENROLLMENT, {"course": viewer.course_id, "person": viewer.person_id}
    ).first()
    # Held for the request: the identity map keeps unchanged objects only while someone does.
    g.enrolled = enrollment = found
    if enrollment is None or enrollment.status != "active":
        return _("You are no longer enrolled in this course.")
    revoked = enrollment.sessions_revoked_at
    if revoked is not None and viewer.launched_at <= revoked.timestamp():
        return _("Your session for this course was ended by an administrator.")
    if viewer.is_staff and enrollment.course_role != STAFF:
        return _("Your role in this course changed since you opened the tool.")
    return None


# Read on every request of a course session, built once; the course, platform and person as
# entities: the session's identity map then holds them (a page's session.get costs nothing).
_ENROLLMENT = (
    select(
        Enrollment.status,
        Enrollment.sessions_revoked_at,
        Enrollment.course_role,
        Course,
        Platform,
        Person,
    )
    .join(Course, Course.id == Enrollment.course_id)
    .outerjoin(Platform, Platform.id == Course.platform_id)
    .join(Person, Person.id == Enrollment.person_id)
    .where(Enrollment.course_id == bindparam("course"), Enrollment.person_id == bindparam("person"))
)


def course_home_url() -> str | None:
    """The page this request's course session starts from, for a way back out of an error page.

    Staff go to the overview, learners to their own page. None without a live session: a page
    reached without a launch (or after the session ended) can only send people back to the LMS.
    """
    viewer: Viewer | None = getattr(g, "viewer", None)
    if viewer is None:
        course_id = (request.view_args or {}).get("course_id")
        if isinstance(course_id, int):
            viewer = current_viewer(course_id)
        elif request.args.get(TOKEN_PARAM):
            viewer = read_token(request.args[TOKEN_PARAM])
        if viewer is None or session_ended(viewer) is not None:
            return None
    token = getattr(g, "session_token", None) or issue_token(viewer)
    page = "course.overview" if viewer.is_staff else "course.me"
    return url_for(page, course_id=viewer.course_id, t=token)


def _require(course_id: int, staff: bool) -> Viewer:
    viewer = current_viewer(course_id)
    if viewer is None:
        abort(
            403,
            description=_(
                "Open the tool from this course in your LMS to see this page (a session lasts "
                "a few hours from the launch)."
            ),
        )
    ended = session_ended(viewer)
    if ended is not None:
        abort(
            403,
            description=_(
                "%(reason)s Open the tool again from the course in your LMS.", reason=ended
            ),
        )
    g.viewer = viewer
    g.session_token = issue_token(viewer)  # the same launch time: the same expiry
    if staff and not viewer.is_staff:
        abort(403, description=_("This page is for the course's staff."))
    return viewer


def member_required(view: F) -> F:
    """Allow anyone launched into the course named by the URL's `course_id`."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        _require(kwargs["course_id"], staff=False)
        return view(*args, **kwargs)

    return cast(F, wrapped)  # functools.wraps: the view's own signature


def staff_required(view: F) -> F:
    """Allow only the staff launched into the course named by the URL's `course_id`."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        _require(kwargs["course_id"], staff=True)
        return view(*args, **kwargs)

    return cast(F, wrapped)  # functools.wraps: the view's own signature


def revoke_sessions(session: Any, person_id: int | None = None, course: Any = None) -> int:
    """End the sessions of a person (every course) or of a course (everyone), audited; returns
    how many enrollments. Tokens launched before now stop opening pages (see session_ended)."""

    query = update(Enrollment).values(sessions_revoked_at=utcnow())
    if person_id is not None:
        query = query.where(Enrollment.person_id == person_id)
    if course is not None:
        query = query.where(Enrollment.course_id == course.id)
    ended = int(session.execute(query).rowcount or 0)
    audit.record(
        session,
        "sessions_revoked",
        f"course {course.id}" if course is not None else f"person {person_id}",
        details={"enrollments": ended},
        platform_id=course.platform_id if course is not None else None,
        course_id=course.id if course is not None else None,
    )
    return ended
