"""Where learners are (`/courses/<course>/countries`): learners per last known country, as a
bar chart and its table, by section, and as CSV (kpis.geography)."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from lti_tool.extensions import db
from lti_tool.i18n.web import page_language
from lti_tool.kpis import geography, page_summary
from lti_tool.kpis.reports import to_csv
from lti_tool.launch.identity import staff_required
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import request_marks
from lti_tool.views.course import _course, bp, chosen_section
from lti_tool.views.learners import page_figures


@bp.get("/countries")
@staff_required
def countries(course_id: int) -> str | Response:
    """Learners per country (small countries together), for the class or one section."""
    course = _course(course_id)
    section, sections, people = chosen_section(course)
    floor = request_marks(course).settings.privacy_floor
    if people is None:
        # The whole class's: written once per change (kpis.page_summary), named here.
        counts = page_figures(course, page_summary.COUNTRIES)["counts"]
    else:
        counts = geography.country_counts(db.session, course, people)
    learners = sum(counts.values())
    if request.args.get("format") == "csv":
        # CSV stays English (its country names too). The file's name has no section name in
        # it: a name can hold any character.
        return Response(
            to_csv(geography.counted_rows(course, counts, floor), geography.FIELDS),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="countries-{course.id}.csv"'},
        )
    rows = geography.counted_rows(course, counts, floor, locale=page_language())
    located = [r for r in rows if r["country_code"] != geography.NOT_RECORDED]
    charts = []
    if located:
        figure = charts_mod.countries_figure(located)
        charts.append(("countries", charts_mod.figure_json(figure)))
    return render_template(
        "course/countries.html",
        course=course,
        section=section,
        sections=sections,
        endpoint="course.countries",
        rows=rows,
        located=located,
        learners=learners,
        floor=floor,
        charts=charts,
        other=geography.OTHER,
        not_recorded=geography.NOT_RECORDED,
    )
