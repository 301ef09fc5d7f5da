"""The page summary: whole-class figures of single pages, kept in `page_summary` (one JSON row
per course and page).

Written with the course summary (lti_tool.kpis.course_summary.refresh, in the same commit and
with the same fingerprint) for the pages whose whole-class figures cost more than a request may:
the videos page (every viewing of the class added up, 6 s at 10,000 learners), the typical
learner's videos on staff's "Student view" (every viewing's coverage, 3.5 s), the content
page's resources (every learner's resources counted, 1.6 s), the problems page (every
learner's checks, 2.5 s) and the countries page (every learner's country, 0.2 s at 100,000).
The figures are exactly what the KPI functions compute for the class (figures_of); a
section's are still computed by the pages.

They depend on less than the learner summary's fingerprint: the course's activity, syncs and
label and the class's learners (inputs), not its settings, its day or its staff. A refresh
that moved the fingerprint but not these (a settings change, a new day, a staff launch) keeps
the stored figures, stamped with the new fingerprint, rather than adding up the class again
(at 100,000 learners, 47 of a 68 s refresh).

The videos, typical, content, problems and names figures are made from sums over the class's
(the course's, for names) rows, kept beside them (CLASS_SUMS): an ingest that replaced a few
learners' rows adds their change to those sums (lti_tool.kpis.class_sums.since, from the rows
lti_tool.activity.replaced kept) instead of reading every viewing, active day, opened resource
and problem check of the class again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, insert, select, update

from lti_tool.activity import replaced
from lti_tool.activity.sql import run
from lti_tool.kpis import (
    activity,
    class_sums,
    course_settings,
    course_summary,
    enrollment,
    geography,
    names,
    problem_sums,
    problems,
    resources,
    student,
    video_engagement,
)
from lti_tool.kpis.activity import Week
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.learner_summary import Marks, data_marks, fingerprint
from lti_tool.models import Course, PageSummary
from lti_tool.models.types import DbSession, utcnow

#: The videos page: summary, timeline, viewers and completions per video.
VIDEOS = "videos"
#: The content page: how many of the class opened each resource (resources.resource_reach).
CONTENT = "content"
#: The problems page: each problem's figures without its name (problems.problem_stats) and
#: answer distribution (problems.distributions).
PROBLEMS = "problems"
#: Staff's "Student view" of the typical learner: the class's videos (student.typical_videos,
#: from the sums) and how many were active each day (student.class_active_counts).
TYPICAL = "typical"
#: The countries page: the class's learners per country code (geography.country_counts); the
#: floor and the countries' names are the page's.
COUNTRIES = "countries"
#: The enrollment page: the whole course's enrollment history (enrollment.enrollments, as
#: enrollment.as_figures keeps it), counted to the day it was written; the page counts it on.
#: With the tally it is counted from (enrollment.tally_as_data), followed through an ingest.
ENROLLMENT = "enrollment"
#: Every page's names: the order learners first met the course's resources in
#: (names.seen_resources, by which unnamed ones are numbered; a group over every learner's
#: resources, 3.3 s at 100,000 learners).
NAMES = "names"
#: Not a page's: the sums the videos, typical, content, problems and names figures are made of
#: (class_sums.state), so that an ingest of a few learners adds its change to them rather
#: than the whole class's rows being read again.
CLASS_SUMS = "class_sums"
PAGES = (VIDEOS, CONTENT, PROBLEMS, TYPICAL, COUNTRIES, ENROLLMENT, NAMES, CLASS_SUMS)
#: The pages written from the class's sums, together.
_FROM_SUMS = {VIDEOS, TYPICAL, CONTENT, PROBLEMS, NAMES, CLASS_SUMS}
_KEYS = {
    COUNTRIES: {"counts"},
    VIDEOS: {"summary", "timeline", "viewers", "completions"},
    TYPICAL: {"videos", "active"},
    CONTENT: {"reach"},
    PROBLEMS: {"stats", "answers"},
    ENROLLMENT: {
        "rows",
        "first_days",
        "last_day",
        "from_events",
        "from_lms",
        "last_change",
        "deltas",
        "latest",
        "activity",
        "others",
    },
    NAMES: {"seen"},
    CLASS_SUMS: {
        "activity",
        "people",
        "durations",
        "videos",
        "opened",
        "problems",
        "first_seen",
        "viewed",
        "weeks",
    },
}
#: The figures' shape, part of inputs: a version that computes them otherwise bumps it.
FIGURES_SHAPE = 3


def inputs(session: DbSession, course: Course, people: set[int], marks: Marks | None = None) -> str:
    """The digest of what every page's figures are computed from: the course's activity (every
    rollup change stamps `course.updated_at`), its syncs (the resources' names, the videos'
    durations), its label (in the rows) and the class's learners. `marks`: the course's, when
    the caller read them in this transaction."""
    activity, _roster, _roster_changed, synced, _settings = _data(session, course, marks)
    learners = hashlib.sha256(orjson.dumps(sorted(people))).hexdigest()
    parts = (activity, synced, course_label(course), learners, sorted(_KEYS.items()))
    return _digest((*parts, FIGURES_SHAPE))


def _data(session: DbSession, course: Course, marks: Marks | None) -> tuple[Any, ...]:
    """The course's data_marks: those read already, else read now."""
    if marks is not None:
        return marks.data
    return tuple(session.execute(select(*data_marks(course))).one())


def _digest(parts: Any) -> str:
    """A digest of some values by their repr."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def figures_of(session: DbSession, course: Course, page: str, people: set[int]) -> dict[str, Any]:
    """A page's figures over the class `people` (its learners), as the KPI functions compute
    them: for VIDEOS video_engagement.video_summary, video_timeline and learner_video's rows
    counted per video (viewers, completions); for TYPICAL student.typical_videos of those rows
    and student.class_active_counts; for CONTENT resources.resource_reach; for PROBLEMS
    problems.problem_stats and distributions of the class's checks; for COUNTRIES
    geography.country_counts; for ENROLLMENT enrollment.enrollments of the whole course (as
    its page counts it: everyone with an enrollment history, not the class only); for NAMES
    names.seen_resources; for CLASS_SUMS class_sums.state of the class's rows."""
    if page == CONTENT:
        return {"reach": resources.resource_reach(session, course, people)}
    if page == COUNTRIES:
        return {"counts": geography.country_counts(session, course, people)}
    if page == ENROLLMENT:
        return _enrollment(session, course, None)
    if page == NAMES:
        return {"seen": names.seen_resources(session, course)}
    if page == PROBLEMS:
        checks = problems.learner_checks(session, course, people)
        return {"stats": problems.problem_stats(checks), "answers": problems.distributions(checks)}
    if page in _FROM_SUMS:
        return _from_sums(session, course, people)[page]
    raise ValueError(f"no such page summary: {page!r}")


def _from_sums(
    session: DbSession, course: Course, people: set[int], stored: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The VIDEOS, TYPICAL, CONTENT, PROBLEMS, NAMES and CLASS_SUMS figures: from the CLASS_SUMS
    `stored` before and the rows this transaction replaced when they give them
    (class_sums.since), else from the class's rows (class_sums.of_class)."""
    if stored is None:
        maybe = class_sums.viewed_since_none(session, course)
    else:
        maybe = _may_be_viewed(session, course, stored)
    durations = video_engagement.settled_durations(session, course, maybe)
    sums = None if stored is None else class_sums.since(session, course, people, stored, durations)
    if sums is None:
        sums = class_sums.of_added(session, course, people, durations)
    if sums is None:
        sums, videos, reach = class_sums.of_class(session, course, people, durations)
    else:
        known = video_engagement.stored_durations(session, course)
        videos = video_engagement.video_figures(course, sums.videos, known)
        reach = resources.reach_rows(session, course, dict(sums.opened), len(people))
    typical = {
        "videos": student.typical_of_counts(
            sums.videos.shares, sums.videos.completions, len(people)
        ),
        "active": dict(sorted(sums.videos.active.items())),
    }
    return {
        VIDEOS: videos,
        TYPICAL: typical,
        CONTENT: {"reach": reach},
        PROBLEMS: problem_sums.figures(sums.problems),
        NAMES: {"seen": names.seen_order(sums.first_seen, sums.viewed)},
        CLASS_SUMS: class_sums.state(session, course, people, sums, durations),
    }


def _may_be_viewed(session: DbSession, course: Course, stored: dict[str, Any]) -> set[str] | None:
    """Videos among which is every one anyone viewed now, when the CLASS_SUMS `stored` and the
    rows this transaction replaced tell (those viewed then, and those the people replaced
    view now); None when they do not."""
    record = replaced.taken(session, course.id)
    if record is None:
        # Nothing replaced: the viewings are as they were, or changed otherwise (unknown).
        unchanged = replaced.replaced_since(session, course.id, stored["activity"]) == set()
        return set(stored["viewed"]) if unchanged else None
    if record.mark != stored["activity"]:
        return None
    now = video_engagement.videos_of(session, course, sorted(record.rows.days))
    return set(stored["viewed"]) | now


def _enrollment(
    session: DbSession, course: Course, before: dict[str, Any] | None, marks: Marks | None = None
) -> dict[str, Any]:
    """The ENROLLMENT figures, with the tally they are counted from (enrollment.Tally) and the
    activity and other inputs they are of. When nothing else they are counted from moved (the
    LMS's enrollment dates by a sync, the enrollments' status and test flags, the course's time
    zone, its day), those `before` are followed through the enrollment events of the learners
    this transaction replaced (lti_tool.activity.replaced.enrollment_changes): kept when none
    of them changed, else their histories taken out as they were and added as they are
    (enrollment.since); otherwise counted again. `marks`: as inputs'."""
    activity, roster, roster_changed, synced, _settings = _data(session, course, marks)
    settings = marks.settings if marks is not None else course_settings.load(session, course)
    last_day = settings.today(utcnow())
    others = _digest(
        (
            roster,
            roster_changed,
            synced,
            settings.time_zone,
            sorted(_KEYS[ENROLLMENT]),
            FIGURES_SHAPE,
        )
    )
    activity = replaced.activity_mark(activity)
    tally = None
    if before is not None and before["others"] == others:
        changes = replaced.enrollment_changes(session, course.id, before["activity"])
        if changes is not None and all(sorted(b) == sorted(n) for b, n in changes.values()):
            return {**before, "activity": activity}
        if changes is not None and before["last_day"] == last_day.isoformat():
            tally = enrollment.since(
                session, course, enrollment.tally_from(before), changes, settings.zone
            )
    if tally is None:
        tally = enrollment.tally_of(session, course, settings.zone, last_day)
    return {
        **enrollment.as_figures(enrollment.counted(tally, settings.zone)),
        **enrollment.tally_as_data(tally),
        "activity": activity,
        "others": others,
    }


def refresh(
    session: DbSession,
    course: Course,
    people: set[int],
    *,
    mark: str,
    moment: datetime,
    marks: Marks | None = None,
    countries: Mapping[int, str] | None = None,
) -> Counter[Week]:
    """Write every page's figures of the course again (the course summary's refresh calls it,
    with its fingerprint, and the marks it was taken of when it has them); those whose inputs
    did not move since are kept and stamped with it; `countries`: everyone's last known
    country (geography.learner_countries), when the caller has them. The class's weekly
    counts (activity.week_counts), from the sums. The caller commits."""
    table = PageSummary.__table__
    if not people:
        # As the course summary: a course without learners keeps no rows.
        session.execute(delete(table).where(table.c.course_id == course.id))
        return Counter()
    digest = inputs(session, course, people, marks)
    # Read before the rows are replaced: the sums the class's change is added to.
    sums_before = stored(session, course, CLASS_SUMS, None)
    enrollment_before = stored(session, course, ENROLLMENT, None)
    kept = set(
        session.scalars(
            select(table.c.page).where(table.c.course_id == course.id, table.c.inputs == digest)
        )
    )
    session.execute(
        update(table)
        .where(table.c.course_id == course.id, table.c.page.in_(sorted(kept)))
        .values(fingerprint=mark)
    )
    session.execute(
        delete(table).where(table.c.course_id == course.id, table.c.page.not_in(sorted(kept)))
    )
    found: dict[str, Any] = {}
    if COUNTRIES not in kept:
        found[COUNTRIES] = {"counts": geography.country_counts(session, course, people, countries)}
    if ENROLLMENT not in kept:
        found[ENROLLMENT] = _enrollment(session, course, enrollment_before, marks)
    if not _FROM_SUMS <= kept:
        found.update(_from_sums(session, course, people, sums_before))
    written = [page for page in PAGES if page not in kept]
    if written:
        session.execute(
            insert(table),
            [_record(course, page, found[page], mark, moment, digest) for page in written],
        )
    sums = found.get(CLASS_SUMS, sums_before)
    if sums is None:  # kept with inputs of now, yet unreadable: counted again
        return activity.week_counts(session, course, people)
    return Counter({(week, label): count for week, label, count in sums["weeks"]})


def forget(session: DbSession, course: Course) -> None:
    """Drop the course's page figures, so the next refresh computes every page again (a
    refresh from scratch). The caller commits."""
    table = PageSummary.__table__
    session.execute(delete(table).where(table.c.course_id == course.id))


def _record(
    course: Course, page: str, figures: dict[str, Any], mark: str, moment: datetime, digest: str
) -> dict[str, Any]:
    """A page_summary row."""
    return {
        "course_id": course.id,
        "page": page,
        "fingerprint": mark,
        "computed_at": moment,
        "figures": orjson.dumps(figures).decode(),
        "inputs": digest,
    }


_ANY_STORED = select(PageSummary.figures).where(
    PageSummary.course_id == bindparam("course"), PageSummary.page == bindparam("page")
)
_STORED = _ANY_STORED.where(PageSummary.fingerprint == bindparam("mark"))


def stored(
    session: DbSession, course: Course, page: str, mark: str | None
) -> dict[str, Any] | None:
    """A page's figures as stored when they were computed from the data `mark` fingerprints
    (any data when None: a large course's pages while the job writes them again) and by this
    version (the figures it knows), else None."""
    if mark is None:
        text = run(session, _ANY_STORED, course=course.id, page=page).scalar()
    else:
        text = run(session, _STORED, course=course.id, page=page, mark=mark).scalar()
    if text is None:
        return None
    found: dict[str, Any] = orjson.loads(text)
    return found if set(found) == _KEYS[page] else None


def current(
    session: DbSession, course: Course, page: str, *, key: bytes, now: datetime | None = None
) -> dict[str, Any]:
    """A page's figures of the whole class as stored, when current: read the course summary's
    current() first, which writes them with its own. Computed (and written, so every worker
    reads them after) when they are not, as when a version without them wrote the summary.
    The caller commits."""
    moment = now or utcnow()
    mark, _settings, _today = fingerprint(session, course, key, moment)
    found = stored(session, course, page, mark)
    if found is not None:
        return found
    people = {person for person, _name in course_summary.members(session, course)}
    found = figures_of(session, course, page, people)
    if people:
        # One writer at a time per course, as the summaries'.
        session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
        table = PageSummary.__table__
        session.execute(delete(table).where(table.c.course_id == course.id, table.c.page == page))
        digest = inputs(session, course, people)
        session.execute(insert(table).values(_record(course, page, found, mark, moment, digest)))
    return found
