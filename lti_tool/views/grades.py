"""The Grades page (score distribution, per-assignment quartiles, late and missing) and the
Content page (completion per module), each filterable by section."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from flask import render_template
from markupsafe import Markup, escape

from lti_tool.extensions import db
from lti_tool.i18n.formats import cldr, number
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language
from lti_tool.kpis import completion, grades, learner_summary, page_summary, recipients, resources
from lti_tool.kpis.names import CourseNames
from lti_tool.kpis.roster import percentile
from lti_tool.launch.identity import staff_required
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import course_cached, course_derived
from lti_tool.views.course import (
    _course,
    bp,
    choice_options,
    course_names,
    named,
    summary_section,
)
from lti_tool.views.learners import current_summary, matched_count, page_figures
from lti_tool.views.message import assignment_choices, module_choices

#: The kinds of resource the Content page lists (kpis.resources), as people read them.
KIND_NAMES = {
    "page": N_("page"),
    "video": N_("video"),
    "problem": N_("problem"),
    "activity": N_("activity"),
}


@bp.app_template_filter("pts")
def points_shown(value: float) -> str:
    """Points to at most two decimals, in the page's language (4.625 reads 4.62, 7.0 reads 7;
    4,62 in Spanish and Norwegian)."""
    return format_decimal(round(value, 2), format="#,##0.##", locale=cldr(page_language()))


@bp.get("/grades")
@staff_required
def grades_page(course_id: int) -> str:
    """The distribution of current scores and each assignment's median, quartiles, late, missing."""
    course = _course(course_id)
    # The learners and their scores are the learner summary's (written once per change).
    chosen, sections = summary_section(course)
    scores = learner_summary.score_values(db.session, course, chosen)
    summary = None
    if scores:
        summary = {
            "learners": len(scores),
            "q1": percentile(scores, 0.25),
            "median": percentile(scores, 0.5),
            "q3": percentile(scores, 0.75),
        }
    per_assignment = course_cached(
        course,
        f"assignments-{chosen}",
        # The learners are read only when the figures are computed (see content_page).
        lambda: grades.assignment_rows(
            db.session, course, learner_summary.member_ids(db.session, course, chosen)
        ),
    )
    charts = []
    if scores:
        figure = charts_mod.score_histogram_figure(scores)
        charts.append(("score-distribution", charts_mod.figure_json(figure)))
    graded = [r for r in per_assignment if r["median"] is not None]
    if graded:
        figure = charts_mod.assignment_quartiles_figure(graded)
        charts.append(("assignment-scores", charts_mod.figure_json(figure)))
    return render_template(
        "course/grades.html",
        course=course,
        section=chosen,
        sections=sections,
        summary=summary,
        bins=charts_mod.score_bins(scores),
        assignments=per_assignment,
        charts=charts,
        endpoint="course.grades_page",
        message_options=choice_options((a["id"], a["name"]) for a in assignment_choices(course)),
        message_filters=recipients.ASSIGNMENT_FILTERS,
    )


def _reach_rows(reach: list[dict[str, Any]], known: CourseNames, language: str) -> Markup:
    """The "What learners opened" table's rows, written once per figures, names and language
    (a course has hundreds of pages, videos and problems: the template's outputs per cell were
    most of the page)."""
    kind_names = {kind: _(name) for kind, name in KIND_NAMES.items()}
    dash = "\u2013"
    return Markup(  # noqa: S704 (names and kinds escaped; the counts are ints)
        "".join(
            f"<tr><td>{named(known.shown(r['kind'], r['resource']))}</td>"
            f"<td>{escape(kind_names.get(r['kind'], r['kind']))}</td><td>{int(r['learners'])}</td>"
            f"<td>{dash if r['share'] is None else escape(number(r['share'] * 100, language))}"
            f"{'' if r['share'] is None else ' %'}</td></tr>"
            for r in reach
        )
    )


@bp.get("/content")
@staff_required
def content_page(course_id: int) -> str:
    """Completion per module: learners who completed it, started it, and the median items done."""
    course = _course(course_id)
    chosen, sections = summary_section(course)
    # The class's learners are read only when a figure is computed (100,000 ids are a tenth
    # of a second); the page itself needs their number (the summary's state keeps the class's:
    # counting 100,000 rows was 7 ms a request).
    state = current_summary(course)
    learners = matched_count(course, state, {"section": chosen}) if chosen else state.learners

    def people() -> set[int]:
        return learner_summary.member_ids(db.session, course, chosen)

    modules = course_cached(
        course, f"modules-{chosen}", lambda: completion.module_rows(db.session, course, people())
    )
    reach = (
        course_cached(
            course,
            f"resources-{chosen}",
            lambda: resources.resource_reach(db.session, course, people()),
        )
        if chosen
        # The whole class's: written once per change (kpis.page_summary).
        else page_figures(course, page_summary.CONTENT)["reach"]
    )
    charts = []
    if modules and learners:
        figure = charts_mod.module_completion_figure(modules)
        charts.append(("module-completion", charts_mod.figure_json(figure)))
    known = course_names(course)
    language = page_language()
    table = course_derived(
        course,
        f"reach-table-{chosen}-{language}",
        (reach, known),
        lambda: _reach_rows(reach, known, language),
    )
    return render_template(
        "course/content.html",
        course=course,
        section=chosen,
        sections=sections,
        modules=modules,
        reach=table,
        learners=learners,
        charts=charts,
        endpoint="course.content_page",
        message_options=choice_options((m["id"], m["name"]) for m in module_choices(course)),
        message_filters=recipients.MODULE_FILTERS,
    )
