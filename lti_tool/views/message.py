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
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.kpis import completion, grades, problems, recipients
from lti_tool.kpis.names import assignment_name, module_name
from lti_tool.launch.identity import staff_required
from lti_tool.models import Assignment, Course, CourseModule
from lti_tool.views.course import _course, bp, course_names
from lti_tool.views.learners import addresses_page, class_table, fmt_score

# Per kind of item: the page the form is on (endpoint, the link back to it).
PAGES = {
    "assignment": ("course.grades_page", N_("Back to the grades")),
    "video": ("course.videos", N_("Back to the videos")),
    "module": ("course.content_page", N_("Back to the content")),
    "problem": ("course.problems_page", N_("Back to the problems")),
}
# Who the learners are, in words ("Learners who …"), per kind of item and filter; %(item)s is
# the item's name.
ABOUT = {
    ("assignment", "not_submitted"): N_("haven't submitted %(item)s"),
    ("assignment", "late"): N_("submitted late %(item)s"),
    ("video", "not_opened"): N_("haven't opened %(item)s"),
    ("video", "not_completed"): N_("haven't watched to the end %(item)s"),
    ("module", "not_started"): N_("haven't started %(item)s"),
    ("module", "not_completed"): N_("haven't completed %(item)s"),
    ("problem", "not_solved"): N_("haven't solved %(item)s"),
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
        abort(400, description=_("Scored below: give a number of points or a percentage."))
    if not math.isfinite(value) or value < 0:
        abort(400, description=_("Scored below: give a number of points or a percentage."))
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
            abort(404, description=_("This assignment is not one of this course's."))
        if who not in recipients.ASSIGNMENT_FILTERS:
            abort(400, description=_("Choose who: not submitted, submitted late or scored below."))
        below = None
        unit = request.form.get("unit", "points")
        if who == "below":
            below = _threshold(request.form.get("below", ""))
            if unit not in recipients.UNITS:
                abort(400, description=_("Scored below: points or percent."))
        try:
            found = recipients.assignment_recipients(
                db.session, course, assignment, who, people, below, unit
            )
        except recipients.NoScale:
            abort(
                400,
                description=_(
                    "%(assignment)s has no points possible: give points.",
                    assignment=assignment.name,
                ),
            )
        if below is None:
            return found, _(ABOUT[(kind, who)], item=assignment.name)
        threshold = fmt_score(below)
        if unit == "percent":
            return found, _(
                "scored below %(below)s %% on %(item)s", below=threshold, item=assignment.name
            )
        return found, _(
            "scored below %(below)s points on %(item)s", below=threshold, item=assignment.name
        )
    if kind == "video":
        known = course_names(course)
        if ("video", item) not in known.names:
            abort(404, description=_("This video is not one of this course's."))
        if who not in recipients.VIDEO_FILTERS:
            abort(400, description=_("Choose who: not opened, or not watched to the end."))
        found = recipients.video_recipients(db.session, course, item, who, people)
        return found, _(ABOUT[(kind, who)], item=known.video(item))
    if kind == "module":
        module = db.session.scalar(
            select(CourseModule).where(
                CourseModule.id == (int(item) if item.isdigit() else -1),
                CourseModule.course_id == course.id,
                CourseModule.removed.is_(False),
            )
        )
        if module is None:
            abort(404, description=_("This module is not one of this course's."))
        if who not in recipients.MODULE_FILTERS:
            abort(400, description=_("Choose who: not started, or not completed."))
        found = recipients.module_recipients(db.session, course, module, who, people)
        name = next(m["name"] for m in module_choices(course) if m["id"] == module.id)
        return found, _(ABOUT[(kind, who)], item=name)
    if kind == "problem":
        known = course_names(course)
        if ("problem", item) not in known.names:
            abort(404, description=_("This problem is not one of this course's."))
        if who not in recipients.PROBLEM_FILTERS:
            abort(400, description=_("Choose who: not solved."))
        found = recipients.problem_recipients(db.session, course, item, who, people)
        name = problems.problem_name(db.session, course, item)
        return found, _(ABOUT[(kind, who)], item=name)
    abort(400, description=_("Unknown kind of item: assignment, video, module or problem."))


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
        about = _("%(about)s (section %(section)s)", about=about, section=section)
    return addresses_page(course, chosen, about=about, back=(back, _(page)))
