"""The tool's front door (outside any course) and its health check."""

from __future__ import annotations

import functools
import os

import plotly
from flask import Blueprint, Response, current_app, render_template, send_from_directory
from sqlalchemy.exc import SQLAlchemyError

from lti_tool.extensions import MIGRATIONS_DIRECTORY, db
from lti_tool.launch.identity import course_home_url

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """What this is and how to open it (from the LMS, or the development platform)."""
    return render_template("home.html", dev=current_app.config.get("DEV_PLATFORM_ENABLED"))


@bp.get("/privacy")
def privacy() -> str:
    """What the tool collects, who sees it, how long it is kept, how to ask for it or delete it."""
    return render_template("privacy.html", back_url=course_home_url())


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (no CDN), cached for a day."""
    folder = os.path.join(os.path.dirname(plotly.__file__), "package_data")
    return send_from_directory(folder, "plotly.min.js", max_age=86400)


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str | None], int]:
    """Ready: the database answers and its schema is at the migrations' head."""
    from alembic.migration import MigrationContext  # alembic only here, not at start-up

    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        return {
            "status": "not ready",
            "reason": f"database unreachable ({type(exc).__name__})",
        }, 503
    head = migrations_head(MIGRATIONS_DIRECTORY)
    if current != head:
        reason = (
            f"database schema at {current or 'nothing'}, code expects {head}: run flask db upgrade"
        )
        return {"status": "not ready", "reason": reason}, 503
    return {"status": "ready", "revision": head}, 200


@functools.cache
def migrations_head(folder: str) -> str | None:
    """The newest revision of the migration scripts (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(folder).get_current_head()
