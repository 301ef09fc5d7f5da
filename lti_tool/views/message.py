"""Message students who…: the forms on the Grades, Videos, Content and Problems pages send here; the
learners who match go to the learners table's e-mail page (views.learners.addresses_page: a
BCC mailto link and a CSV, written to the access log)."""

from __future__ import annotations

import math
from typing import Any

from flask import abort, g, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.extensions import db
from lti_tool.kpis import completion, grades, problems, recipients
from lti_tool.kpis.names import assignment_name, module_name
from lti_tool.launch.identity import staff_required
from lti_tool.models import Assignment, Course, CourseModule
from lti_tool.views.course import _course, bp, course_names
from lti_tool.views.learners import addresses_page, class_table

# Per kind of item: the page the form is on (endpoint, its name) and the filters it offers.
PAGES = {
    "assignment": ("course.grades_page", "the grades"),
    "video": ("course.videos", "the videos"),
    "module": ("course.content_page", "the content"),
    "problem": ("course.problems_page", "the problems"),
}


def assignment_choices(course: Course) -> list[dict[str, Any]]:
    """The course's assignments as the Grades page's form offers them."""
    return [
        {"id": a.id, "name": assignment_name(a.name, number), "points": a.points_possible}
        for number, a in enumerate(grades.assignments(db.session, course), 1)
    ]


def module_choices(course: Course) -> list[dict[str, Any]]:
    """The course's modules as the Content page's form offers them (names as the page's)."""
    return [
        {"id": m.id, "name": module_name(m.name, number)}
        for number, m in enumerate(completion.modules(db.session, course), 1)
    ]


def _threshold(raw: str) -> float:
    """The "scored below" number, or a 400 saying what is wrong."""
    try:
        value = float(raw.replace(",", ".").strip())
    except ValueError:
        abort(400, description="Scored below: give a number of points or a percentage.")
    if not math.isfinite(value) or value < 0:
        abort(400, description="Scored below: give a number of points or a percentage.")
    return value


def _picked(course: Course, people: set[int]) -> tuple[set[int], str]:
    """The learners the form's filter picks among `people`, and who they are in words."""
    kind, item, who = (
        request.form.get("kind"),
        request.form.get("item", ""),
        request.form.get("who"),
    )
    if kind == "assignment":
        assignment = db.session.get(Assignment, int(item)) if item.isdigit() else None
        shown = assignment is not None and assignment.published and not assignment.removed
        if assignment is None or assignment.course_id != course.id or not shown:
            abort(404, description="This assignment is not one of this course's.")
        if who not in recipients.ASSIGNMENT_FILTERS:
            abort(400, description="Choose who: not submitted, submitted late or scored below.")
        below = None
        unit = request.form.get("unit", "points")
        if who == "below":
            below = _threshold(request.form.get("below", ""))
            if unit not in recipients.UNITS:
                abort(400, description="Scored below: points or percent.")
        try:
            found = recipients.assignment_recipients(
                db.session, course, assignment, who, people, below, unit
            )
        except recipients.NoScale:
            abort(400, description=f"{assignment.name} has no points possible: give points.")
        words = recipients.ASSIGNMENT_FILTERS[who]
        if below is not None:
            words += f" {below:g} {'%' if unit == 'percent' else 'points'} on"
        return found, f"{words} {assignment.name}"
    if kind == "video":
        known = course_names(course)
        if ("video", item) not in known.names:
            abort(404, description="This video is not one of this course's.")
        if who not in recipients.VIDEO_FILTERS:
            abort(400, description="Choose who: not opened, or not watched to the end.")
        found = recipients.video_recipients(db.session, course, item, who, people)
        return found, f"{recipients.VIDEO_FILTERS[who]} {known.video(item)}"
    if kind == "module":
        module = db.session.scalar(
            select(CourseModule).where(
                CourseModule.id == (int(item) if item.isdigit() else -1),
                CourseModule.course_id == course.id,
                CourseModule.removed.is_(False),
            )
        )
        if module is None:
            abort(404, description="This module is not one of this course's.")
        if who not in recipients.MODULE_FILTERS:
            abort(400, description="Choose who: not started, or not completed.")
        found = recipients.module_recipients(db.session, course, module, who, people)
        name = next(m["name"] for m in module_choices(course) if m["id"] == module.id)
        return found, f"{recipients.MODULE_FILTERS[who]} {name}"
    if kind == "problem":
        known = course_names(course)
        if ("problem", item) not in known.names:
            abort(404, description="This problem is not one of this course's.")
        if who not in recipients.PROBLEM_FILTERS:
            abort(400, description="Choose who: not solved.")
        found = recipients.problem_recipients(db.session, course, item, who, people)
        name = problems.problem_name(db.session, course, item)
        return found, f"{recipients.PROBLEM_FILTERS[who]} {name}"
    abort(400, description="Unknown kind of item: assignment, video, module or problem.")


@bp.post("/message")
@staff_required
def message_learners(course_id: int) -> str | Response:
    """The class's learners (of one section, when the page had one chosen) who match a filter
    on one assignment, video or module: their addresses, as "E-mail the selected learners"
    gives them."""
    course = _course(course_id)
    _data, rows = class_table(course)
    section = request.form.get("section", "")
    section = section if section in rows.sections() else ""
    found, about = _picked(course, rows.people(section))
    chosen = [r for r in rows.sorted_by("name", False) if r["person"] in found]
    endpoint, page = PAGES[request.form.get("kind", "")]
    back = url_for(endpoint, course_id=course.id, section=section or None, t=g.session_token)
    if section:
        about += f" (section {section})"
    return addresses_page(course, chosen, about=about, back=(back, page))
