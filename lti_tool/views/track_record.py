"""The at-risk track record page: how the flags of each past week turned out (kpis.backtest)."""

from __future__ import annotations

from datetime import date

from flask import Response, render_template

from lti_tool.activity.rollups import week_start
from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language
from lti_tool.kpis import backtest, course_settings
from lti_tool.kpis.reports import to_csv
from lti_tool.launch.identity import staff_required
from lti_tool.models import Course
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import course_cached, request_marks
from lti_tool.views.course import _course, bp


def _found(course: Course) -> backtest.Backtest:
    return course_cached(
        course, "risk-backtest", lambda: backtest.backtest(db.session, course, key=pseudonym_key())
    )


@bp.get("/at-risk/track-record")
@staff_required
def track_record(course_id: int) -> str:
    """Per past week: learners flagged, how many turned out badly, precision and recall."""
    course = _course(course_id)
    found = _found(course)
    settings = request_marks(course).settings
    rows = [
        {
            "week_start": w.week_start.isoformat(),
            "precision": w.precision,
            "recall": w.recall,
        }
        for w in found.weeks
    ]
    charts = []
    weeks = charts_mod.weeks_of(
        (w.week_start.isoformat() for w in found.weeks), starts_on=settings.starts_on
    )
    if weeks is not None:
        figure = charts_mod.backtest_figure(rows, weeks)
        charts.append(("risk-backtest", charts_mod.figure_json(figure)))
    return render_template(
        "course/track_record.html",
        course=course,
        found=found,
        week_names=_week_names(found, settings),
        charts=charts,
    )


def _week_names(found: backtest.Backtest, settings: course_settings.Settings) -> dict[date, str]:
    """ "Week 3 (Nov 2, 2026)", in the page's language, for each week the page names, numbered
    as the chart numbers them (from the course start, else from the first week judged)."""
    wanted = [w.week_start for w in found.weeks]
    if found.scores_from is not None:
        wanted.append(found.scores_from)
    if not wanted:
        return {}
    origin = week_start(settings.starts_on) if settings.starts_on else min(wanted)
    language = page_language()
    return {
        monday: _(
            "Week %(number)d (%(day)s)",
            number=(monday - origin).days // 7 + 1,
            day=formats.day(monday, language),
        )
        for monday in wanted
    }


@bp.get("/at-risk/track-record.csv")
@staff_required
def track_record_csv(course_id: int) -> Response:
    """The `risk-backtest` report of the page, as CSV."""
    course = _course(course_id)
    return Response(
        to_csv(backtest.report_rows(course, _found(course)), backtest.FIELDS),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="risk-backtest-{course.id}.csv"'},
    )
