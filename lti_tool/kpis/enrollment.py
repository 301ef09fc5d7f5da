"""Enrollment over time, counted as Open edX Insights' pipeline counts it
(`insights/enrollments.py`: `DaysEnrolledForEvents`, then its `course_enrollment_daily` and
`course_enrollment_mode_daily` tables).

Per learner, their enrollment events (`edx.course.enrollment.activated|deactivated|mode_changed`)
in time order (ties: by event name, then mode, as the pipeline sorts its tuples):

- an activation enrolls an unenrolled learner, a deactivation unenrolls an enrolled one, and
  every event (a deactivation and a repeated activation too) sets the learner's mode to its own;
- the learner's state and mode at the end of a day are those after the day's last event, so an
  unenrolment and a re-enrollment on one day leave them enrolled that day;
- from the day of their first event (whatever it is: a learner first seen unenrolling counts as
  having an enrollment history from that day) to the last day, the learner is one record a day.

A day's `count` is the records enrolled at its end; its `cumulative_count` is all its records.
Per mode, the same over the records whose mode at the end of the day is that mode: a learner
who moved from audit to verified leaves audit's cumulative count, and a mode no record has that
day has no row, as in the pipeline's tables.

Learners without enrollment events (a Canvas course, an Open edX course without logs, someone
who enrolled before the logs begin) are counted from the LMS's enrollment date (`lms_enrollment`,
kept by the Canvas and Open edX syncs); see `lms_changes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lti_tool.i18n.text import N_, gettext
from lti_tool.kpis import course_settings
from lti_tool.kpis.labels import course_label
from lti_tool.models import Course, Enrollment, EnrollmentChange, LmsEnrollment
from lti_tool.models.types import DbSession, utcnow

ACTIVATED = "edx.course.enrollment.activated"
DEACTIVATED = "edx.course.enrollment.deactivated"
MODE_CHANGED = "edx.course.enrollment.mode_changed"
# The only events the pipeline reads (not edx.course.enrollment.upgrade.* and the like).
EVENTS = (ACTIVATED, DEACTIVATED, MODE_CHANGED)
#: The pipeline's name for a mode not known; also ours for an event stored without one.
UNKNOWN_MODE = "unknown"
#: The `mode` of the rows that count the whole course.
ALL = "all"
FIELDS = ("course", "date", "mode", "count", "cumulative_count")
#: Learners whose LMS dates lms_changes reads by key rather than among the course's.
FEW = 1000


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """One enrollment event of a learner: epoch seconds, event name, mode."""

    time: float
    name: str
    mode: str


@dataclass(frozen=True, slots=True)
class DayEnd:
    """A learner's state at the end of a day on which it differs from the day before."""

    day: date
    enrolled: bool
    mode: str


def day_ends(changes: Iterable[Change], zone: ZoneInfo, last_day: date) -> list[DayEnd]:
    """A learner's state and mode at the end of each day whose events change them (the first
    day always), up to `last_day`; events after it are not read (the pipeline's interval)."""
    ends: list[DayEnd] = []
    enrolled = False
    mode = UNKNOWN_MODE
    current: date | None = None
    for change in sorted(changes):
        day = datetime.fromtimestamp(change.time, zone).date()
        if day > last_day:
            break
        if current is not None and day != current:
            _close(ends, current, enrolled, mode)
        current = day
        if change.name == ACTIVATED:
            enrolled = True
        elif change.name == DEACTIVATED:
            enrolled = False
        mode = change.mode  # every event names the mode the learner has after it
    if current is not None:
        _close(ends, current, enrolled, mode)
    return ends


def _close(ends: list[DayEnd], day: date, enrolled: bool, mode: str) -> None:
    """Record the end of a day when it differs from the last one recorded."""
    if not ends or ends[-1].enrolled != enrolled or ends[-1].mode != mode:
        ends.append(DayEnd(day, enrolled, mode))


@dataclass(frozen=True, slots=True)
class DayCount:
    """One row of the daily table: learners enrolled at the end of the day, and with a history."""

    day: date
    mode: str
    count: int
    cumulative_count: int


#: Day -> mode -> the change in (learners enrolled, learners with a history) that day.
Deltas = dict[date, dict[str, list[int]]]


def daily_counts(learners: Iterable[Sequence[DayEnd]], last_day: date) -> list[DayCount]:
    """Per day from the first learner's first day to `last_day`: the row of all modes, then a
    row per mode that some learner has at the end of that day (modes in name order)."""
    deltas: Deltas = {}
    for ends in learners:
        add_deltas(deltas, ends)
    return rows_of(deltas, last_day)


def add_deltas(deltas: Deltas, ends: Sequence[DayEnd], sign: int = 1) -> None:
    """Add (sign 1) or take out (-1) one learner's day ends' changes."""
    previous: DayEnd | None = None
    for end in ends:
        if previous is not None:
            before = deltas.setdefault(end.day, {}).setdefault(previous.mode, [0, 0])
            before[0] -= sign * previous.enrolled
            before[1] -= sign
        after = deltas.setdefault(end.day, {}).setdefault(end.mode, [0, 0])
        after[0] += sign * end.enrolled
        after[1] += sign
        previous = end


def rows_of(deltas: Deltas, last_day: date) -> list[DayCount]:
    """daily_counts's rows from the learners' deltas summed forward; a day whose changes come
    to nothing in every mode is no first day (a history begins with one more learner)."""
    days = [day for day, modes in deltas.items() if any(any(c) for c in modes.values())]
    if not days:
        return []
    running: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows: list[DayCount] = []
    day = min(days)
    while day <= last_day:
        for mode, (enrolled, history) in deltas.get(day, {}).items():
            running[mode][0] += enrolled
            running[mode][1] += history
        shown = sorted((m, c) for m, c in running.items() if c[1] > 0)
        rows.append(DayCount(day, ALL, sum(c[0] for _, c in shown), sum(c[1] for _, c in shown)))
        rows.extend(DayCount(day, mode, c[0], c[1]) for mode, c in shown)
        day += timedelta(days=1)
    return rows


def learner_changes(
    session: DbSession, course: Course, people: set[int] | None = None
) -> dict[int, list[Change]]:
    """Each learner's enrollment events in the course (of some people only, when given)."""
    found: dict[int, list[Change]] = defaultdict(list)
    for person_id, time, name, mode in session.connection().execute(
        select(
            EnrollmentChange.person_id,
            EnrollmentChange.time,
            EnrollmentChange.name,
            EnrollmentChange.mode,
        ).where(EnrollmentChange.course_id == course.id, EnrollmentChange.name.in_(EVENTS))
    ):
        if people is None or person_id in people:
            found[person_id].append(Change(time, name, mode or UNKNOWN_MODE))
    return dict(found)


def lms_changes(
    session: DbSession, course: Course, skip: AbstractSet[int], people: set[int] | None = None
) -> dict[int, list[Change]]:
    """Enrollment events made from the LMS's enrollment dates, for the learners in `skip`'s
    complement (those without events): enrolled when the LMS made the enrollment, in its mode;
    one the LMS lists as inactive unenrolled at that same instant (the LMS does not say when
    they left: they count in the history, never as enrolled). Test students are left out."""
    found: dict[int, list[Change]] = {}
    query = (
        select(
            LmsEnrollment.person_id,
            LmsEnrollment.created_at,
            LmsEnrollment.mode,
            Enrollment.status,
            Enrollment.is_test_user,
        )
        .join(
            Enrollment,
            (Enrollment.course_id == LmsEnrollment.course_id)
            & (Enrollment.person_id == LmsEnrollment.person_id),
        )
        .where(LmsEnrollment.course_id == course.id, LmsEnrollment.created_at.is_not(None))
    )
    if people is not None and len(people) <= FEW:
        # A few learners' dates by key (an ingest's), not every date of the course.
        query = query.where(LmsEnrollment.person_id.in_(sorted(people)))
    for person_id, created, mode, status, test in session.connection().execute(query):
        if person_id in skip or test or (people is not None and person_id not in people):
            continue
        when = _aware(created).timestamp()
        events = [Change(when, ACTIVATED, mode or UNKNOWN_MODE)]
        if status != "active":
            events.append(Change(when, DEACTIVATED, mode or UNKNOWN_MODE))
        found[person_id] = events
    return found


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC instant (SQLite gives it back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Enrollments:
    """A course's enrollment history: the daily rows, the learners per day of their first
    enrollment, and how many learners it read from events and from the LMS's enrollment dates."""

    rows: list[DayCount]
    # The day of a first activation -> (learners, of them enrolled at the end of the last day)
    first_days: dict[date, tuple[int, int]]
    last_day: date
    from_events: int = 0
    from_lms: int = 0
    # The day of the latest change read (after last_day too), in the course's time zone
    last_change: date | None = None


def enrollments(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    today: date | None = None,
) -> Enrollments:
    """The course's daily enrollment counts up to today (the course's day) or `today`."""
    settings = course_settings.load(session, course)
    last_day = today or settings.today(utcnow().replace(tzinfo=UTC))
    return counted(tally_of(session, course, settings.zone, last_day, people), settings.zone)


@dataclass
class Tally:
    """Learners' enrollment histories added up, as of a last day: what Enrollments is counted
    from (counted). Per day and mode the change in learners enrolled and with a history
    (Deltas), per day of a first activation the learners and those of them enrolled at the end
    of the last day, how many histories came from events and from the LMS's dates, and the
    latest change's time (epoch seconds; after the last day too)."""

    last_day: date
    deltas: Deltas = field(default_factory=dict)
    first: dict[date, list[int]] = field(default_factory=dict)
    from_events: int = 0
    from_lms: int = 0
    latest: float | None = None

    def add(self, events: Sequence[Change], dated: bool, zone: ZoneInfo, sign: int = 1) -> None:
        """Add (sign 1) or take out (-1) one learner's history: their events, or the changes
        their LMS enrollment date makes (`dated`). Taking out leaves `latest` as it was."""
        ends = day_ends(events, zone, self.last_day)
        add_deltas(self.deltas, ends, sign)
        starts = [c.time for c in events if c.name == ACTIVATED]
        if starts:
            day = datetime.fromtimestamp(min(starts), zone).date()
            if day <= self.last_day:
                counted = self.first.setdefault(day, [0, 0])
                counted[0] += sign
                counted[1] += sign * bool(ends and ends[-1].enrolled)
                if not counted[0]:
                    del self.first[day]
        if dated:
            self.from_lms += sign
        else:
            self.from_events += sign
        if sign > 0 and events:
            latest = max(c.time for c in events)
            self.latest = latest if self.latest is None else max(self.latest, latest)


def tally_of(
    session: DbSession,
    course: Course,
    zone: ZoneInfo,
    last_day: date,
    people: set[int] | None = None,
) -> Tally:
    """The course's enrollment histories (of some people only, when given) added up."""
    tally = Tally(last_day)
    changes = learner_changes(session, course, people)
    for events in changes.values():
        tally.add(events, False, zone)
    for events in lms_changes(session, course, set(changes), people).values():
        tally.add(events, True, zone)
    return tally


def counted(tally: Tally, zone: ZoneInfo) -> Enrollments:
    """The Enrollments a tally counts."""
    latest = tally.latest
    return Enrollments(
        rows_of(tally.deltas, tally.last_day),
        {day: (ever, now) for day, (ever, now) in sorted(tally.first.items())},
        tally.last_day,
        tally.from_events,
        tally.from_lms,
        datetime.fromtimestamp(latest, zone).date() if latest is not None else None,
    )


def tally_as_data(tally: Tally) -> dict[str, Any]:
    """A tally's deltas and latest change as JSON data (its other parts are in as_figures')."""
    return {
        "deltas": [
            [day.isoformat(), mode, *change]
            for day, modes in sorted(tally.deltas.items())
            for mode, change in sorted(modes.items())
            if any(change)
        ],
        "latest": tally.latest,
    }


def tally_from(figures: Mapping[str, Any]) -> Tally:
    """The tally as_figures and tally_as_data kept."""
    deltas: Deltas = {}
    for day, mode, enrolled, history in figures["deltas"]:
        deltas.setdefault(date.fromisoformat(day), {})[mode] = [enrolled, history]
    return Tally(
        date.fromisoformat(figures["last_day"]),
        deltas,
        {date.fromisoformat(day): [ever, now] for day, ever, now in figures["first_days"]},
        figures["from_events"],
        figures["from_lms"],
        figures["latest"],
    )


def since(
    session: DbSession,
    course: Course,
    tally: Tally,
    replaced: Mapping[int, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]],
    zone: ZoneInfo,
) -> Tally | None:
    """The tally after some learners' enrollment events were replaced (`replaced`: per person
    their event rows (time, name, mode) before and now), the LMS's dates as they were: each
    one's history taken out as it was and added as it is. None when that would not be exact:
    a latest change taken out (the one before it is not known)."""
    people = set(replaced)
    dated = lms_changes(session, course, set(), people)
    for person, (before, now) in replaced.items():
        was, was_dated = _history(before, dated.get(person))
        is_, is_dated = _history(now, dated.get(person))
        if (was, was_dated) == (is_, is_dated):
            continue
        if _has_latest(was, tally.latest) and not _has_latest(is_, tally.latest):
            return None
        if was:
            tally.add(was, was_dated, zone, -1)
        if is_:
            tally.add(is_, is_dated, zone)
    return tally


def _has_latest(history: Sequence[Change], latest: float | None) -> bool:
    """Whether a history holds the latest change of a tally."""
    return latest is not None and any(change.time >= latest for change in history)


def _history(
    rows: Iterable[tuple[Any, ...]], dated: list[Change] | None
) -> tuple[list[Change], bool]:
    """A learner's history: their enrollment events when they have any, else the changes
    their LMS date makes (and whether it is those)."""
    events = sorted(
        Change(time, name, mode or UNKNOWN_MODE) for time, name, mode in rows if name in EVENTS
    )
    if events or dated is None:
        return events, False
    return sorted(dated), True


def as_figures(result: Enrollments) -> dict[str, Any]:
    """An Enrollments as JSON data (kpis.page_summary keeps the whole class's)."""
    return {
        "rows": [[r.day.isoformat(), r.mode, r.count, r.cumulative_count] for r in result.rows],
        "first_days": [
            [day.isoformat(), ever, now] for day, (ever, now) in result.first_days.items()
        ],
        "last_day": result.last_day.isoformat(),
        "from_events": result.from_events,
        "from_lms": result.from_lms,
        "last_change": result.last_change.isoformat() if result.last_change else None,
    }


def from_figures(figures: dict[str, Any], today: date) -> Enrollments | None:
    """The Enrollments as_figures kept, counted on to `today`: the days after its last day are
    its last day again (nobody enrolled or left since: no change is later). None when that
    cannot be said: `today` is before its last day, or a change read then is after it."""
    last_day = date.fromisoformat(figures["last_day"])
    last_change = date.fromisoformat(figures["last_change"]) if figures["last_change"] else None
    if today < last_day or (last_change is not None and last_change > last_day):
        return None
    rows = [
        DayCount(date.fromisoformat(day), mode, n, ever) for day, mode, n, ever in figures["rows"]
    ]
    final = [row for row in rows if row.day == last_day]
    day = last_day + timedelta(days=1)
    while final and day <= today:
        rows.extend(DayCount(day, row.mode, row.count, row.cumulative_count) for row in final)
        day += timedelta(days=1)
    return Enrollments(
        rows,
        {date.fromisoformat(d): (ever, now) for d, ever, now in figures["first_days"]},
        today,
        figures["from_events"],
        figures["from_lms"],
        last_change,
    )


def enrollment_daily(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Per day and mode (and `all`): learners enrolled at the end of the day (`count`) and
    learners with an enrollment history up to it (`cumulative_count`), as Insights counts."""
    label = course_label(course)
    return [
        {
            "course": label,
            "date": row.day.isoformat(),
            "mode": row.mode,
            "count": row.count,
            "cumulative_count": row.cumulative_count,
        }
        for row in enrollments(session, course, people, today).rows
    ]


def on_day(rows: Sequence[DayCount], day: date) -> Mapping[str, DayCount]:
    """The rows of one day by mode (empty before the first enrollment)."""
    return {row.mode: row for row in rows if row.day == day}


#: Open edX enrollment modes (course modes) and Canvas's two kinds, as people read them.
MODE_NAMES = {
    "audit": N_("Audit"),
    "honor": N_("Honor"),
    "verified": N_("Verified"),
    "professional": N_("Professional"),
    "no-id-professional": N_("Professional (no ID check)"),
    "credit": N_("Credit"),
    "masters": N_("Master's"),
    "executive-education": N_("Executive education"),
    "paid-executive-education": N_("Executive education (paid)"),
    "unpaid-executive-education": N_("Executive education (unpaid)"),
    "student": N_("Students"),
    "other": N_("Other roles"),
    UNKNOWN_MODE: N_("Mode not known"),
    ALL: N_("All modes"),
}


def mode_name(mode: str) -> str:
    """An enrollment mode as people read it ("no-id-professional" → "Professional (no ID
    check)"), in the language of the page being made; a mode not listed with its dashes and
    underscores as spaces."""
    known = MODE_NAMES.get(mode)
    if known:
        return gettext(known)
    words = mode.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else gettext(MODE_NAMES[UNKNOWN_MODE])


@dataclass(frozen=True)
class ModeNow:
    """One mode (or all) on the last day: enrolled, the change over 7 days, ever enrolled."""

    mode: str
    name: str
    count: int
    change_7_days: int
    cumulative_count: int


def modes_now(result: Enrollments) -> list[ModeNow]:
    """Per mode on the last day, as Insights' course summary has it: enrolled, the change since
    7 days before (no row then: 0), and ever enrolled; all modes first, then the most enrolled."""
    today = on_day(result.rows, result.last_day)
    before = on_day(result.rows, result.last_day - timedelta(days=7))
    modes = sorted(
        today,
        key=lambda m: (m != ALL, -today[m].count, -today[m].cumulative_count, mode_name(m)),
    )
    return [
        ModeNow(
            mode,
            mode_name(mode),
            today[mode].count,
            today[mode].count - (before[mode].count if mode in before else 0),
            today[mode].cumulative_count,
        )
        for mode in modes
    ]


@dataclass(frozen=True)
class StartSplit:
    """Learners who first enrolled before the course's start and on or after it."""

    starts_on: date
    before_now: int  # of those enrolled on the last day
    after_now: int
    before_ever: int  # of those who ever enrolled
    after_ever: int


def start_split(result: Enrollments, starts_on: date | None) -> StartSplit | None:
    """Who first enrolled before the start date and who on or after it (None without a start)."""
    if starts_on is None:
        return None
    before = [counts for day, counts in result.first_days.items() if day < starts_on]
    after = [counts for day, counts in result.first_days.items() if day >= starts_on]
    return StartSplit(
        starts_on,
        sum(now for _ever, now in before),
        sum(now for _ever, now in after),
        sum(ever for ever, _now in before),
        sum(ever for ever, _now in after),
    )
