"""The course pages: staff overview and the learner's own page (other staff pages: learners,
settings, events — imported at the bottom onto the same blueprint)."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_tool.activity.rollups import week_start
from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language
from lti_tool.jobs import queue
from lti_tool.kpis import (
    activity,
    at_risk,
    course_events,
    formatting,
    learner_summary,
    names,
    page_summary,
    readiness,
    recipients,
    video_engagement,
)
from lti_tool.launch.identity import staff_required
from lti_tool.models import (
    Course,
    Enrollment,
    Person,
    Platform,
    Section,
    SectionMember,
)
from lti_tool.models.sync import DEMO_TRIGGER, SOURCES
from lti_tool.models.types import utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.views import charts as charts_mod
from lti_tool.views.cache import course_cached, course_derived, request_marks
from lti_tool.views.links import quoted, row_choice_links

bp = Blueprint("course", __name__, url_prefix="/courses/<int:course_id>")
# Activity labels and phrases as people read them (kpis.names), for the templates.
bp.add_app_template_filter(names.activity_label, "activity_label")
bp.add_app_template_filter(names.sentence, "sentence")


def course_names(course: Course) -> names.CourseNames:
    """The course's video, problem and page names, reused while its data is unchanged."""
    # The order learners first met the resources in is a course-wide figure: stored once per
    # change of the activity in the page summary (a group over every learner's resources, 8 s
    # at 100,000 learners and 50 million events). While the summaries are behind their data
    # (a large course's, left to the job), as last written, as the pages' other figures.
    behind = _learners.behind_since(course)
    return course_cached(
        course,
        f"names-{behind.isoformat() if behind is not None else 'current'}",
        lambda: names.course_names(db.session, course, _seen(course, behind is not None)),
    )


def _seen(course: Course, behind: bool) -> list[list[str]] | None:
    """The stored order learners met the course's resources in: when the stored figures are
    current, or any stored while the summaries are `behind` (a page that writes nothing does not
    write them either)."""
    mark = None
    if not behind:
        marks = request_marks(course)
        mark = learner_summary.fingerprint(db.session, course, pseudonym_key(), utcnow(), marks)[0]
    found = page_summary.stored(db.session, course, page_summary.NAMES, mark)
    return found["seen"] if found is not None else None


# Durations read h:mm and points two decimals at most in tables, as on the charts (the `hours`
# filter stays: other tables read hours with a decimal; video positions, m:ss, are written by
# the view).
bp.add_app_template_filter(formatting.hmm, "hmm")
bp.add_app_template_filter(charts_mod.points, "points")


@bp.app_template_global()
def named(shown: names.Shown) -> Markup:
    """A video, problem or page by its name, its id (what the LMS and the reports use) in a
    tooltip: a table's cell, written here rather than by a template macro (a few hundred a
    page, each a macro call)."""
    # Both parts escaped, as the template would.
    html = f'<span class="named" title="{escape(shown.id)}">{escape(shown.text)}</span>'
    return Markup(html)  # noqa: S704


def video_rows(
    videos: Iterable[Mapping[str, Any]], known: names.CourseNames, unfinished: str
) -> Markup:
    """A videos table's rows (video, share watched, whether it reached the end: "yes" or
    `unfinished`), written here rather than by a template (the typical learner's lists every
    video of the course, some 250: the template's calls per cell were most of that page)."""
    language = page_language()
    words = {True: str(escape(_("yes"))), False: str(escape(unfinished))}
    rows = []
    for v in videos:
        coverage = v["coverage"]
        share = (
            "\u2013"
            if coverage is None
            else f"{escape(formats.number(coverage * 100, language))} %"
        )
        rows.append(
            f"<tr><td>{named(known.shown('video', v['video_id']))}</td><td>{share}</td>"
            f"<td>{words[bool(v['completed'])]}</td></tr>"
        )
    return Markup("".join(rows))  # noqa: S704 (names escaped by named, words and shares here)


def _course(course_id: int) -> Course:
    """The course of a page, its platform as `g.platform` (both read with the viewer's
    enrollment, launch.identity.session_ended: the session's identity map holds them)."""
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404, description=_("This course is not known to the tool."))
    g.platform = (
        db.session.get(Platform, course.platform_id) if course.platform_id is not None else None
    )
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
    """Staff overview: cards, learners per week, time spent per week, course events."""
    course = _course(course_id)
    viewer = db.session.get(Person, g.viewer.person_id)
    settings = request_marks(course).settings
    cutoff = settings.time_cutoff_minutes
    summary = _learners.class_figures(course)
    behind = _learners.behind_since(course)
    # Only the class (or one section of it) counts: not staff, test students or who left.
    section = asked_section(summary.sections)
    today = settings.today(utcnow())
    cards: dict[str, Any]
    if section:
        weekly, weekly_time, cards, attention = _section_figures(course, section, cutoff, today)
        attention_count = len(attention)
    else:
        # The whole class: the figures written once per change (kpis.course_summary).
        weekly, weekly_time = summary.weekly_activity, summary.weekly_time
        cards = {
            "active_7_days": summary.active_7_days,
            "median_completion": summary.median_completion,
            "at_risk": summary.at_risk,
            "class_size": summary.class_size,
        }
        # The first stored rows of those at risk (the list names ATTENTION_SHOWN; the summary
        # counts them all), in the attention list's order as a section's.
        flagged = _learners.ClassRows(
            learner_summary.rows(
                db.session,
                course,
                {"risk": "1"},
                learner_summary.RISK_FIRST,
                limit=ATTENTION_SHOWN,
            )
        )
        attention = attention_list(flagged, flagged.people())
        attention_count = sum(summary.at_risk.values()) if attention else 0
    # "This week" is the week in progress: an older last week of data is not this week.
    cards["median_weekly_seconds"] = (
        weekly_time[-1]["median_seconds"]
        if weekly_time and weekly_time[-1]["week_start"] == week_start(today).isoformat()
        else None
    )
    events = course_events.course_events(db.session, course)  # staff see every section's dates
    markers = course_events.markers(events, settings)

    # Both weekly charts show the same weeks; the last is drawn as partial while it lasts (the
    # KPIs include the week in progress; at risk and segments use the last complete week).
    weeks = charts_mod.weeks_of(
        [r["week_start"] for r in weekly] + [r["week_start"] for r in weekly_time],
        today=today,
        starts_on=settings.starts_on,
    )

    def figures() -> list[tuple[str, str]]:
        charts = []
        if weekly:
            figure = charts_mod.weekly_activity_figure(weekly, weeks)
            charts.append(("weekly-activity", charts_mod.add_event_markers(figure, markers)))
        if weekly_time:
            figure = charts_mod.weekly_time_figure(weekly_time, cutoff, weeks)
            charts.append(("weekly-time", charts_mod.add_event_markers(figure, markers)))
        return [(name, charts_mod.figure_json(fig)) for name, fig in charts]

    # Building Plotly figures costs more than the page's queries: reuse their JSON while the
    # data, the section, the course events, the start, the week in progress and the page's
    # language are the same.
    events_key = hash(tuple((m["at"], m["title"], m["kind"]) for m in markers))
    charts = course_cached(
        course,
        f"overview-figures-{cutoff}-{section}-{events_key}-{settings.starts_on}"
        f"-{week_start(today)}-{charts_mod.page_language()}",
        figures,
    )
    # The checks read the newest days of the event store: reused while the data is unchanged.
    # The class's size is the summary's (as shown on the cards), not counted again.
    to_fix = course_cached(
        course,
        f"readiness-{today}",
        lambda: len(
            readiness.to_fix(
                readiness.checks(
                    db.session,
                    course,
                    known=course_names(course),
                    class_size=summary.class_size,
                )
            )
        ),
    )
    return render_template(
        "course/overview.html",
        behind_since=behind,
        attention=attention,
        attention_count=attention_count,
        attention_shown=ATTENTION_SHOWN,
        levels=at_risk.LEVEL_NAMES,
        readiness_to_fix=to_fix,
        freshness=_freshness(course),
        course=course,
        counts=enrollment_counts(course_id),
        viewer=viewer,
        cards=cards,
        weekly=weekly,
        weekly_time=weekly_time,
        cutoff=cutoff,
        settings=settings,
        events=events,
        event_title=course_events.title,
        event_kinds={kind: _(words) for kind, words in _course_events.KINDS.items()},
        section=section,
        sections=summary.sections,
        endpoint="course.overview",
        event_error=request.args.get("event_error", "")[:300],
        charts=charts,
        partial=weeks.partial if weeks else None,
        weeks=weeks,
    )


def _section_figures(
    course: Course, section: str, cutoff: int, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """One section's weekly activity, weekly time, cards and attention list, from the class
    as this worker keeps it (the summary holds the whole class's figures only)."""
    data, rows = _learners.class_table(course)
    people = rows.people(section)
    weekly = course_cached(
        course,
        f"weekly-activity-{section}",
        lambda: activity.weekly_activity(db.session, course, people),
    )
    weekly_time = course_cached(
        course,
        f"weekly-time-{cutoff}-{section}",
        lambda: activity.class_weekly_time(course, data.members, people),
    )

    def class_cards() -> tuple[int | None, dict[str, int]]:
        """Median completion (%) and learners at risk per level, of the section."""
        shares = [
            p.share
            for person, p in data.progress.items()
            if person in people and p.share is not None
        ]
        levels = at_risk.counts(data.risks, people)
        return (round(statistics.median(shares) * 100) if shares else None), levels

    median_completion, levels = course_cached(course, f"overview-cards-{section}", class_cards)
    cards: dict[str, Any] = {
        "active_7_days": course_cached(
            course,
            f"active-since-{today - timedelta(6)}-{section}",
            lambda: activity.learners_active_since(
                db.session, course, today - timedelta(6), people
            ),
        ),
        "median_completion": median_completion,
        "at_risk": levels,
        "class_size": len(people),
    }
    return weekly, weekly_time, cards, attention_list(rows, people)


#: How many learners the overview's attention list names; the rest are a link away.
ATTENTION_SHOWN = 10


def attention_list(rows: _learners.ClassRows, people: set[int]) -> list[dict[str, Any]]:
    """The learners of `people` at risk, high first, then watch, each level by name."""
    found = []
    for row in rows.sorted_by(_learners.RISK_FIRST, False):
        if not row["at_risk"]:
            break  # the order puts everyone at risk first
        if row["person"] in people:
            found.append(row)
    return found


@bp.get("/videos")
@staff_required
def videos(course_id: int) -> str:
    """Per video: viewers at start and end, watched time, completion; one video's timeline."""
    course = _course(course_id)
    section, sections, people = chosen_section(course)
    if section and people is not None:
        found = video_engagement.class_videos(db.session, course, people)
    else:
        # The whole class's: written once per change (kpis.page_summary), not added up here.
        found = _learners.page_figures(course, page_summary.VIDEOS)
    known = course_names(course)
    language = page_language()
    table = course_derived(
        course,
        f"video-table-{section}-{language}",
        (found, known),
        lambda: _video_table(found, known, language),
    )
    chosen = request.args.get("video") or (table.ids[0] if table.ids else None)
    timeline = _timeline_of(course, section, found["timeline"], chosen)
    charts = []
    if timeline and chosen:
        figure = charts_mod.video_timeline_figure(
            timeline, charts_mod.video_title(known.video(chosen))
        )
        charts.append(("video-timeline", charts_mod.figure_json(figure)))
    link = row_choice_links("course.videos", "video", course.id, section)
    head, rest, show = escape(link.head), escape(link.rest), escape(_("show"))
    current = {chosen: ' aria-current="true"'}
    # Only the row's link (the viewer's session) and the chosen row are the request's own.
    rows = [
        Markup(  # noqa: S704 (the cells escaped by _video_table, the link here)
            f'<tr{current.get(video, "")}>{cells}<td><a href="{head}{quoted_id}{rest}">{show}</a>'
            "</td></tr>"
        )
        for video, cells, quoted_id in zip(table.ids, table.cells, table.quoted, strict=True)
    ]
    return render_template(
        "course/videos.html",
        course=course,
        section=section,
        sections=sections,
        endpoint="course.videos",
        rows=rows,
        chosen=chosen,
        names=known,
        timeline=timeline,
        segment_rows=_segment_rows(timeline),
        charts=charts,
        message_options=table.options,
        message_filters=recipients.VIDEO_FILTERS,
    )


class VideoTable(NamedTuple):
    """The videos table as a worker keeps it: the videos in course order, each one's cells but
    the last (its link, which holds the viewer's session), its id as a link's query writes it,
    and the message form's options."""

    ids: list[str]
    cells: list[str]
    quoted: list[str]
    options: Markup


def _video_table(found: dict[str, Any], known: names.CourseNames, language: str) -> VideoTable:
    """The videos table's cells written once per figures, names and language (a course has a
    few hundred videos: the template's eight outputs a row were two thirds of the page)."""
    viewers: dict[str, int] = found["viewers"]
    # In course order, as learners meet the videos (the report's rows are by id).
    summary = sorted(found["summary"], key=lambda row: known.rank("video", row["video_id"]))
    unknown = escape(_("unknown"))
    cells = []
    for v in summary:
        video = v["video_id"]
        watched = escape(formats.number(v["total_viewed_seconds"] / 60, language, 1))
        # Everything from outside escaped; the counts are ints.
        cells.append(
            f"<td>{named(known.shown('video', video))}</td>"
            f"<td>{escape(_length(v['duration']) or unknown)}</td>"
            f"<td>{int(viewers.get(video, 0))}</td><td>{int(v['users_at_start'])}</td>"
            f"<td>{int(v['users_at_end'])}</td><td>{watched}</td>"
        )
    ids = [v["video_id"] for v in summary]
    return VideoTable(
        ids,
        cells,
        [str(escape(quoted(video))) for video in ids],
        choice_options((video, known.video(video)) for video in ids),
    )


def choice_options(items: Iterable[tuple[Any, Any]], chosen: Any = None) -> Markup:
    """A form's <option>s, one per (value, name), the `chosen` value's selected: written here
    (the Message students form lists a course's few hundred videos or problems)."""
    return Markup(  # noqa: S704 (values and names escaped)
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>'
            f"{escape(name)}</option>"
            for value, name in items
        )
    )


def _segment_rows(timeline: list[dict[str, Any]]) -> Markup:
    """The timeline table's rows (a segment's positions, its viewers and views): written here
    (an hour's video has 720 segments, each row two filters and four outputs in a template)."""
    mss = charts_mod.mss
    return Markup(  # noqa: S704 (positions and counts are numbers)
        "".join(
            f"<tr><td>{mss(r['segment'] * 5)}\u2013{mss(r['segment'] * 5 + 5)}</td>"
            f"<td>{int(r['num_users'])}</td><td>{int(r['num_views'])}</td></tr>"
            for r in timeline
        )
    )


def _timeline_of(
    course: Course, section: str, rows: list[dict[str, Any]], video_id: str | None
) -> list[Any]:
    """One video's timeline rows: the figures' rows (every video's segments, tens of
    thousands in a course of a few hundred videos) grouped by video once per worker while the
    whole class's figures are the same object (a section's are grouped each time)."""
    grouped = course_derived(course, f"video-timelines-{section}", (rows,), lambda: _by_video(rows))
    return grouped.get(video_id or "", [])


def _by_video(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["video_id"], []).append(row)
    return grouped


def _length(seconds: float | None) -> str | None:
    """A video's length as minutes:seconds, whole seconds cut (61:40 for 3,700.9 s)."""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}" if seconds else None


def asked_section(sections: Collection[str]) -> str:
    """The section `?section=` names, or "" (the whole class) when it is none of `sections`."""
    chosen = request.args.get("section", "")
    return chosen if chosen in sections else ""


def section_members(course: Course) -> tuple[str, list[str], set[int] | None]:
    """The section asked for in `?section=` (unknown names ignored), every section name, and the
    chosen section's members whatever their state now (None when none is chosen)."""
    sections = sorted(
        set(db.session.scalars(select(Section.name).where(Section.course_id == course.id)))
    )
    chosen = asked_section(sections)
    if not chosen:
        return "", sections, None
    members = set(
        db.session.scalars(
            select(SectionMember.person_id)
            .join(Section, Section.id == SectionMember.section_id)
            .where(Section.course_id == course.id, Section.name == chosen)
        )
    )
    return chosen, sections, members


def section_choice(course: Course) -> tuple[str, list[str], set[int]]:
    """The section asked for in `?section=` (unknown names ignored), every section name, and the
    class's learners in it (the whole class when none is chosen)."""
    chosen, sections, members = section_members(course)
    people = class_people(course)
    return chosen, sections, people if members is None else people & members


def chosen_section(course: Course) -> tuple[str, list[str], set[int] | None]:
    """As section_choice, for a page that reads the whole class's figures from a summary: the
    section's learners only when one is chosen (None for the whole class, not read)."""
    chosen, sections, members = section_members(course)
    return chosen, sections, None if members is None else class_people(course) & members


def class_people(course: Course) -> set[int]:
    """The class's learners as the learner summary holds them (an index read), rather than
    worked out again from the roster and the activity (a quarter second at 100,000)."""
    _learners.current_summary(course)
    return learner_summary.member_ids(db.session, course)


def summary_section(course: Course) -> tuple[str, list[str]]:
    """The section asked for among the class's sections (unknown names ignored) and those
    sections, from the learner summary made current (read its learners after: member_ids,
    count, scores)."""
    sections = _learners.summary_sections(course, _learners.current_summary(course))
    return asked_section(sections), sections


SOURCE_NAMES = {
    "nrps": N_("Roster (Names and Roles)"),
    "canvas": N_("Canvas API"),
    "openedx": N_("Open edX API"),
}
NOT_AVAILABLE = {
    "nrps": N_(
        "No roster service for this course yet: it appears after a launch from an LMS "
        "that offers Names and Role Provisioning."
    ),
    "canvas": N_("Not connected: an administrator adds the Canvas API as a data source."),
    "openedx": N_("Not connected: an administrator adds the Open edX API as a data source."),
}


def _freshness(course: Course) -> list[dict[str, object]]:
    """Per source: the last successful sync, the last failed one after it, a queued or running
    run, and whether it can sync this course. The roster always; API sources when connected or
    ever run."""
    found: list[dict[str, object]] = []
    able = queue.able_sources(db.session, course.id)
    runs = queue.runs_by_source(db.session, course.id)
    # Whether an enrollment sync has succeeded (kpis.roster.has_roster), of the same read.
    roster_elsewhere = any(r.succeeded is not None for r in runs.values())
    for source in SOURCES:
        latest, pending, last = runs[source]
        # The roster's row always, unless another source has brought the roster.
        shown_anyway = source == "nrps" and not roster_elsewhere
        if source not in able and latest is None and not shown_anyway:
            continue
        found.append(
            {
                "source": source,
                "name": _(SOURCE_NAMES[source]) if source in SOURCE_NAMES else source,
                "last": last,
                "demo": last is not None and last.trigger == DEMO_TRIGGER,
                "failed": latest if latest is not None and latest.status == "failed" else None,
                "pending": pending,
                "can_sync": source in able,
                "why_not": _(NOT_AVAILABLE.get(source, N_("Not available for this course."))),
            }
        )
    return found


@bp.post("/sync")
@staff_required
def sync_now(course_id: int) -> Response:
    """Queue a sync of one source (the roster unless `source` says) for the scheduler; the page
    never waits on the LMS."""
    course = _course(course_id)
    source = request.form.get("source", "nrps")
    if source not in SOURCES:
        abort(
            400,
            description=_(
                "Unknown source %(source)r: one of %(sources)s.",
                source=source,
                sources=", ".join(SOURCES),
            ),
        )
    if not queue.can_sync(db.session, course.id, source):
        abort(
            400,
            description=_(NOT_AVAILABLE.get(source, N_("This source cannot sync this course."))),
        )
    queue.queue_run(db.session, course.id, source, trigger="page")
    db.session.commit()
    return redirect(
        url_for("course.overview", course_id=course.id, t=g.session_token) + "#freshness", code=303
    )


# The other staff pages add their routes to this blueprint (imported last: they use `bp`).
from lti_tool.views import course_events as _course_events  # noqa: E402
from lti_tool.views import enrollment as _enrollment  # noqa: E402, F401
from lti_tool.views import geography as _geography  # noqa: E402, F401
from lti_tool.views import grades as _grades  # noqa: E402, F401
from lti_tool.views import learners as _learners  # noqa: E402
from lti_tool.views import message as _message  # noqa: E402, F401
from lti_tool.views import problems as _problems  # noqa: E402, F401
from lti_tool.views import settings as _settings  # noqa: E402, F401
from lti_tool.views import student as _student  # noqa: E402, F401
from lti_tool.views import track_record as _track_record  # noqa: E402, F401
