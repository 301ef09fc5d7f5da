"""Security headers on every response: CSP with per-platform frame-ancestors, and friends."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.extensions import db
from lti_tool.models import Course, Platform
from lti_tool.platforms import approved_frame_origins


def _course_platform() -> Platform | None:
    """The platform of the course this request's URL names, if it is a course page."""
    platform: Platform | None = getattr(g, "platform", None)  # the course view found it already
    if platform is not None:
        return platform
    course_id = (request.view_args or {}).get("course_id")
    course = db.session.get(Course, course_id) if isinstance(course_id, int) else None
    if course is None or course.platform_id is None:
        return None
    return db.session.get(Platform, course.platform_id)


def frame_ancestors() -> list[str]:
    """Origins allowed to frame this response, besides the tool itself.

    A course's pages: its own platform's origins, so that no other LMS can frame them. Pages
    outside a course (login, launch, errors, privacy): the origins of every enabled, approved
    platform. A platform that registered itself and waits for approval frames nothing but the
    registration page it opened.
    """
    if not has_request_context():
        return []

    try:
        if request.blueprint == "course":
            platform = _course_platform()
            if platform is None or not (platform.enabled and platform.approved):
                return []
            return list(platform.frame_origins or [])
        origins = approved_frame_origins(db.session)
    except SQLAlchemyError:
        db.session.rollback()
        return []
    registering = g.get("registering_lms_origin")
    if registering and registering not in origins:
        origins.append(registering)
    return origins


#: The admin area is a full page of its own: never framed, no inline styles either.
ADMIN_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def is_admin_path(path: str) -> bool:
    """True for the admin area's URLs."""
    return path == "/admin" or path.startswith("/admin/")


def content_security_policy() -> str:
    """The CSP: scripts only from us, plotly's injected styles allowed, framing by the LMS."""
    if has_request_context() and is_admin_path(request.path):
        return ADMIN_CSP
    ancestors = " ".join(["'self'", *frame_ancestors()])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )


def set_security_headers(response: Response) -> Response:
    """Attach the security headers (no X-Frame-Options: the LMS must frame us)."""
    response.headers["Content-Security-Policy"] = content_security_policy()
    if has_request_context() and is_admin_path(request.path):
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")
    if current_app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def init_app(app: Flask) -> None:
    """Register the header hook."""
    app.after_request(set_security_headers)
