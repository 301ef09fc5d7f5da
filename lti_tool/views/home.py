"""The tool's front door (outside any course) and its health check."""

from __future__ import annotations

import os

import plotly
from flask import Blueprint, Response, current_app, render_template, send_from_directory

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    """What this is and how to open it (from the LMS, or the development platform)."""
    return render_template("home.html", dev=current_app.config.get("DEV_PLATFORM_ENABLED"))


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (no CDN), cached for a day."""
    folder = os.path.join(os.path.dirname(plotly.__file__), "package_data")
    return send_from_directory(folder, "plotly.min.js", max_age=86400)
