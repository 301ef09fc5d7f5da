"""The learner summary: each learner's row of the learners table, kept in `learner_summary`.

Written once per change of a course's data (refresh), read by the learners table and the
`learners` report, which sort, filter and page it in the database. The rows are exactly what
lti_tool.kpis.learners.learner_rows computes from the stored activity; `learner_summary_state`
keeps the fingerprint of what they were computed from (fingerprint): the course's activity,
roster, syncs, settings, its day and the assignments already due. Whatever moves it makes the
rows stale, and the next reader (current) writes them again.

Who writes them after a change: large writes (tracking-log ingests, syncs, settings, purges)
in their own commit (refresh_changed), as they take seconds anyway; small ones that may come
every second (event-API and xAPI batches, launches that change a learner) only mark the course
stale (mark_stale, `stale_at`), and the scheduler's refresh job (refresh_stale) or the next
reader, whichever comes first, writes the rows, so a reader never shows rows behind the data.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    select,
    update,
)

from lti_tool.activity import replaced
from lti_tool.activity.rollups import CHANGED_COURSES, SHOWN_AGAIN, SUMMARIES_LATER, week_start
from lti_tool.activity.sql import dialect_insert, driver_rows, insert_rows, run
from lti_tool.activity.workers import rare_collections
from lti_tool.i18n.stored import decode as decode_text
from lti_tool.i18n.stored import encode as encode_text
from lti_tool.kpis import class_spread, class_sums, course_settings, learner_activity
from lti_tool.kpis.activity import Week, active_since, weekly_time_rows
from lti_tool.kpis.at_risk import (
    HIGH,
    TOOL_TIME,
    WATCH,
    level_rank,
    past_due_work,
    reason_moved,
    thresholds_of,
    time_reason_moved,
)
from lti_tool.kpis.at_risk import counts as at_risk_counts
from lti_tool.kpis.completion import progress_of
from lti_tool.kpis.engagement import SEGMENT_NAMES, problem_attempts, segments_with
from lti_tool.kpis.geography import countries_of, learner_countries
from lti_tool.kpis.grades import staff_current_score
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.learners import ClassData, assess_class, class_data, learner_rows, row_of
from lti_tool.kpis.roster import (
    Totals,
    as_pseudonym,
    class_lms,
    class_member_ids,
    class_sections,
    has_roster,
    load_members,
    name_members,
    seen_since,
    totals_of,
)
from lti_tool.models import (
    Assignment,
    CarriedRows,
    Course,
    CourseSettings,
    Enrollment,
    LearnerSummary,
    LearnerSummaryState,
    Section,
    SectionMember,
    SyncRun,
)
from lti_tool.models.types import DbSession, rowcount, utcnow

if TYPE_CHECKING:  # (course_summary imports this module)
    from lti_tool.kpis import course_summary

#: The segments' ranks by their English names: the order the table sorts segments in.
SEGMENT_RANK = {
    code: rank
    for rank, code in enumerate(sorted(SEGMENT_NAMES, key=lambda c: SEGMENT_NAMES[c].message))
}
_T = LearnerSummary.__table__.c
#: The learners table's sort keys and the column each sorts on.
SORT_COLUMNS = {
    "name": _T.name_key,
    "sections": _T.sections_key,
    "last_active": _T.last_active,
    "time_7d": _T.time_7d,
    "time_total": _T.time_total,
    "sessions": _T.sessions,
    "videos_watched": _T.videos_watched,
    "completion": _T.completion,
    "current_score": _T.current_score,
    "segment": _T.segment_rank,
    "at_risk": _T.risk_rank,
}
#: The order when nobody chose one: high first, then watch, then the others; by name in each.
RISK_FIRST = "risk_first"
_COLUMNS = [column.name for column in LearnerSummary.__table__.columns]
_PERSON = _COLUMNS.index("person_id")
#: A record's values in the table's column order.
_IN_ORDER = itemgetter(*_COLUMNS)
#: The fingerprint of mark_stale's placeholder row, for a course whose rows were never written:
#: it matches no real fingerprint, so its first reader writes them.
NEVER_WRITTEN = ""
#: The shape of the stored rows, part of the fingerprint: a new shape (the reasons' JSON was
#: another before 2) makes every course's rows stale, so they are written again when read.
ROWS_SHAPE = 2
#: The risk levels' ranks, high first.
_RANKS_HIGH_FIRST = sorted({level_rank(level) for level in (HIGH, WATCH, None)}, reverse=True)
#: Rows read by one IN list.
CHUNK = 500
#: session.info's seconds spent in refresh_changed (summaries_seconds).
SUMMARIES_SECONDS = "lti_tool.summaries_seconds"


@dataclass(frozen=True)
class State:
    """A course's summary as the readers see it: as of which settings and day, how many
    learners, whether anyone is at risk; and, when it is shown behind its data while the
    scheduler writes it again (a large course), when it was written; and the fingerprint of
    the data it was checked against (the course summary's too)."""

    settings: course_settings.Settings
    today: date
    learners: int
    anyone_at_risk: bool
    behind_since: datetime | None = None
    mark: str = ""

    @property
    def segment_week(self) -> date:
        """The week the table's segment describes: the last complete ISO week."""
        return week_start(self.today) - timedelta(days=7)


class Marks(NamedTuple):
    """What a course's figures are computed from, read once (a page's figures and its
    summaries' fingerprint take them from the same read): its settings, what moves whenever its
    data does (data_marks) and its assignments due by `at`, when they were read."""

    settings: course_settings.Settings
    data: tuple[Any, ...]
    due: int
    at: datetime
    #: The summaries' stored state as read with them (current's first look; None: no row).
    state: StoredState | None = None


class StoredState(NamedTuple):
    """A course's learner_summary_state row: the fingerprint the rows were written for, how
    many learners, whether anyone is at risk, the stale mark and when they were written."""

    fingerprint: str
    learners: int
    anyone_at_risk: int
    stale_at: datetime | None
    computed_at: datetime


def read_marks(session: DbSession, course: Course, now: datetime) -> Marks:
    """The course's Marks as of `now`: one SELECT, its settings and summary state with them."""
    row = run(session, _MARKS_AND_DUE, course=course.id, now=now).one()
    *data, due_now = row[:_SETTINGS_AT]
    stored = row._mapping if row.stored_course_id is not None else None
    found = row[-len(StoredState._fields) :]
    state = StoredState(*found) if found[0] is not None else None
    return Marks(course_settings.settings_of(stored), tuple(data), due_now, now, state)


def fingerprint(
    session: DbSession, course: Course, key: bytes, now: datetime, marks: Marks | None = None
) -> tuple[str, course_settings.Settings, date]:
    """The fingerprint of what the course's summary rows are computed from, with the settings
    and the course's day it was taken for.

    The course's activity (every rollup change stamps `course.updated_at`), its roster, sync
    runs and settings, the day in its time zone (the 7 days, the segment's week, days
    inactive), the assignments due by now (work turns missing when its due date passes) and
    the pseudonym key (the names of learners without one). `marks`: read_marks's, when the
    caller has them (read a moment before `now`: the day and the work due are theirs).
    """
    settings, data, due_now, at, _state = marks or read_marks(session, course, now)
    today = settings.today(at)
    return _digest(_parts(data, today, due_now, key)), settings, today


def _parts(data: Iterable[Any], today: date, due: int, key: bytes) -> tuple[Any, ...]:
    """Some of the data marks with the day, the work due, the key's digest and the rows'
    shape: the parts of the fingerprint and of measures."""
    return (*data, today, due, hashlib.sha256(key).hexdigest(), ROWS_SHAPE)


def _digest(parts: tuple[Any, ...]) -> str:
    """The digest of a fingerprint's or measures' parts."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def data_marks(course: Course) -> list[Any]:
    """What moves whenever a course's data does, as columns of one SELECT: its activity (every
    rollup change stamps `course.updated_at`), its roster's size and latest change, its latest
    sync run and its settings' latest change (one round trip, not five: pages read it several
    times a request)."""
    return _marks(course.id)


def _marks(course_id: Any) -> list[Any]:
    """data_marks of a course id (or a bindparam standing for one)."""
    return [
        select(Course.updated_at).where(Course.id == course_id).scalar_subquery(),
        select(func.count()).where(Enrollment.course_id == course_id).scalar_subquery(),
        select(func.max(Enrollment.updated_at))
        .where(Enrollment.course_id == course_id)
        .scalar_subquery(),
        select(func.max(SyncRun.finished_at))
        .where(SyncRun.course_id == course_id)
        .scalar_subquery(),
        select(CourseSettings.updated_at)
        .where(CourseSettings.course_id == course_id)
        .scalar_subquery(),
    ]


# data_marks of the course `course` with its assignments due by `now` and its stored settings
# (none stored: NULLs): read_marks's one read, built once (run).
_SETTINGS = CourseSettings.__table__
_STATE_TABLE = LearnerSummaryState.__table__
_MARKS_AND_DUE = (
    select(
        *_marks(bindparam("course")),
        select(func.count())
        .where(Assignment.course_id == bindparam("course"), Assignment.due_at < bindparam("now"))
        .scalar_subquery(),
        _SETTINGS.c.course_id.label("stored_course_id"),
        *(column for column in _SETTINGS.c if column.name != "course_id"),
        *(_STATE_TABLE.c[name].label(f"state_{name}") for name in StoredState._fields),
    )
    .select_from(
        Course.__table__.outerjoin(_SETTINGS, _SETTINGS.c.course_id == Course.id).outerjoin(
            _STATE_TABLE, _STATE_TABLE.c.course_id == Course.id
        )
    )
    .where(Course.id == bindparam("course"))
)
#: Where the settings' columns start in its row.
_SETTINGS_AT = 6
#: Where the sync runs' and settings' marks start in data_marks (after the activity's and the
#: roster's).
_SYNCS_AT = 3


def _record(course_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """A learner row as a learner_summary row."""
    sections: list[str] = row["sections"]
    segment = row["segment"]
    return {
        "course_id": course_id,
        "person_id": row["person"],
        "learner": row["learner"],
        "name": row["name"],
        "name_key": row["name"].casefold(),
        "email": row["email"],
        "sections": orjson.dumps(sections).decode(),
        "sections_key": "; ".join(sections).casefold() if sections else None,
        # What the learners table's search looks in, as it looks (apply_filters).
        "search": " ".join(str(row[k] or "") for k in ("name", "email", "learner")).casefold(),
        "last_active": row["last_active"],
        "time_7d": row["time_7d"],
        "time_total": row["time_total"],
        "lms_activity_seconds": row["lms_activity_seconds"],
        "sessions": row["sessions"],
        "videos_watched": row["videos_watched"],
        "completion": row["completion"],
        "current_score": row["current_score"],
        "posted_current_score": row["posted_current_score"],
        "segment": segment,
        "segment_rank": SEGMENT_RANK.get(segment) if segment is not None else None,
        "risk_level": row["risk_level"],
        "risk_rank": level_rank(row["risk_level"] or None),
        "reasons": orjson.dumps([encode_text(r) for r in row["at_risk_reasons"]]).decode(),
    }


def refresh(session: DbSession, course: Course, *, key: bytes, now: datetime | None = None) -> int:
    """Write the course's summary rows again from its stored data (as of `now`); the number of
    learners. The caller commits."""
    # Millions of short-lived rows, tuples and dicts at 100,000 learners and no cycles among
    # them: the collector's scans of them were a quarter of the refresh.
    with rare_collections():
        return _refresh(session, course, key=key, now=now)


def _refresh(session: DbSession, course: Course, *, key: bytes, now: datetime | None) -> int:
    """refresh, its work."""
    started = utcnow()
    moment = now or started
    _restore_carried(session, course)
    marks = read_marks(session, course, moment)
    mark, settings, today = fingerprint(session, course, key, moment, marks)
    cutoff = settings.time_cutoff_minutes
    added: dict[int, Totals] = {}
    followed = _followed(
        session, course, key=key, moment=moment, marks=marks, settings=settings, added=added
    )
    if followed is not None:
        _write_state(session, course, followed, mark=mark, moment=moment, started=started)
        return followed.learners
    known = learner_activity.kept(session, course, cutoff, today)
    stood = _standing(session, course) if known is not None else None
    # The names of learners whose rows may stand are read only if they do not.
    unnamed = known.keys() - stood.renamed if known is not None and stood is not None else set()
    # The totals the followed refresh added up before it gave way are not added up again; a
    # course's first ingest counted everyone's as it wrote their rows.
    if known is None:
        reused = class_sums.totals_added(session, course, cutoff, today)
    else:
        reused = {**known, **added}
    data = class_data(
        session, course, key=key, now=moment, kept=reused, assessed=False, unnamed=unnamed
    )
    measured = measures(marks, today, key, data)
    changed = _changed_only(data, known, stood, measured)
    # Those whose rows are written after all, named (the whole class, or some whose reason the
    # little-time threshold's move changed).
    named = [p for p in sorted(data.members if changed is None else changed) if p in unnamed]
    if named:
        name_members(session, data.members, named, key)
    # Only theirs assessed when only their rows are written: the others' levels stand.
    data.risks = assess_class(data, changed)
    if changed is None:
        records = [_record(course.id, row) for row in learner_rows(data)]
        _write_rows(session, course.id, [_IN_ORDER(r) for r in records])
        risk_counts = at_risk_counts(data.risks)
    else:
        _write_some(session, course.id, data, changed)
        risk_counts = _stored_risk_counts(session, course.id)
    # The class's spread, with who has activity, who was active in the 7 days and everyone's
    # country read whole (what the course figures count of them taken from it).
    spread = class_spread.of_class("", data.members, data.segment_week, data.attempts)
    if not has_roster(session, course):
        spread.see(seen_since(session, course, None, set()))
    _follow_people(session, course, spread, set(), today)
    known_now = _known(spread, set(data.members))
    # The course's class figures from the same class data, in the same transaction (imported
    # here: course_summary reads this module's fingerprint).
    from lti_tool.kpis import course_summary

    course_summary.refresh(
        session,
        course,
        key=key,
        now=moment,
        data=data,
        risk_counts=risk_counts,
        marks=marks,
        known=known_now,
    )
    _drop_carried(session, course)
    if not data.members:
        # A course without learners keeps no row at all (a purged course has none left): its
        # next reader finds nothing to read, at the cost of a few empty queries.
        learner_activity.forget(session, course)
        class_spread.forget(session, course)
        state = LearnerSummaryState.__table__
        session.execute(delete(state).where(state.c.course_id == course.id))
        return 0
    of = learner_activity.keep(session, course, data.members, known, cutoff, today)
    class_spread.write(session, course, spread, of, whole=True)
    done = Followed(len(data.members), of, measured, time_limit(data), risk_counts)
    _write_state(session, course, done, mark=mark, moment=moment, started=started)
    return len(data.members)


class Followed(NamedTuple):
    """What a refresh wrote, for the state: how many learners, what their kept totals are of,
    the measures and little-time threshold the rows were measured against, and the class's
    at-risk counts."""

    learners: int
    activity: str
    measures: str
    time_limit: float | None
    risk_counts: dict[str, int]


def _write_state(
    session: DbSession,
    course: Course,
    done: Followed,
    *,
    mark: str,
    moment: datetime,
    started: datetime,
) -> None:
    """Write the course's learner_summary_state after a refresh that wrote its rows."""
    state = LearnerSummaryState.__table__
    values = {
        "activity": done.activity,
        "fingerprint": mark,
        "measures": done.measures,
        "time_limit": done.time_limit,
        "computed_at": moment,
        "learners": done.learners,
        "anyone_at_risk": int(any(done.risk_counts.values())),
        # A mark made after this refresh started may be for data it did not read (another
        # transaction committed meanwhile): that one stays for the next refresh.
        "stale_at": case((state.c.stale_at > started, state.c.stale_at), else_=None),
        "renamed": case((state.c.stale_at > started, state.c.renamed), else_=None),
        "carried_from": None,
        "carried_to": None,
    }
    # Updated in place, not deleted and inserted: a concurrent mark_stale waits for this row
    # and then marks the new version (PostgreSQL would skip a deleted one).
    updated = session.execute(update(state).where(state.c.course_id == course.id).values(values))
    if not rowcount(updated):
        values["stale_at"] = values["renamed"] = None
        session.execute(insert(state).values(course_id=course.id, **values))


def _drop_carried(session: DbSession, course: Course) -> None:
    """Whatever was carried to this refresh is in what it writes now (or its chain broke: the
    marks did not join up, and the class was added up whole)."""
    carried = CarriedRows.__table__
    session.execute(delete(carried).where(carried.c.course_id == course.id))


def _followed(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    moment: datetime,
    marks: Marks,
    settings: course_settings.Settings,
    added: dict[int, Totals],
) -> Followed | None:
    """Follow a change of a few learners without building the class: their rows, kept totals
    and the class's spread written again from their days alone, the class's thresholds and
    cuts read off the spread (class_spread), when the other learners' rows stand (as
    _changed_only says: the same measures; those whose little-time reason a moved threshold
    changes are written too, from their kept totals); None when the class must be built
    (nothing written; the totals it added up, of learners whose days changed, in `added`)."""
    today = settings.today(moment)
    cutoff = settings.time_cutoff_minutes
    since = learner_activity.changed_since(session, course, cutoff, today)
    stood = _standing(session, course) if since is not None else None
    if since is None or stood is None:
        return None
    of, replaced_people = since
    spread = class_spread.read(session, course, of)
    if spread is None or not spread.active:
        return None  # (no one has an active day: the rule's time is the LMS's, not spread)
    seen = None
    if not has_roster(session, course):
        seen = seen_since(session, course, spread.seen, replaced_people)
        spread.see(seen)
    people = class_member_ids(session, course, seen)
    joined, left = people - spread.people, spread.people - people
    changed = (replaced_people & people) | joined | (stood.renamed & people)
    if not people or len(changed) * 2 > len(people):
        return None
    before = sorted((changed & spread.people) | left)
    totals = learner_activity.read_some(session, course, before)
    if len(totals) != len(before):
        return None
    everyone = sorted(people)
    lms = class_lms(session, course, people)
    progress = progress_of(session, course, everyone, lms)
    old = load_members(
        session,
        course,
        key=key,
        cutoff_minutes=cutoff,
        today=today,
        people=set(before),
        kept=totals,
        unnamed=set(before),
    )
    new = load_members(session, course, key=key, cutoff_minutes=cutoff, today=today, people=changed)
    added.update((person, totals_of(member)) for person, member in new.items())
    week = week_start(today) - timedelta(days=7)
    attempts = problem_attempts(session, course, [week], changed)
    try:
        class_spread.follow(spread, old.values(), new, week, attempts)
    except class_spread.NotInSpread:
        return None
    # (class_lms holds the class's rows alone: most of a MOOC's learners have none.)
    scores = [score for row in lms.values() if (score := staff_current_score(row)) is not None]
    done = [p.done for p in progress.values()]
    times = spread.sorted_values(class_spread.TIME)
    limits = thresholds_of(done, scores, times, TOOL_TIME, settings)
    cuts = class_spread.cuts(spread)
    data = ClassData(
        course,
        settings,
        today,
        dict(new),  # (with those whose reason the threshold's move changes, when it does)
        progress,
        {},
        segments_with(new, week, attempts, cuts),
        limits,
        tuple(cuts),
        past_due_work(session, course, changed, moment),
        attempts,
    )
    measured = measures(marks, today, key, data)
    if measured != stood.measures:
        return None
    moved = _reason_moved(session, course, data, stood.time_limit, people - changed, lms)
    if moved is None or len(changed | moved) * 2 > len(people):
        return None
    if moved:
        _add_members(session, data, moved, key=key, moment=moment, week=week)
    data.risks = assess_class(data)
    _follow_people(session, course, spread, replaced_people, today)
    written = sorted(changed | moved)
    _delete_rows(session, course.id, sorted(changed | moved | left))
    label = course_label(course)
    records = [_record(course.id, row_of(data, data.members[p], label)) for p in written]
    insert_rows(session, LearnerSummary, [_IN_ORDER(r) for r in records])
    risk_counts = _stored_risk_counts(session, course.id)
    # (Imported here: course_summary reads this module's fingerprint.)
    from lti_tool.kpis import course_summary

    known = _known(spread, people)

    def figures(weeks: Mapping[Week, int]) -> course_summary.Figures:
        return course_summary.figures_from(
            session,
            course,
            today,
            people,
            progress,
            sections=class_sections(session, course, people),
            weekly_time=weekly_time_rows(course, spread.weeks()),
            scores=[row.current_score for row in lms.values() if row.current_score is not None],
            weeks=weeks,
            risk_counts=risk_counts,
            active_7_days=known.active_7_days,
        )

    followed = course_summary.Followed(people, figures)
    course_summary.refresh(
        session, course, key=key, now=moment, marks=marks, followed=followed, known=known
    )
    _drop_carried(session, course)
    of = learner_activity.keep_some(session, course, new, left, cutoff, today)
    class_spread.write(session, course, spread, of)
    return Followed(len(people), of, measured, time_limit(data), risk_counts)


def _reason_moved(
    session: DbSession,
    course: Course,
    data: ClassData,
    before: float | None,
    others: Set[int],
    lms: Mapping[int, Any],
) -> set[int] | None:
    """Of `others` (the class's learners whose rows stand), those whose little-time reason the
    threshold's move from `before` to the class's now changes (at_risk.time_reason_moved), from
    their kept totals: those of the stored rows whose time may lie under either threshold;
    None when one's totals are not kept."""
    now = time_limit(data)
    if now == before:
        return set()
    top = max(limit for limit in (before, now) if limit is not None)
    table = LearnerSummary.__table__
    # The rows' times are rounded to the second: half a second's margin and more.
    below = session.scalars(
        select(table.c.person_id).where(
            table.c.course_id == course.id, table.c.time_total <= top + 1
        )
    )
    candidates = sorted(person for person in below if person in others)
    totals = learner_activity.read_some(session, course, candidates)
    if len(totals) != len(candidates):
        return None
    assert data.limits is not None  # (thresholds_of's)
    return reason_moved(
        {person: totals[person][0] for person in candidates},  # (Totals: time_total first)
        data.progress,
        lambda person: staff_current_score(lms.get(person)),
        data.limits._replace(time=now),
        before,
    )


def _add_members(
    session: DbSession,
    data: ClassData,
    people: set[int],
    *,
    key: bytes,
    moment: datetime,
    week: date,
) -> None:
    """Add to a followed refresh's class data some learners whose rows are written again
    though their days did not change: loaded from their kept totals, with their segment and
    work due."""
    course, today = data.course, data.today
    cutoff = data.settings.time_cutoff_minutes
    totals = learner_activity.read_some(session, course, sorted(people))
    found = load_members(
        session, course, key=key, cutoff_minutes=cutoff, today=today, people=people, kept=totals
    )
    attempts = problem_attempts(session, course, [week], people)
    data.members.update(found)
    data.attempts.update(attempts)
    data.segments.update(segments_with(found, week, attempts, list(data.cuts)))
    data.work.update(past_due_work(session, course, people, moment))


def _known(spread: class_spread.Spread, people: set[int]) -> course_summary.Known:
    """What the spread tells of the class (`people`) for its course figures
    (course_summary.Known)."""
    from lti_tool.kpis import course_summary

    assert spread.recent is not None and spread.countries is not None  # (_follow_people's)
    return course_summary.Known(len(people & spread.recent), spread.countries)


def _follow_people(
    session: DbSession, course: Course, spread: class_spread.Spread, people: Set[int], day: date
) -> None:
    """Give the spread the people active in the 7 days to `day` and everyone's last known
    country now: read whole when it has none, else followed through `people` (those whose
    rows were replaced: the others' days and countries are as they were)."""
    since = day - timedelta(6)
    replaced_people = sorted(people)
    if spread.recent is None:
        spread.keep_recent(active_since(session, course, since))
    else:
        now = active_since(session, course, since, replaced_people)
        spread.keep_recent((spread.recent - people) | now)
    if spread.countries is None:
        spread.keep_countries(learner_countries(session, course))
    else:
        countries = dict(spread.countries)
        for person in replaced_people:
            countries.pop(person, None)
        countries.update(countries_of(session, course, replaced_people))
        spread.keep_countries(countries)


def measures(marks: Marks, today: date, key: bytes, data: ClassData) -> str:
    """The digest of what every learner's row is measured against besides their own figures:
    the fingerprint's parts but the course's activity and roster, the class's thresholds but
    the little-time one, and the segment week's cuts (ClassData.limits and cuts).

    The little-time threshold (time_limit) is kept beside the digest, not in it: a percentile
    of every learner's time, it moves with nearly every ingest in a course with completion or
    scores, and moved it changes the rows of few (at_risk.time_reason_moved says whose).

    The roster's marks are left out: who is of the class is read whole at every refresh (a
    learner new to it has no kept totals, so _changed_only writes their row; one gone from it
    has theirs deleted by _write_some), what they change for the others moves the thresholds
    and cuts, and what else of a row the roster gives (sections, the LMS's figures) comes with
    a sync run, whose mark is in. So a launch enrolling one learner writes one row."""
    assert data.limits is not None  # (class_data's)
    middle_done, middle_score, _time, what = data.limits
    limits = (middle_done, middle_score, what if time_limit(data) is not None else "")
    return _digest((*_parts(marks.data[_SYNCS_AT:], today, marks.due, key), limits, data.cuts))


def time_limit(data: ClassData) -> float | None:
    """The class's little-time threshold as its rows are assessed with it: None when there is
    none, or when nobody can meet that rule (no median items done, no median score)."""
    assert data.limits is not None  # (class_data's)
    middle_done, middle_score, time, _what = data.limits
    return None if middle_done is None and middle_score is None else time


_STANDING = select(
    _STATE_TABLE.c.measures,
    _STATE_TABLE.c.stale_at,
    _STATE_TABLE.c.renamed,
    _STATE_TABLE.c.time_limit,
).where(_STATE_TABLE.c.course_id == bindparam("course"), _STATE_TABLE.c.measures.is_not(None))


class Standing(NamedTuple):
    """What the stored rows were measured against (measures' digest, the little-time
    threshold), and the learners a write has shown otherwise since (mark_renamed), whose rows
    are written again with the changed."""

    measures: str
    renamed: frozenset[int]
    time_limit: float | None = None


def _standing(session: DbSession, course: Course) -> Standing | None:
    """The stored rows' Standing when they may stand for learners whose figures did not change
    (as far as can be told before the class's figures are: _changed_only says); None when a
    version without the digest wrote them or a write marked them stale for reasons unknown."""
    found = run(session, _STANDING, course=course.id).first()
    if found is None or (found.stale_at is not None and found.renamed is None):
        return None
    renamed = orjson.loads(found.renamed) if found.stale_at is not None else []
    return Standing(found.measures, frozenset(renamed), found.time_limit)


def _changed_only(
    data: ClassData, known: dict[int, Any] | None, stood: Standing | None, measured: str
) -> set[int] | None:
    """The learners whose rows are all this refresh needs to write, or None for the whole
    class. Only theirs when the other learners' figures are as the stored rows were built
    from (their activity totals kept: learner_activity.kept, whose learners' days no write
    replaced since), measured against the same (`measured`: measures) and shown as they were
    (the learners a write named otherwise since are written again too), and those whose
    little-time reason the threshold's move changes."""
    if known is None or stood is None or stood.measures != measured or not data.members:
        return None
    changed = (data.members.keys() - known.keys()) | (stood.renamed & data.members.keys())
    assert data.limits is not None  # (class_data's)
    limits = data.limits._replace(time=time_limit(data))
    changed |= time_reason_moved(data.members, data.progress, limits, stood.time_limit)
    return changed if len(changed) * 2 <= len(data.members) else None


def _write_some(session: DbSession, course_id: int, data: ClassData, changed: set[int]) -> None:
    """Write again the rows of the `changed` learners alone, and drop those of learners no
    longer of the class."""
    table = LearnerSummary.__table__
    present = set(session.scalars(select(table.c.person_id).where(table.c.course_id == course_id)))
    _delete_rows(session, course_id, sorted(changed | (present - data.members.keys())))
    label = course_label(data.course)
    records = [_record(course_id, row_of(data, data.members[p], label)) for p in sorted(changed)]
    insert_rows(session, LearnerSummary, [_IN_ORDER(r) for r in records])


_RISK_COUNTS = (
    select(_T.risk_rank, func.count())
    .where(_T.course_id == bindparam("course"), _T.risk_rank > 0)
    .group_by(_T.risk_rank)
)


def _stored_risk_counts(session: DbSession, course_id: int) -> dict[str, int]:
    """How many of the stored rows are high and watch (at_risk.counts of them)."""
    found: dict[int, int] = {rank: n for rank, n in run(session, _RISK_COUNTS, course=course_id)}
    return {HIGH: found.get(level_rank(HIGH), 0), WATCH: found.get(level_rank(WATCH), 0)}


def _delete_rows(session: DbSession, course_id: int, people: list[int]) -> None:
    """Delete some learners' stored rows, CHUNK ids a statement."""
    table = LearnerSummary.__table__
    for start in range(0, len(people), CHUNK):
        chunk = people[start : start + CHUNK]
        session.execute(
            delete(table).where(table.c.course_id == course_id, table.c.person_id.in_(chunk))
        )


def _write_rows(session: DbSession, course_id: int, rows: list[tuple[Any, ...]]) -> None:
    """Make the course's stored rows these (tuples in the table's column order): only the
    ones that differ are written (a refresh after a small change, a new day, a settings
    change rewrites few of 100,000 rows, each of them in twelve indexes); the whole course at
    once (one DELETE, one bulk INSERT: COPY on PostgreSQL) when most do."""
    table = LearnerSummary.__table__
    mine = table.c.course_id == course_id
    stored = {row[_PERSON]: tuple(row) for row in driver_rows(session, select(table).where(mine))}
    wanted = {row[_PERSON]: row for row in rows}
    gone = sorted(person for person, row in stored.items() if wanted.get(person) != row)
    if len(gone) * 2 > len(stored):
        session.execute(delete(table).where(mine))
        insert_rows(session, LearnerSummary, rows)
        return
    _delete_rows(session, course_id, gone)
    insert_rows(session, LearnerSummary, [row for row in rows if stored.get(row[_PERSON]) != row])


def current(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    now: datetime | None = None,
    inline_up_to: int | None = None,
    marks: Marks | None = None,
) -> State:
    """The course's summary state, its rows refreshed first when their data moved since they
    were written or a write marked them stale (the caller commits: the refresh is then every
    reader's).

    With `inline_up_to` (a page), rows of more learners than that are not refreshed here: a
    refresh costs about a second per 10,000 learners, so they are marked stale for the
    scheduler's job and shown as they are (State.behind_since). `marks`: read_marks's, when
    the caller has them (fingerprint).
    """
    moment = now or utcnow()
    mark, settings, today = fingerprint(session, course, key, moment, marks)
    # The state read with the marks when it says the rows are current (a page's usual case);
    # else read again (this request may have written them since).
    found = marks.state if marks is not None else None
    if found is None or found.fingerprint != mark or found.stale_at is not None:
        found = _state(session, course)
    if found is not None and found.fingerprint == mark and found.stale_at is None:
        return State(settings, today, found.learners, bool(found.anyone_at_risk), mark=mark)
    if _left_to_the_job(found, inline_up_to):
        if found.stale_at is None:
            mark_stale(session, [course.id])
        at = found.computed_at
        return State(settings, today, found.learners, bool(found.anyone_at_risk), at, mark)
    # One writer at a time per course (PostgreSQL: the course's row; SQLite locks the whole
    # database for the write anyway), and the rows may be current once it is ours.
    session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    found = _state(session, course)
    if found is None or found.fingerprint != mark or found.stale_at is not None:
        learners = refresh(session, course, key=key, now=moment)
        found = _state(session, course)
        anyone = learners > 0 and found is not None and bool(found.anyone_at_risk)
        return State(settings, today, learners, anyone, mark=mark)
    return State(settings, today, found.learners, bool(found.anyone_at_risk), mark=mark)


def behind_since(session: DbSession, course: Course) -> datetime | None:
    """When the course's rows were written, while a write has marked them stale since (a large
    course's pages show them as of then); None when they are current or were never written."""
    found = _state(session, course)
    if found is None or found.stale_at is None or found.fingerprint == NEVER_WRITTEN:
        return None
    return found.computed_at  # type: ignore[no-any-return]


def _left_to_the_job(found: Any, inline_up_to: int | None) -> bool:
    """Whether a page shows these stored rows behind their data rather than writing them."""
    return (
        inline_up_to is not None
        and found is not None
        and found.fingerprint != NEVER_WRITTEN
        and found.learners > inline_up_to
    )


def _state(session: DbSession, course: Course) -> Any:
    """The course's stored fingerprint, learners, anyone at risk, stale mark and when it was
    written (None: no row)."""
    return run(session, _STATE, course=course.id).first()


_STATE = select(
    LearnerSummaryState.fingerprint,
    LearnerSummaryState.learners,
    LearnerSummaryState.anyone_at_risk,
    LearnerSummaryState.stale_at,
    LearnerSummaryState.computed_at,
).where(LearnerSummaryState.course_id == bindparam("course"))


def stored(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> State | None:
    """The course's summary state as stored, current or not (None when it has none): what a
    reader shows while another process holds the database for a long write."""
    mark, settings, today = fingerprint(session, course, key, now or utcnow())
    found = session.execute(
        select(LearnerSummaryState.learners, LearnerSummaryState.anyone_at_risk).where(
            LearnerSummaryState.course_id == course.id,
            # mark_stale's placeholder of a summary never written holds no rows to show.
            LearnerSummaryState.fingerprint != NEVER_WRITTEN,
        )
    ).first()
    return None if found is None else State(settings, today, found[0], bool(found[1]), mark=mark)


def refresh_changed(session: DbSession, key: bytes) -> None:
    """Refresh the summaries of the courses whose activity this session changed (what
    lti_tool.activity.rollups.touch_courses noted), before the change is committed; a small
    write (rollups.summaries_later: an event-API or xAPI batch) only marks them stale, for the
    refresh job or the next reader."""
    changed: set[int] = session.info.pop(CHANGED_COURSES, set())
    # Names shown otherwise (rollups.shown_again) move no fingerprint: marked stale with whose,
    # so that current() writes their rows again.
    shown: dict[int, set[int]] = session.info.pop(SHOWN_AGAIN, {})
    mark_renamed(session, shown)
    # Read, not taken: other summaries' refreshes in the same commit read it too (the commit
    # listener clears it).
    if session.info.get(SUMMARIES_LATER, False):
        mark_stale(session, [course_id for course_id in changed if not _carry(session, course_id)])
        return
    started = time.perf_counter()
    for course_id in sorted(changed | shown.keys()):
        course = session.get(Course, course_id)
        if course is not None:
            current(session, course, key=key)
    seconds = session.info.get(SUMMARIES_SECONDS, 0.0) + time.perf_counter() - started
    session.info[SUMMARIES_SECONDS] = seconds


def summaries_seconds(session: DbSession) -> float:
    """The seconds this session's commits spent writing summaries (refresh_changed) since it
    was last asked: what an ingest reports of its time."""
    seconds: float = session.info.pop(SUMMARIES_SECONDS, 0.0)
    return seconds


def mark_stale(session: DbSession, course_ids: Iterable[int]) -> None:
    """Note that the courses' summary rows are behind their data, without rewriting them: one
    small upsert (a course without rows yet gets a placeholder row, so the job finds it too)."""
    ids = sorted(set(course_ids))
    if not ids:
        return
    now = utcnow()
    table = LearnerSummaryState.__table__
    marks = dialect_insert(session, table).values(
        [
            {
                "course_id": course_id,
                "fingerprint": NEVER_WRITTEN,
                "computed_at": now,
                "learners": 0,
                "anyone_at_risk": 0,
                "stale_at": now,
                "renamed": None,
                "carried_from": None,
                "carried_to": None,
            }
            for course_id in ids
        ]
    )
    # An upsert, not an UPDATE: a row a concurrent refresh is inserting is marked once it is
    # committed (PostgreSQL waits for it), so no mark is lost. Stale for reasons unknown: no
    # renamed learners (the next refresh writes the whole class).
    session.execute(
        marks.on_conflict_do_update(
            index_elements=[table.c.course_id],
            set_={
                "stale_at": marks.excluded.stale_at,
                "renamed": None,
                "carried_from": None,
                "carried_to": None,
            },
        )
    )


def mark_renamed(session: DbSession, shown: Mapping[int, Set[int]]) -> None:
    """Note that the rows of some learners show them otherwise now (a launch or a later log
    named them: rollups.shown_again), their figures unchanged: marked stale with who they are,
    so that the next refresh writes their rows again, the others' standing when nothing else
    moved. A course already stale for reasons unknown, or without rows, is marked stale."""
    table = LearnerSummaryState.__table__
    for course_id in sorted(shown):
        mine = table.c.course_id == course_id
        # Locked while it is read and written: a concurrent mark or refresh waits (PostgreSQL).
        found = session.execute(
            select(table.c.stale_at, table.c.renamed).where(mine).with_for_update()
        ).first()
        if found is None or (found.stale_at is not None and found.renamed is None):
            mark_stale(session, [course_id])
            continue
        before = orjson.loads(found.renamed) if found.stale_at is not None else []
        people = sorted(set(before) | set(shown[course_id]))
        renamed = orjson.dumps(people).decode()
        session.execute(update(table).where(mine).values(stale_at=utcnow(), renamed=renamed))


def _carry(session: DbSession, course_id: int) -> bool:
    """Carry a small write's change of a course to its next refresh, marking the course stale
    with it; whether it could (else the caller marks it stale for reasons unknown).

    Its record of replaced rows (lti_tool.activity.replaced) ends with its transaction: the
    rows as they were are kept in `carried_rows` (a learner's first rows only, when earlier
    small writes carried theirs), with the course's activity mark before the first of them
    and after this one, so that the next refresh follows the change as an ingest's own commit
    does (restored by _restore_carried). Only when nothing else changed the activity between
    the rows' last refresh and these writes (the marks join up), and for at most
    replaced.LIMIT learners."""
    record = replaced.taken(session, course_id)
    if record is None or record.dates_moved:
        return False
    table = _STATE_TABLE
    mine = table.c.course_id == course_id
    # Locked while it is read and written: a concurrent mark or refresh waits (PostgreSQL).
    found = session.execute(
        select(
            table.c.activity,
            table.c.stale_at,
            table.c.renamed,
            table.c.carried_from,
            table.c.carried_to,
        )
        .where(mine)
        .with_for_update()
    ).first()
    if found is None or found.activity is None:
        return False
    if found.stale_at is not None and found.renamed is None:
        return False  # stale for reasons unknown: the next refresh adds everything up
    rows = CarriedRows.__table__
    if found.carried_to is None:
        if orjson.loads(found.activity).get("mark") != record.mark:
            return False
        start = record.mark
        session.execute(delete(rows).where(rows.c.course_id == course_id))
        held: set[int] = set()
    elif found.carried_to == record.mark:
        start = found.carried_from
        held = set(session.scalars(select(rows.c.person_id).where(rows.c.course_id == course_id)))
    else:
        return False
    fresh = [person for person in sorted(record.rows.days) if person not in held]
    if len(held) + len(fresh) > replaced.LIMIT:
        return False
    insert_rows(
        session, CarriedRows, [(course_id, p, replaced.packed(record.rows, p)) for p in fresh]
    )
    now = session.scalar(select(Course.updated_at).where(Course.id == course_id))
    session.execute(
        update(table)
        .where(mine)
        .values(
            carried_from=start,
            carried_to=replaced.activity_mark(now),
            stale_at=utcnow(),
            # Stale with whom (nobody named otherwise, unless a write did before): the
            # replaced learners' rows are written again as their kept totals are not valid.
            renamed=found.renamed if found.stale_at is not None else "[]",
        )
    )
    return True


def _restore_carried(session: DbSession, course: Course) -> None:
    """Make the small writes carried to this refresh (_carry) part of this transaction's
    record of replaced rows, when they and this transaction's own change are all that changed
    the course's activity since they began."""
    table = _STATE_TABLE
    found = session.execute(
        select(table.c.carried_from, table.c.carried_to).where(table.c.course_id == course.id)
    ).first()
    if found is None or found.carried_to is None:
        return
    own = session.info.get(replaced.REPLACED, {}).get(course.id)
    if own is None:
        now = session.scalar(select(Course.updated_at).where(Course.id == course.id))
        if replaced.activity_mark(now) != found.carried_to:
            return
    elif not own.complete or own.mark != found.carried_to:
        return
    rows = CarriedRows.__table__
    carried = dict(
        driver_rows(
            session, select(rows.c.person_id, rows.c.rows).where(rows.c.course_id == course.id)
        )
    )
    replaced.restore(session, course.id, found.carried_from, carried)


def stale_courses(session: DbSession) -> list[int]:
    """The courses whose summary a write marked stale, the longest-waiting first."""
    return list(
        session.scalars(
            select(LearnerSummaryState.course_id)
            .where(LearnerSummaryState.stale_at.is_not(None))
            .order_by(LearnerSummaryState.stale_at, LearnerSummaryState.course_id)
        )
    )


def refresh_stale(session: DbSession, key: bytes) -> int:
    """Refresh each course whose summary is marked stale, committing after each (the
    scheduler's job); the number refreshed."""
    done = 0
    for course_id in stale_courses(session):
        course = session.get(Course, course_id)
        if course is not None:
            current(session, course, key=key)
            done += 1
        session.commit()
    return done


def _where(course: Course, filters: dict[str, str]) -> list[ColumnElement[bool]]:
    """The learners table's filters (lti_tool.views.learners.filters_from) as SQL conditions."""
    found: list[ColumnElement[bool]] = [_T.course_id == course.id]
    if filters.get("section"):
        members = (
            select(SectionMember.person_id)
            .join(Section, Section.id == SectionMember.section_id)
            .where(Section.course_id == course.id, Section.name == filters["section"])
        )
        found.append(_T.person_id.in_(members))
    # Filtered on the ranks where they say the same: the sort indexes hold them.
    if filters.get("segment"):
        rank = SEGMENT_RANK.get(filters["segment"])
        found.append(_T.segment_rank == rank if rank is not None else false())
    if filters.get("risk"):
        found.append(_T.risk_rank > 0)
    if filters.get("level") in (HIGH, WATCH):
        found.append(_T.risk_rank == level_rank(filters["level"]))
    elif filters.get("level"):
        found.append(_T.risk_level == filters["level"])
    if filters.get("q"):
        found.append(_T.search.contains(filters["q"].casefold(), autoescape=True))
    return found


def _order(key: str, descending: bool) -> list[tuple[list[ColumnElement[bool]], list[Any]]]:
    """ORDER BY for a sort key (or RISK_FIRST), as the Python sort orders the class's rows
    (lti_tool.views.learners.sort_rows): empty values last in either direction, ties by name
    in the same direction, then by name and person id as the class's rows come (by name).

    As parts read one after the other, each (extra condition, ORDER BY) in the order of an
    index: a column's values first, then its empty ones by name. One ORDER BY putting the
    empty ones last would sort the whole class instead of reading an index.
    """
    by_name = [_T.name_key, _T.person_id]
    if key == RISK_FIRST:
        # Level by level: each is its part of the risk_rank index, already in name order.
        return [([_T.risk_rank == rank], by_name) for rank in _RANKS_HIGH_FIRST]
    column = SORT_COLUMNS[key]
    if key == "name":
        return [([], [column.desc() if descending else column, _T.person_id])]
    if descending:
        given = [column.desc(), _T.name_key.desc(), _T.person_id]
    else:
        given = [column, *by_name]
    if not column.nullable:
        return [([], given)]
    # The empty ones by name, the (empty) column first all the same: its index is then read in
    # order whatever the planner believes (PostgreSQL sees no order in `IS NULL` and, before
    # the table was analyzed, sorted the whole class: 36 ms a page at 100,000 learners).
    return [([column.is_not(None)], given), ([column.is_(None)], [column, *by_name])]


def _page_ids(
    session: DbSession, where: list[ColumnElement[bool]], order: str, descending: bool,
    offset: int, limit: int | None,
) -> list[int]:  # fmt: skip
    """The person ids of one page of rows, read part by part in the order's indexes."""
    found: list[int] = []
    for condition, order_by in _order(order, descending):
        left = None if limit is None else limit - len(found)
        if left == 0:
            break
        query = select(_T.person_id).where(*where, *condition).order_by(*order_by)
        if left is not None:
            query = query.limit(left)
        part = list(session.scalars(query.offset(offset)))
        if offset and not part:
            # The page begins beyond this part: skip its rows in the next one.
            counted = select(func.count()).select_from(LearnerSummary)
            offset -= session.scalar(counted.where(*where, *condition)) or 0
        else:
            offset = 0
        found.extend(part)
    return found


def _row(record: Any, label: str) -> dict[str, Any]:
    """A learner_summary row as the learners table's row (lti_tool.kpis.learners.row_of)."""
    return {
        "course": label,
        "person": record.person_id,
        "learner": record.learner,
        "name": as_pseudonym(record.name),
        "email": record.email,
        "sections": orjson.loads(record.sections),
        "last_active": record.last_active,
        "time_7d": record.time_7d,
        "time_total": record.time_total,
        "lms_activity_seconds": record.lms_activity_seconds,
        "sessions": record.sessions,
        "videos_watched": record.videos_watched,
        "completion": record.completion,
        "current_score": record.current_score,
        "posted_current_score": record.posted_current_score,
        "segment": record.segment,
        "at_risk": record.risk_rank > 0,
        "risk_level": record.risk_level,
        "at_risk_reasons": [decode_text(r) for r in orjson.loads(record.reasons)],
    }


def rows(
    session: DbSession,
    course: Course,
    filters: dict[str, str] | None = None,
    order: str = "name",
    descending: bool = False,
    *,
    offset: int = 0,
    limit: int | None = None,
    people: set[int] | None = None,
) -> list[dict[str, Any]]:
    """The stored rows that pass the filters (and are among `people`, when given), sorted on a
    column (or RISK_FIRST), one page of them when a limit is given. Read current() first."""
    # The page's person ids first, sorted on the keys alone (the database's sorter then holds
    # narrow rows, not the reasons and names of the whole class), then their rows.
    where = _where(course, filters or {})
    table = LearnerSummary.__table__
    label = course_label(course)
    if people is not None and len(people) == 1:
        # One learner's row (their page): one read, nothing to sort.
        where.append(_T.person_id == next(iter(people)))
        one = [_row(record, label) for record in session.execute(select(table).where(*where))]
        return one[offset:] if limit is None else one[offset : offset + limit]
    if people is not None:
        where.append(_T.person_id.in_(sorted(people)))
    wanted = _page_ids(session, where, order, descending, offset, limit)
    found: dict[int, Any] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        query = select(table).where(_T.course_id == course.id, _T.person_id.in_(chunk))
        found.update((record.person_id, record) for record in session.execute(query))
    return [_row(found[person_id], label) for person_id in wanted]


def member_ids(session: DbSession, course: Course, section: str = "") -> set[int]:
    """The class's learners as the rows hold them, or those of one section (read current()
    first)."""
    where = _where(course, {"section": section})
    return set(session.scalars(select(_T.person_id).where(*where)))


def count(session: DbSession, course: Course, filters: dict[str, str] | None = None) -> int:
    """How many stored rows pass the filters."""
    query = select(func.count()).select_from(LearnerSummary).where(*_where(course, filters or {}))
    return session.scalar(query) or 0


def score_values(session: DbSession, course: Course, section: str = "") -> list[float]:
    """The stored current scores there are (staff's), lowest first: the whole class's or one
    section's (read from the score's sort index, without the learners who have none)."""
    where = [*_where(course, {"section": section}), _T.current_score.is_not(None)]
    return list(session.scalars(select(_T.current_score).where(*where).order_by(_T.current_score)))


def sections(session: DbSession, course: Course) -> list[str]:
    """Every section a learner of the class is in, in name order."""
    return sorted(run(session, _SECTIONS, course=course.id).scalars())


_SECTIONS = (
    select(Section.name)
    .join(SectionMember, SectionMember.section_id == Section.id)
    .join(
        LearnerSummary,
        (LearnerSummary.course_id == bindparam("course"))
        & (LearnerSummary.person_id == SectionMember.person_id),
    )
    .where(Section.course_id == bindparam("course"))
    .distinct()
)


def learners_report(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The `learners` report: one row per learner with the learners table's columns, by
    name."""
    current(session, course, key=key, now=now)
    return rows(session, course)
