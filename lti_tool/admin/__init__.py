"""The admin area (/admin): local administrators, platforms, keys, data sources, sync health.

Full pages outside the LMS iframe, with their own session cookie and a CSRF token on every
form; see lti_tool.admin.auth.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, g, redirect, request, url_for

from lti_tool.admin import auth
from lti_tool.extensions import db
from lti_tool.i18n.text import gettext as _
from lti_tool.launch.identity import TOKEN_PARAM, read_token

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Endpoints open without an admin session (they still check the CSRF token on POST).
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.enter"})


def _launched_session() -> bool:
    """True when the request carries a course session token (a launch, not an admin login)."""
    header = request.headers.get("Authorization", "")
    candidates = [request.args.get(TOKEN_PARAM, ""), request.form.get(TOKEN_PARAM, "")]
    if header.lower().startswith("bearer "):
        candidates.append(header[7:].strip())
    return any(read_token(token) for token in candidates if token)


def safe_next(value: str | None) -> str:
    """Where to go after login: a path inside /admin only (never another site)."""
    if value and value.startswith("/admin") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return url_for("admin.dashboard")


@bp.before_request
def load_admin() -> Any:
    """Find the administrator; refuse launches, send strangers to the login, check CSRF."""
    data = auth.read_session()
    g.admin_session = data
    g.admin = auth.scope_from_session(db.session, data)
    if request.endpoint not in PUBLIC_ENDPOINTS and g.admin is None:
        if _launched_session():
            abort(
                403,
                description=_(
                    "A course launch does not open the admin area: administrators sign in at "
                    "/admin/login (or use the Administration link their LMS launch offers, "
                    "where that is switched on)."
                ),
            )
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target), code=303)
    if request.method == "POST" and not auth.csrf_ok(data):
        abort(
            400,
            description=_(
                "This form was sent without its security token (CSRF protection), or the "
                "token belongs to an older session. Nothing was changed: reload the page and "
                "submit the form again."
            ),
        )
    if data is None:
        g.admin_new_session = auth.new_session()
    return None


def csrf_token() -> str:
    """This session's CSRF token, for the hidden field of every admin form."""
    data = g.get("admin_new_session") or g.get("admin_session") or {}
    return str(data.get("csrf", ""))


@bp.after_request
def save_new_session(response: Response) -> Response:
    """Set a session cookie made during this request (first visit, login, logout)."""
    fresh = g.get("admin_new_session")
    if fresh is not None:
        auth.save_session(response, fresh)
    return response


@bp.after_request
def admin_no_store(response: Response) -> Response:
    """Admin pages are never cached (their CSP and framing rules are in lti_tool.security)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def admin_template_globals() -> dict[str, Any]:
    """csrf_token() for admin forms."""
    return {"csrf_token": csrf_token}


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    from lti_tool.admin import audit_log, platforms, views  # noqa: F401 (routes attach to bp)

    app.register_blueprint(bp)
