"""The Enrollment page: learners enrolled per day by mode (as Insights counts them), this
week's change, and who enrolled before and after the course's start; its CSV."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from flask import Response, render_template

from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.i18n.web import page_language
from lti_tool.kpis import enrollment as enrollment_kpi
from lti_tool.kpis import page_summary
from lti_tool.kpis.enrollment import Enrollments
from lti_tool.kpis.reports import to_csv
from lti_tool.launch.identity import staff_required
from lti_tool.models import Course
from lti_tool.models.types import utcnow
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import DAY_CACHE_SECONDS, course_cached, request_marks
from lti_tool.views.course import _course, bp, section_members
from lti_tool.views.learners import page_figures


@bp.app_template_filter("change")
def change(value: int) -> str:
    """A change in a count: +3, a minus sign and 2 for a drop, or 0 for none (the page's
    language's digit grouping)."""
    shown = formats.number(abs(value), page_language())
    if value > 0:
        return f"+{shown}"
    return f"\u2212{shown}" if value < 0 else "0"


@bp.get("/enrollment")
@staff_required
def enrollment_page(course_id: int) -> str:
    """Enrolled learners over time by mode, the week's change, before and after the start."""
    course = _course(course_id)
    section, sections, people = section_members(course)
    settings = request_marks(course).settings
    # A function of the data and the course's day (to which it counts): kept for the day.
    today = settings.today(utcnow())
    result = course_cached(
        course,
        f"enrollment-{section}-{today.isoformat()}",
        lambda: _enrollments(course, people, today),
        DAY_CACHE_SECONDS,
    )
    days = sorted({row.day for row in result.rows})
    modes = enrollment_kpi.modes_now(result)
    # Modes in the order of today's table, then those gone since (by name).
    order = {m.mode: i for i, m in enumerate(modes)}
    shown = sorted(
        {row.mode for row in result.rows if row.mode != enrollment_kpi.ALL},
        key=lambda m: (order.get(m, len(order)), enrollment_kpi.mode_name(m)),
    )
    # The chart's lines and the table's columns: all modes, then each mode when there are two.
    columns = [enrollment_kpi.ALL] + (shown if len(shown) > 1 else [])
    by_day = {(row.day, row.mode): row for row in result.rows}
    table = [
        (
            day,
            [by_day[(day, m)].count if (day, m) in by_day else 0 for m in columns],
            by_day[(day, enrollment_kpi.ALL)].cumulative_count,
        )
        for day in days
    ]
    charts = []
    if days:
        series = {
            enrollment_kpi.mode_name(m): [row[1][i] for row in table] for i, m in enumerate(columns)
        }
        figure = charts_mod.enrollment_figure(days, series, settings.starts_on)
        charts.append(("enrollment", charts_mod.figure_json(figure)))
    return render_template(
        "course/enrollment.html",
        course=course,
        section=section,
        sections=sections,
        endpoint="course.enrollment_page",
        result=result,
        modes=modes,
        total=modes[0] if modes else None,
        week_ago=result.last_day - timedelta(days=7),
        split=enrollment_kpi.start_split(result, settings.starts_on),
        starts_on=settings.starts_on,
        columns=[enrollment_kpi.mode_name(m) for m in columns],
        table=_shown(reversed(table)),  # the latest day first
        time_zone=settings.time_zone,
        charts=charts,
    )


def _shown(
    table: Iterable[tuple[date, list[int], int]],
) -> list[tuple[str, list[str], str]]:
    """The daily table's cells as the page's language writes them: written here rather than
    by the template (a day per row since the first enrollment: hundreds of rows)."""
    language = page_language()
    return [
        (
            formats.day(day, language),
            [formats.number(n, language) for n in counts],
            formats.number(ever, language),
        )
        for day, counts, ever in table
    ]


def _enrollments(course: Course, people: set[int] | None, today: date) -> Enrollments:
    """The course's enrollment history to `today`: the whole course's from its page summary
    (written once per change: 0.8 s to count at 100,000 learners), counted on to today; a
    section's counted now."""
    if people is None:
        stored = page_figures(course, page_summary.ENROLLMENT)
        found = enrollment_kpi.from_figures(stored, today)
        if found is not None:
            return found
    return enrollment_kpi.enrollments(db.session, course, people, today)


@bp.get("/enrollment.csv")
@staff_required
def enrollment_csv(course_id: int) -> Response:
    """The `enrollment-daily` report of the course (of the section chosen) as CSV."""
    course = _course(course_id)
    _section_name, _sections, people = section_members(course)
    rows = enrollment_kpi.enrollment_daily(db.session, course, people)
    return Response(
        to_csv(rows, enrollment_kpi.FIELDS),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="enrollment-{course.id}.csv"'},
    )
