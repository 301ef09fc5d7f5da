"""The administrators' audit log page (/admin/audit): who did what, when, from where."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import select

from lti_tool.admin import bp
from lti_tool.admin.auth import current_scope
from lti_tool.audit import ACTIONS
from lti_tool.extensions import db
from lti_tool.i18n.text import gettext as _
from lti_tool.models import AdminAudit, Course, Platform
from lti_tool.query_args import id_arg, page_arg

PAGE_SIZE = 100


@bp.get("/audit")
def audit_log() -> str:
    """Newest first, filtered by action, who, platform or course; a deployment's administrator
    sees the rows about the courses launched through its deployment."""
    scope = current_scope()
    filters: dict[str, Any] = {
        "action": request.args.get("action", ""),
        "actor": request.args.get("actor", "").strip()[:320],
        "platform": id_arg("platform"),
        "course": id_arg("course"),
    }
    page = page_arg()
    query = (
        select(AdminAudit, Platform, Course)
        .outerjoin(Platform, Platform.id == AdminAudit.platform_id)
        .outerjoin(Course, Course.id == AdminAudit.course_id)
        .order_by(AdminAudit.at.desc(), AdminAudit.id.desc())
    )
    if not scope.is_global:
        # Rows about the whole tool or another deployment's courses are not theirs to read.
        query = query.where(AdminAudit.course_id.is_not(None), scope.courses(AdminAudit.course_id))
    if filters["action"] in ACTIONS:
        query = query.where(AdminAudit.action == filters["action"])
    if filters["actor"]:
        query = query.where(AdminAudit.actor.contains(filters["actor"], autoescape=True))
    if filters["platform"]:
        query = query.where(AdminAudit.platform_id == filters["platform"])
    if filters["course"]:
        query = query.where(AdminAudit.course_id == filters["course"])
    rows = db.session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    platforms = (
        list(db.session.scalars(select(Platform).order_by(Platform.name)))
        if scope.is_global
        else []
    )
    return render_template(
        "admin/audit.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        filters=filters,
        actions={key: _(label) for key, label in ACTIONS.items()},
        platforms=platforms,
        query={k: v for k, v in filters.items() if v},
    )
