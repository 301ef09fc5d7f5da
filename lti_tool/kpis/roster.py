"""Who counts in a course's class figures, how they are named, and their activity totals.

Only learners count: an active `Learner` enrollment that is not a test user, or a person seen in
the course's activity who has no enrollment there at all (learners known only from Open edX
logs) — as long as the course has no roster. Once an enrollment sync (NRPS, Canvas or Open edX)
has succeeded for the course, people with activity but no enrollment are "not on the roster":
kept, listed apart, and out of the class figures. Staff, observers, test students and inactive
(dropped) enrollments are out of every class figure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import func, select, true

from lti_tool.activity.rollups import week_start
from lti_tool.activity.sql import ANY_CHUNK, IN_CHUNK, driver_rows, select_in
from lti_tool.i18n.text import N_, StandIn
from lti_tool.kpis.activity import under_cutoff
from lti_tool.kpis.labels import course_label, labels_and_usernames
from lti_tool.models import (
    Course,
    Enrollment,
    LearnerDay,
    LmsLearnerStats,
    Section,
    SectionMember,
    SyncRun,
    VideoLearnerViews,
)
from lti_tool.models.sync import SOURCES, SUCCEEDED
from lti_tool.models.types import DbSession

STATS_COLUMNS = (
    LmsLearnerStats.person_id,
    LmsLearnerStats.total_activity_seconds,
    LmsLearnerStats.last_activity_at,
    LmsLearnerStats.current_score,
    LmsLearnerStats.final_score,
    LmsLearnerStats.unposted_current_score,
    LmsLearnerStats.unposted_final_score,
    LmsLearnerStats.requirements,
    LmsLearnerStats.requirements_done,
)


@dataclass
class Member:
    """A learner of the class: who they are and their activity totals."""

    person_id: int
    learner: str  # the LMS-facing id (reports' `learner`)
    name: str  # the platform's name, else a stable pseudonym
    email: str | None
    pseudonymous: bool
    sections: list[str] = field(default_factory=list)
    last_active: datetime | None = None
    time_total: float = 0.0
    time_7d: float = 0.0
    sessions: int = 0
    active_days: int = 0
    events: int = 0
    videos_watched: int = 0
    # The latest event's time (POSIX seconds) in the stored activity, when any.
    last_event: float | None = None
    # Per ISO week (Monday): seconds, active days, events, and the seconds summed from each day
    # rounded as the time-spent report rounds it (what the weekly quartiles are taken of).
    weeks: dict[date, list[float]] = field(default_factory=dict)
    # The LMS's statistics (a row of STATS_COLUMNS), when a sync brought them.
    lms: Any = None


#: A learner's activity totals as kept between refreshes (lti_tool.kpis.learner_activity):
#: time spent, time in the 7 days, sessions, events, active days, the latest event (POSIX
#: seconds, or None), videos watched and the weeks, each [Monday (ISO), Member.weeks' four].
Totals = list[Any]


def pseudonym(key: bytes, person_id: int) -> str:
    """A stable pseudonym from a keyed hash of the person id ("Learner 7F3A9C"): English in
    CSV, the API and the CLI, the page's language on a page ("Estudiante 7F3A9C")."""
    digest = hmac.new(key, f"person:{person_id}".encode(), hashlib.sha256).hexdigest()
    return StandIn(N_("Learner %(code)s"), code=digest[:6].upper())


_PSEUDONYM = re.compile(r"Learner ([0-9A-F]{6})")


def as_pseudonym(name: str) -> str:
    """A name read back from a table: a pseudonym's English text as the pseudonym again (shown
    in the page's language), any other name as it is."""
    found = _PSEUDONYM.fullmatch(name)
    return StandIn(N_("Learner %(code)s"), code=found[1]) if found else name


def has_roster(session: DbSession, course: Course) -> bool:
    """Whether an enrollment sync (NRPS, Canvas or Open edX) has succeeded for the course."""
    return (
        session.scalar(
            select(SyncRun.id)
            .where(
                SyncRun.course_id == course.id,
                SyncRun.source.in_(SOURCES),
                SyncRun.status == SUCCEEDED,
            )
            .limit(1)
        )
        is not None
    )


def _enrolled(session: DbSession, course: Course) -> dict[int, bool]:
    """Enrolled people (True where they count as learners)."""
    enrolled: dict[int, bool] = {}
    rows = session.execute(
        select(
            Enrollment.person_id,
            Enrollment.course_role,
            Enrollment.status,
            Enrollment.is_test_user,
        ).where(Enrollment.course_id == course.id)
    )
    for person_id, role, status, test in rows:
        enrolled[person_id] = role == "learner" and status == "active" and not test
    return enrolled


def _seen(session: DbSession, course: Course) -> set[int]:
    """People with activity in the course (a scan of its learner-days)."""
    return set(
        session.scalars(
            select(LearnerDay.person_id).where(LearnerDay.course_id == course.id).distinct()
        )
    )


#: Which of some people have a learner-day in a course (select_in's SQL).
_WITH_DAYS = "SELECT DISTINCT person_id FROM learner_day WHERE course_id = {p} AND person_id {in}"


def seen_since(
    session: DbSession, course: Course, seen: Set[int] | None, replaced: Set[int]
) -> set[int]:
    """The people with activity in the course now, from those who had some (`seen`; None:
    unknown, read whole) and the people whose learner-days were replaced since (`replaced`,
    whose days alone changed)."""
    if seen is None:
        return _seen(session, course)
    now = {person for (person,) in select_in(session, _WITH_DAYS, [course.id], sorted(replaced))}
    return (set(seen) - replaced) | now


def class_member_ids(session: DbSession, course: Course, seen: Set[int] | None = None) -> set[int]:
    """Person ids of the course's learners (see the module docstring for who counts); `seen`:
    the people with activity in the course, when the caller knows them."""
    enrolled = _enrolled(session, course)
    members = {p for p, counts in enrolled.items() if counts}
    if not has_roster(session, course):
        # Without a roster, whoever has activity counts (read only then: a scan of every
        # learner-day of the course).
        members |= (_seen(session, course) if seen is None else seen) - set(enrolled)
    return members


def not_on_roster_ids(session: DbSession, course: Course) -> set[int]:
    """People with activity in a course that has a roster, who are not on it."""
    if not has_roster(session, course):
        return set()
    return _seen(session, course) - set(_enrolled(session, course))


def not_on_roster(
    session: DbSession, course: Course, key: bytes, cutoff_minutes: int = 30
) -> list[dict[str, Any]]:
    """The `not-on-roster` report: who has activity in the course but is not on its roster."""
    people = not_on_roster_ids(session, course)
    today = datetime.now(UTC).date()
    members = load_members(
        session, course, key=key, cutoff_minutes=cutoff_minutes, today=today, people=people
    )
    label = course_label(course)
    return [
        {
            "course": label,
            "learner": m.learner,
            "name": m.name,
            "events": m.events,
            "last_active": m.last_active.isoformat() if m.last_active else None,
        }
        for m in sorted(members.values(), key=lambda m: (m.name.lower(), m.person_id))
    ]


#: The people's names and email (select_in's SQL).
_PEOPLE = "SELECT id, name, given_name, family_name, email FROM person WHERE id {in}"


def load_members(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    cutoff_minutes: int,
    today: date,
    activity: bool = True,
    people: set[int] | None = None,
    kept: Mapping[int, Totals] | None = None,
    unnamed: Set[int] = frozenset(),
) -> dict[int, Member]:
    """The class (or `people`) with names, sections, LMS stats and, when asked, activity.

    `today` is the last day of the "7 days" window (the course's own today). `kept`: activity
    totals still true of some learners' days (lti_tool.kpis.learner_activity.kept, for this
    cutoff and day), taken for theirs instead of adding up their days again. `unnamed`: people
    whose names, e-mail and label are not read (left empty: name_members gives them).
    """
    ids = sorted(class_member_ids(session, course) if people is None else people)
    members = {
        p: Member(person_id=p, learner="", name="", email=None, pseudonymous=False) for p in ids
    }
    name_members(session, members, [p for p in ids if p not in unnamed] if unnamed else ids, key)
    wanted = set(ids)
    connection = session.connection()
    sections = connection.execute(
        select(SectionMember.person_id, Section.name)
        .join(Section, Section.id == SectionMember.section_id)
        .where(Section.course_id == course.id)
        .order_by(Section.name)
    )
    for person_id, section in sections:
        if person_id in wanted:
            members[person_id].sections.append(section)
    for stats in _lms_rows(session, course, None if people is None else ids):
        member = members.get(stats.person_id)
        if member is not None:
            member.lms = stats
            member.last_active = stats.last_activity_at
    if activity and members:  # (no one: the course's every learner-day would be read for none)
        if kept:
            mondays: dict[str, date] = {}
            for person_id, member in members.items():
                if person_id in kept:
                    set_totals(member, kept[person_id], mondays)
            members_left = {p: m for p, m in members.items() if p not in kept}
            if members_left:
                add_activity(session, course, members_left, cutoff_minutes, today, few=True)
        else:
            # Some people's days alone when only they are asked (not every learner-day).
            few = people is not None
            add_activity(session, course, members, cutoff_minutes, today, few=few)
    return members


class LmsFigures(NamedTuple):
    """What of a learner's LMS statistics the class's medians and progress are taken of (the
    fields of the same names as STATS_COLUMNS's)."""

    person_id: int
    current_score: float | None
    unposted_current_score: float | None
    requirements: int | None
    requirements_done: int | None


def class_lms(session: DbSession, course: Course, people: Set[int]) -> dict[int, LmsFigures]:
    """Some people's LMS scores and requirements, by person: those with a row (read as the
    driver gives them: numbers need no conversion, and a MOOC's class has 100,000)."""
    rows = driver_rows(
        session,
        select(*(getattr(LmsLearnerStats, name) for name in LmsFigures._fields)).where(
            LmsLearnerStats.course_id == course.id
        ),
    )
    return {row[0]: LmsFigures(*row) for row in rows if row[0] in people}


def _lms_rows(session: DbSession, course: Course, people: list[int] | None) -> Iterator[Any]:
    """The course's LMS statistics rows (STATS_COLUMNS), of some people when given (theirs
    alone read: a MOOC's class has 100,000)."""
    query = select(*STATS_COLUMNS).where(LmsLearnerStats.course_id == course.id)
    if people is None or len(people) > ANY_CHUNK:  # (many: one scan, the caller picks)
        yield from session.connection().execute(query)
        return
    for start in range(0, len(people), IN_CHUNK):
        chunk = people[start : start + IN_CHUNK]
        yield from session.connection().execute(query.where(LmsLearnerStats.person_id.in_(chunk)))


def class_sections(session: DbSession, course: Course, people: Set[int]) -> set[str]:
    """The names of the sections some people are in."""
    rows = session.connection().execute(
        select(SectionMember.person_id, Section.name)
        .join(Section, Section.id == SectionMember.section_id)
        .where(Section.course_id == course.id)
    )
    return {name for person_id, name in rows if person_id in people}


def name_members(
    session: DbSession, members: dict[int, Member], ids: list[int], key: bytes
) -> None:
    """Give some members (`ids`, sorted) their names, e-mail and label."""
    labels, usernames = labels_and_usernames(session, set(ids))
    # Driver rows, not ORM objects or SQLAlchemy rows: a large course has 100,000 people.
    for person_id, full, given, family, email in select_in(session, _PEOPLE, [], ids):
        # An Open edX username is how the course's staff know a learner seen only in the logs:
        # shown when the LMS shared no name (a pseudonym only when there is nothing at all).
        name = full or " ".join(part for part in (given, family) if part)
        name = name or usernames.get(person_id, "")
        member = members[person_id]
        member.learner = labels[person_id]
        member.name = name or pseudonym(key, person_id)
        member.email = email or None
        member.pseudonymous = not name


#: Totals' figures before the weeks, Member's fields of the same names.
_TOTALS = (
    "time_total",
    "time_7d",
    "sessions",
    "events",
    "active_days",
    "last_event",
    "videos_watched",
)
_totals_of = attrgetter(*_TOTALS)


def totals_of(member: Member) -> Totals:
    """A member's activity totals as kept (Totals)."""
    weeks = [[week.isoformat(), *totals] for week, totals in sorted(member.weeks.items())]
    return [*_totals_of(member), weeks]


def set_totals(member: Member, totals: Totals, mondays: dict[str, date]) -> None:
    """Give a member the activity totals kept for them (totals_of), as add_activity would
    (`mondays`: the weeks' dates by their text, shared by the class's calls)."""
    *figures, weeks = totals
    for name, value in zip(_TOTALS, figures, strict=True):
        setattr(member, name, value)
    member.weeks = {}
    for week, *rest in weeks:
        monday = mondays.get(week)
        if monday is None:
            monday = mondays[week] = date.fromisoformat(week)
        member.weeks[monday] = rest
    _last_active(member)


def _last_active(member: Member) -> None:
    """Make a member's last active their latest event when it is later than the LMS's."""
    if member.last_event is None:
        return
    last = datetime.fromtimestamp(member.last_event, UTC)
    if member.last_active is None or last > member.last_active:
        member.last_active = last


def add_activity(
    session: DbSession,
    course: Course,
    members: dict[int, Member],
    cutoff: int,
    today: date,
    *,
    until: date | None = None,
    few: bool = False,
) -> None:
    """Add the stored activity to the members' totals: every day's, or up to `until` (a day
    of the course's calendar, included). `few`: the members are a few of the course's
    learners, whose rows alone are read (not with `until`)."""
    if few:
        if until is not None:
            raise ValueError("add_activity reads a few members' days to the last one")
        ids = sorted(members)
        rows: Iterable[tuple[Any, ...]] = select_in(session, _DAYS, [course.id], ids)
        viewed: Iterable[Any] = select_in(session, _VIEWED, [course.id], ids)
    else:
        rows = driver_rows(
            session,
            select(
                LearnerDay.person_id,
                LearnerDay.day,
                LearnerDay.events,
                LearnerDay.last_time,
                LearnerDay.gaps,
            ).where(
                LearnerDay.course_id == course.id,
                LearnerDay.day <= until if until is not None else true(),
            ),
        )
        viewed = session.connection().execute(
            select(VideoLearnerViews.person_id, func.count())
            .where(VideoLearnerViews.course_id == course.id)
            .group_by(VideoLearnerViews.person_id)
        )
    _add_days(members, rows, cutoff, today)
    for person_id, count in viewed:
        if person_id in members:
            members[person_id].videos_watched = count


def totals_of_rows(
    days: Iterable[tuple[Any, ...]], viewed: Mapping[int, int], cutoff: int, today: date
) -> dict[int, Totals]:
    """Per learner, the activity totals (totals_of) add_activity gives them, from learner-days
    as the driver gives them (person, day, events, latest event, gap histogram) and how many
    videos each viewed: what a worker makes of the rows it just made."""
    members: dict[int, Member] = {}
    found = []
    for row in days:
        if row[0] not in members:
            members[row[0]] = Member(row[0], "", "", None, False)
        found.append(row)
    _add_days(members, found, cutoff, today)
    for person_id, count in viewed.items():
        if person_id in members:
            members[person_id].videos_watched = count
    return {person_id: totals_of(member) for person_id, member in members.items()}


#: Some learners' days and videos watched (select_in's SQL).
_DAYS = (
    "SELECT person_id, day, events, last_time, gaps FROM learner_day "
    "WHERE course_id = {p} AND person_id {in}"
)
_VIEWED = (
    "SELECT person_id, count(*) FROM video_learner_views "
    "WHERE course_id = {p} AND person_id {in} GROUP BY person_id"
)


def _add_days(
    members: dict[int, Member], rows: Iterable[tuple[Any, ...]], cutoff: int, today: date
) -> None:
    """Add learner-days (person, day, events, latest event, gap histogram; as the driver gives
    them) to the members' totals."""
    since = today - timedelta(days=6)
    # Per day as the driver gives it (a date, or SQLite's text): in the last 7 days, its Monday.
    days: dict[object, tuple[bool, date]] = {}
    for person_id, stored_day, events, last_time, gaps in rows:
        member = members.get(person_id)
        if member is None:
            continue
        known = days.get(stored_day)
        if known is None:
            day = stored_day if isinstance(stored_day, date) else date.fromisoformat(stored_day)
            known = days[stored_day] = (since <= day <= today, week_start(day))
        recent, monday = known
        seconds, under = under_cutoff(orjson.loads(gaps), cutoff)
        member.time_total += seconds
        if recent:
            member.time_7d += seconds
        member.sessions += events - under
        member.events += events
        member.active_days += 1
        week = member.weeks.get(monday)
        if week is None:
            week = member.weeks[monday] = [0.0, 0, 0, 0.0]
        week[0] += seconds
        week[1] += 1
        week[2] += events
        week[3] += round(seconds, 3)
        if member.last_event is None or last_time > member.last_event:
            member.last_event = last_time
    for member in members.values():
        _last_active(member)


def percentile(values: list[float], fraction: float) -> float:
    """The value at a fraction of the ordered values, interpolated (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
