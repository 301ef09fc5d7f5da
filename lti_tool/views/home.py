"""The tool's front door (outside any course) and its health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """What this is and how to open it (from the LMS, or the development platform)."""
    return render_template("home.html", dev=current_app.config.get("DEV_PLATFORM_ENABLED"))


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}
