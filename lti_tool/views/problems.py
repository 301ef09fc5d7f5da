"""The Problems page: the hardest problems first, each one's answer distribution, the Canvas
assignments' score spread, and "message learners who have not solved it yet"."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Response, abort, render_template, request
from markupsafe import Markup, escape

from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language
from lti_tool.kpis import grades, page_summary, problems, recipients
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.reports import REPORTS, to_csv
from lti_tool.launch.identity import staff_required
from lti_tool.models import Course
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import course_cached, course_derived
from lti_tool.views.course import (
    _course,
    bp,
    choice_options,
    chosen_section,
    class_people,
    course_names,
    section_choice,
)
from lti_tool.views.learners import page_figures
from lti_tool.views.links import quoted, row_choice_links

#: Parts of one problem drawn as charts at most (their tables list them all).
MOST_PART_CHARTS = 12


def hardest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problems by their share right at the first attempt, lowest first (course order within)."""
    return sorted(rows, key=lambda r: r["first_attempt_correct_share"])


def _class_rows(
    course: Course, people: set[int]
) -> tuple[list[problems.LearnerChecks], list[dict[str, Any]]]:
    """The class's (or section's) checks, and the problems' rows in course order."""
    checks = problems.learner_checks(db.session, course, people)
    return checks, problems.performance_rows(checks, course_names(course))


def _parts(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """One problem's answer distribution (problems.distribution_rows), per part in the
    problem's order: (title, answers), the answers most given first."""
    by_part: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_part.setdefault(row["part_id"], []).append(row)
    parts = []
    for number, part_id in enumerate(sorted(by_part, key=_part_order), start=1):
        answers = sorted(by_part[part_id], key=lambda r: -r["last_response_count"])
        question = next((r["question"] for r in answers if r["question"]), "")
        title = (
            _("Question %(number)d: %(question)s", number=number, question=question)
            if question
            else _("Question %(number)d", number=number)
        )
        parts.append((title, answers))
    return parts


def _part_order(part_id: str) -> tuple[int, str]:
    """Open edX numbers a problem's parts <block>_<n>_1 from n = 2: in that order."""
    pieces = part_id.rsplit("_", 2)
    number = int(pieces[1]) if len(pieces) == 3 and pieces[1].isdigit() else 1_000_000
    return number, part_id


class ProblemTable(NamedTuple):
    """The problems table as a worker keeps it: the problems in course order, named; hardest
    first; each row's cells but the link's and its id as a link's query writes it."""

    rows: list[dict[str, Any]]
    ranked: list[dict[str, Any]]
    cells: list[str]
    quoted: list[str]


def _problem_table(rows: list[dict[str, Any]], language: str) -> ProblemTable:
    """The problems table written once per figures, names and language (a course has hundreds
    of problems: the template's outputs, filters and links a row were most of the page)."""
    ranked = hardest_first(rows)
    nobody_right = escape(_("nobody right yet"))
    cells = []
    for p in ranked:
        share = escape(formats.number(p["first_attempt_correct_share"] * 100, language))
        until_right = p["mean_attempts_to_correct"]
        until = nobody_right
        if until_right is not None:
            until = escape(formats.number(until_right, language, 1))
        cells.append(
            f'<td><span class="named" title="{escape(p["module_id"])}">{escape(p["problem"])}'
            f"</span></td><td>{share} %</td><td>{int(p['learners'])}</td>"
            f"<td>{int(p['attempts'])}</td><td>{until}</td>"
        )
    quoted_ids = [str(escape(quoted(p["module_id"]))) for p in ranked]
    return ProblemTable(rows, ranked, cells, quoted_ids)


def _problem_rows(table: ProblemTable, chosen: str | None, section: str, course: Course) -> Markup:
    """The problems table's rows: the kept cells, each row's link (the viewer's session) and
    the chosen row's mark."""
    link = row_choice_links("course.problems_page", "problem", course.id, section)
    head, rest, show = escape(link.head), escape(link.rest), escape(_("show"))
    current = {chosen: ' aria-current="true"'}
    return Markup(  # noqa: S704 (the cells escaped by _problem_table, the link here)
        "\n".join(
            f"<tr{current.get(p['module_id'], '')}>{cells}"
            f'<td><a href="{head}{quoted_id}{rest}#answers-title">{show}</a></td></tr>'
            for p, cells, quoted_id in zip(table.ranked, table.cells, table.quoted, strict=True)
        )
    )


@bp.get("/problems")
@staff_required
def problems_page(course_id: int) -> str:
    """Problems, hardest first; the chosen one's answer distribution; assignment scores."""
    course = _course(course_id)
    section, sections, people = chosen_section(course)
    stored: dict[str, list[dict[str, Any]]]
    language = page_language()
    name = f"problem-table-{section}-{language}"
    if section and people is not None:
        checks, section_rows = course_cached(
            course, f"problems-{section}", lambda: _class_rows(course, people)
        )
        stored = {}
        table = course_derived(
            course, name, (section_rows,), lambda: _problem_table(section_rows, language)
        )
    else:
        # The whole class's: written once per change (kpis.page_summary), named here.
        found = page_figures(course, page_summary.PROBLEMS)
        checks, stored = [], found["answers"]
        known = course_names(course)
        table = course_derived(
            course,
            name,
            (found, known),
            lambda: _problem_table(problems.named_rows(found["stats"], known), language),
        )
    rows, ranked = table.rows, table.ranked
    chosen = request.args.get("problem") or (ranked[0]["module_id"] if ranked else None)
    if chosen and chosen not in {r["module_id"] for r in rows}:
        chosen = ranked[0]["module_id"] if ranked else None
    chosen_row = next((r for r in rows if r["module_id"] == chosen), None)
    if not chosen:
        parts = []
    elif section:
        parts = _parts(problems.distribution_rows([c for c in checks if c.problem_id == chosen]))
    else:
        parts = _parts(stored.get(chosen, []))
    charts = []
    for index, (_title, answers) in enumerate(parts[:MOST_PART_CHARTS]):
        # The question is the heading above the chart: the chart's title says what it counts.
        figure = charts_mod.answer_distribution_figure(answers)
        charts.append((f"answers-{index}", charts_mod.figure_json(figure)))
    assignments = course_cached(
        course,
        f"assignments-{section}",
        lambda: grades.assignment_rows(
            db.session, course, people if people is not None else class_people(course)
        ),
    )
    graded = [r for r in assignments if r["median"] is not None]
    if graded:
        figure = charts_mod.assignment_quartiles_figure(graded)
        charts.append(("assignment-scores", charts_mod.figure_json(figure)))
    return render_template(
        "course/problems.html",
        course=course,
        section=section,
        sections=sections,
        endpoint="course.problems_page",
        problems=ranked,
        problem_rows=_problem_rows(table, chosen, section, course),
        chosen=chosen_row,
        parts=parts,
        answer_label=charts_mod.answer_label,
        graded=graded,
        charts=charts,
        message_options=choice_options(
            [(r["module_id"], r["problem"]) for r in rows],
            chosen_row["module_id"] if chosen_row else None,
        ),
        message_filters=recipients.PROBLEM_FILTERS,
    )


@bp.get("/problems.csv")
@staff_required
def problems_csv(course_id: int) -> Response:
    """The page's figures as CSV (the class or the chosen section): `?table=answers` the
    answer distribution, else problem performance (the reports' columns)."""
    course = _course(course_id)
    _section, _sections, people = section_choice(course)
    checks, rows = _class_rows(course, people)
    label = course_label(course)
    if request.args.get("table") == "answers":
        name = "answer-distribution"
        found = problems.distribution_rows(checks, course_names(course))
    elif request.args.get("table", "problems") == "problems":
        name, found = "problem-performance", rows
    else:
        abort(400, description="table is problems or answers.")
    body = to_csv([{"course": label, **row} for row in found], REPORTS[name].fields)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
