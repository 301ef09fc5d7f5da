"""Security headers on every response: CSP with per-platform frame-ancestors, and friends."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.extensions import db
from lti_tool.models import Platform


def frame_ancestors() -> list[str]:
    """Origins allowed to frame this response: the request's platform, else every platform."""
    platform = getattr(g, "platform", None)
    if platform is not None:
        return list(platform.frame_origins or [])
    try:
        origins = db.session.scalars(select(Platform.frame_origins).where(Platform.enabled))
        return sorted({o for row in origins for o in (row or [])})
    except SQLAlchemyError:
        db.session.rollback()
        return []


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
