"""The course pages: staff overview and the learner's own page."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, render_template
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.kpis import activity
from lti_tool.launch.identity import member_required, staff_required
from lti_tool.models import Course, Enrollment, Person, Platform
from lti_tool.models.types import utcnow
from lti_tool.views import charts as charts_mod

bp = Blueprint("course", __name__, url_prefix="/courses/<int:course_id>")


def _course(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404, description="This course is not known to the tool.")
    g.platform = db.session.get(Platform, course.platform_id) if course.platform_id else None
    return course


def enrollment_counts(course_id: int) -> dict[str, int]:
    """Active enrollments per course role (test users left out), as the tool knows them."""
    rows = db.session.execute(
        select(Enrollment.course_role, func.count())
        .where(
            Enrollment.course_id == course_id,
            Enrollment.status == "active",
            Enrollment.is_test_user.is_(False),
        )
        .group_by(Enrollment.course_role)
    )
    return {role: count for role, count in rows}


@bp.get("/")
@staff_required
def overview(course_id: int) -> str:
    """Staff overview: cards, learners per week, time spent per week."""
    course = _course(course_id)
    viewer = db.session.get(Person, g.viewer.person_id)
    cutoff = activity.DEFAULT_CUTOFF_MINUTES
    weekly = activity.weekly_activity(db.session, course)
    weekly_time = activity.weekly_time_spent(db.session, course, cutoff)
    today = utcnow().date()
    cards = {
        "active_7_days": activity.learners_active_since(db.session, course, today - timedelta(6)),
        "median_weekly_hours": (
            round(weekly_time[-1]["median_seconds"] / 3600, 1) if weekly_time else None
        ),
    }
    charts = []
    if weekly:
        charts.append(("weekly-activity", charts_mod.weekly_activity_figure(weekly)))
    if weekly_time:
        charts.append(("weekly-time", charts_mod.weekly_time_figure(weekly_time, cutoff)))
    return render_template(
        "course/overview.html",
        course=course,
        counts=enrollment_counts(course_id),
        viewer=viewer,
        cards=cards,
        weekly=weekly,
        weekly_time=weekly_time,
        cutoff=cutoff,
        charts=[(name, charts_mod.figure_json(fig)) for name, fig in charts],
    )


@bp.get("/me")
@member_required
def me(course_id: int) -> str:
    """The learner's own page."""
    course = _course(course_id)
    viewer = db.session.get(Person, g.viewer.person_id)
    return render_template("course/me.html", course=course, viewer=viewer)
