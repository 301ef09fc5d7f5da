"""The learner's own page (`/me`), and staff's preview of it ("Student view").

A learner sees only themself: a `person` in their request is refused. Staff choose whose page to
preview: a learner of the class (each preview written to the access log as
`student_view_preview`), or a typical learner made of class medians (the default), which is no
one's data and is shown only when the class is at least the privacy floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, g, render_template, request
from markupsafe import Markup, escape

from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.text import ngettext
from lti_tool.i18n.web import page_language
from lti_tool.kpis import (
    course_events,
    course_settings,
    course_summary,
    learner_summary,
    page_summary,
    student,
    video_engagement,
)
from lti_tool.kpis import learners as learners_kpi
from lti_tool.launch.identity import member_required
from lti_tool.models import Course, Person
from lti_tool.models.types import utcnow
from lti_tool.query_args import is_digits
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import course_cached, request_marks
from lti_tool.views.course import _course, bp, course_names, video_rows
from lti_tool.views.learners import (
    class_figures,
    commit_keeping_loaded,
    page_figures,
    record_access,
    video_durations,
)

# The query parameter naming whose page staff preview: a learner's person id, or TYPICAL.
PREVIEW_PARAM = "person"
#: Up to this many learners staff's chooser lists the whole class; beyond, a search finds them.
CHOOSER_LISTS_ALL = 500
#: The most learners a search lists.
CHOOSER_FOUND = 50
TYPICAL = "typical"
PREVIEW_ACTION = "student_view_preview"


@dataclass(frozen=True)
class Subject:
    """Whose page this is: the viewer themself, a learner staff preview, or the typical one."""

    kind: str  # self | learner | typical
    person_id: int | None = None
    name: str = ""


def _subject(course: Course) -> Subject:
    """Who the page is about: a learner always themself (a `person` asked for: 403); staff the
    learner chosen (unknown: 404), else the typical learner."""
    chosen = request.args.get(PREVIEW_PARAM)
    if not g.viewer.is_staff:
        if chosen is not None:
            abort(403, description=_("Only course staff can look at another learner's page."))
        return Subject("self", g.viewer.person_id)
    if chosen is None or chosen == TYPICAL:
        return Subject(TYPICAL)
    name = (
        course_summary.member_name(db.session, course, int(chosen))
        if is_digits(chosen) and len(chosen) < 19
        else None
    )
    if name is None:
        abort(404, description=_("This person is not a learner of this course."))
    return Subject("learner", int(chosen), name)


@bp.get("/me")
@member_required
def me(course_id: int) -> str:
    """The learner's own page: their weeks, work, scores, videos, modules and days beside
    anonymous class figures (hidden below the privacy floor); staff preview a learner's."""
    course = _course(course_id)
    viewer = db.session.get(Person, g.viewer.person_id)
    settings = request_marks(course).settings
    figures = class_figures(course)
    subject = _subject(course)
    if subject.kind == "learner":
        record_access(course, PREVIEW_ACTION, subject.person_id, 1)
        commit_keeping_loaded()
    floor = settings.privacy_floor
    # Staff choose whose page to preview: among the whole class when it is small enough to
    # list, else among the learners a search finds (100,000 names made a 5 MB page).
    listed = figures.class_size <= CHOOSER_LISTS_ALL
    who = request.args.get("who", "").strip()[:100]
    choices: list[tuple[int, str]] = []
    if g.viewer.is_staff and listed:
        choices = course_summary.members(db.session, course)
    elif g.viewer.is_staff and who:
        found = learner_summary.rows(db.session, course, {"q": who}, "name", limit=CHOOSER_FOUND)
        choices = [(row["person"], row["name"]) for row in found]
    if subject.kind == "learner" and subject.person_id not in {p for p, _name in choices}:
        choices.insert(0, (subject.person_id or 0, subject.name or ""))
    page: dict[str, Any] = {}
    if subject.kind == TYPICAL and figures.class_size >= floor:
        # The same for every staff member: made once per worker for a minute (in the page's
        # language and the course's day), as the class figures it is made of.
        made = f"typical-page-{page_language()}-{settings.today(utcnow()).isoformat()}"
        page = course_cached(course, made, lambda: _page(course, settings, figures, subject))
    elif subject.kind != TYPICAL:
        page = _page(course, settings, figures, subject)
    return render_template(
        "course/me.html",
        course=course,
        viewer=viewer,
        subject=subject,
        choices=choices,
        listed=listed,
        who=who,
        preview_param=PREVIEW_PARAM,
        typical=TYPICAL,
        class_size=figures.class_size,
        cutoff=settings.time_cutoff_minutes,
        floor=floor,
        settings=settings,
        **page,
    )


def _page(
    course: Course,
    settings: course_settings.Settings,
    figures: course_summary.Figures,
    subject: Subject,
) -> dict[str, Any]:
    """Everything the page shows about its subject (a learner, or the typical one)."""

    def people() -> set[int]:
        """The class's learners, for the typical one's figures: read only when one is computed
        (100,000 ids are a tenth of a second)."""
        return learner_summary.member_ids(db.session, course)

    now = utcnow()
    today = settings.today(now)
    cutoff = settings.time_cutoff_minutes
    floor = settings.privacy_floor
    typical = subject.kind == TYPICAL
    person_id = subject.person_id
    # The class's person ids: only the typical learner's figures are the whole class's.
    class_time = figures.weekly_time
    class_weeks = {
        row["week_start"]: (row["q1_seconds"], row["median_seconds"], row["q3_seconds"])
        for row in class_time
        if row["learners"] >= floor
    }
    # From the course's start (the settings, else the class's first week) to this week.
    first_week = date.fromisoformat(class_time[0]["week_start"]) if class_time else None
    mondays = student.course_mondays(settings.starts_on, first_week, today)
    axis = charts_mod.weeks_of(
        [m.isoformat() for m in mondays], today=today, starts_on=settings.starts_on or mondays[0]
    )
    assert axis is not None
    zero: dict[str, float | None] = {"seconds": 0.0, "days": 0}
    if typical:
        weeks = {
            m: {"seconds": class_weeks[m.isoformat()][1], "days": None}
            if m.isoformat() in class_weeks
            else {"seconds": 0.0, "days": None}
            for m in mondays
        }
        days: list[dict[str, Any]] = []
    else:
        assert person_id is not None
        days, own = learners_kpi.learner_time(db.session, course, person_id, cutoff)
        weeks = {m: own.get(m, zero) for m in mondays}
    week_keys = [w.isoformat() for w in weeks]
    charts = []
    if settings.shows("time"):
        band = {w: b for w, b in class_weeks.items() if w in week_keys}
        mine = [float(weeks[w]["seconds"] or 0) for w in weeks]
        figure = charts_mod.learner_time_figure(week_keys, mine, band or None, axis)
        # Due dates for everyone and for the learner's own sections, not other sections'.
        # The typical learner is in no section: everyone's dates only.
        shown_events = (
            [e for e in course_events.course_events(db.session, course) if e.section_id is None]
            if typical
            else course_events.learner_events(db.session, course, person_id or 0)
        )
        figure = charts_mod.add_event_markers(figure, course_events.markers(shown_events, settings))
        charts.append(("my-time", charts_mod.figure_json(figure)))
    calendar = None
    if settings.shows("calendar"):
        if typical:
            # The class's counts per day: written once per change (kpis.page_summary).
            counts = page_figures(course, page_summary.TYPICAL)["active"]
            per_day = student.active_shares(counts, figures.class_size, mondays[0], today)
            calendar = student.calendar(mondays, {d: v * 100 for d, v in per_day.items()}, today)
            title = _("Share of the class active per day")

            def hover(day: date, value: float) -> str:
                return _("%(percent)s of the class active", percent=charts_mod.number(value) + " %")

        else:
            events = {d["day"]: d["events"] for d in days}
            seconds = {d["day"]: d["seconds"] for d in days}
            calendar = student.calendar(mondays, events, today)
            title = _("Your active days")
            # Most of a year's days have none: the words once, not once a day.
            no_activity = _("no activity")

            def hover(day: date, value: float) -> str:
                if not value:
                    return no_activity
                return ngettext(
                    "%(events)s event, %(time)s spent",
                    "%(events)s events, %(time)s spent",
                    round(value),
                    events=charts_mod.number(value),
                    time=charts_mod.hmm(seconds.get(day, 0)),
                )

        figure = charts_mod.activity_heatmap_figure(axis, calendar.values, title=title, hover=hover)
        charts.append(("my-calendar", charts_mod.figure_json(figure)))
    names = course_names(course)
    videos: list[dict[str, Any]] = []
    if settings.shows("videos"):
        if typical:
            # Every viewing's coverage of the class: written once per change (kpis.page_summary).
            videos = list(page_figures(course, page_summary.TYPICAL)["videos"])
        else:
            videos = video_engagement.learner_video(
                db.session, course, {person_id or 0}, video_durations(course)
            )
        videos.sort(key=lambda row: names.rank("video", row["video_id"]))
    modules = []
    if settings.shows("completion"):
        modules = (
            course_cached(
                course,
                "typical-modules",
                lambda: student.typical_modules(db.session, course, people()),
            )
            if typical
            else student.learner_modules(db.session, course, person_id or 0)
        )
    extra = (
        course_summary.typical_view(figures, floor)
        if typical
        else course_summary.student_view(db.session, course, figures, person_id or 0, floor)
    )
    work: list[student.WorkItem] = []
    if settings.shows("due"):
        work = (
            # Per worker for a minute (the class's statuses per assignment: 100,000 learners
            # each), as the other class figures computed by the page.
            course_cached(
                course,
                "typical-work",
                lambda: student.typical_work(db.session, course, people(), now, settings.zone),
            )
            if typical
            else student.learner_work(db.session, course, person_id or 0, now, settings.zone)
        )
    distribution = None
    if settings.shows("grades"):
        mine_score = extra.my_score if extra else None
        distribution = student.score_distribution(figures.posted_scores, mine_score, floor)
        if distribution.scores:
            figure = charts_mod.score_distribution_figure(distribution.scores, distribution.mine)
            charts.append(("my-scores", charts_mod.figure_json(figure)))
    return {
        "weeks": [(w, weeks[w], class_weeks.get(w.isoformat())) for w in weeks],
        "calendar": calendar,
        "videos": videos,
        "video_rows": video_rows(videos, names, _("not yet")),
        "modules": modules,
        "extra": extra,
        "work": work,
        "work_counts": student.work_counts(work, now),
        "distribution": distribution,
        "bins": (
            charts_mod.score_bins(distribution.scores)
            if distribution and distribution.scores
            else []
        ),
        "my_bin": (
            next(label for label, n in charts_mod.score_bins([distribution.mine]) if n)
            if distribution and distribution.mine is not None
            else None
        ),
        "charts": charts,
        "partial": axis.partial,
        "axis": axis,
        "today": today,
        "calendar_rows": _calendar_rows(calendar, axis) if calendar else Markup(),
        "has_activity": bool(days),
        "weekdays": charts_mod.weekday_names(),
    }


def _calendar_rows(calendar: student.Calendar, axis: charts_mod.Weeks) -> Markup:
    """The calendar's table rows, written here rather than by the template (a year is 371
    cells, and the template's calls per cell were half of the page's template): per week its
    number (below 1: before the course's first week: none) and its Monday as a short day, then
    its days (an active day's ISO date in a <time>; the value as shown: blank for days to come)."""
    language = page_language()
    rows = []
    for monday, cells in calendar.rows():
        number = axis.number(monday.isoformat())
        week = f"{escape(_('Week %(n)d', n=number))}<br>" if number >= 1 else ""
        start = escape(_("from %(day)s", day=charts_mod.short_day(monday)))
        shown = "".join(
            "<td></td>"
            if value is None
            else f'<td><time datetime="{day.isoformat()}">'
            f"{escape(formats.number(value, language))}</time></td>"
            if value
            else "<td>0</td>"
            for day, value in cells
        )
        rows.append(f'<tr><th scope="row">{week}<span class="from">{start}</span></th>{shown}</tr>')
    return Markup("".join(rows))  # noqa: S704 (words and numbers escaped, dates are ISO)
