"""The class's spread: the sorted values the class's thresholds, segment cuts and weekly time
quartiles are taken of, kept in `class_spread` beside the learners' kept totals.

A refresh after an ingest of a few learners at 100,000 learners spent most of its time building
every learner's totals again (100,000 kept totals decoded) only to take a percentile, three
medians, the segment week's cuts and each week's quartiles of them. With the spread kept, it
takes the few learners' old values out and their new ones in (lti_tool.kpis.learner_summary's
followed refresh) and reads the figures off the sorted values: the same multisets, so the same
figures as from every learner's totals.

Parts (one row each; a refresh writes only those it changed): PEOPLE, the class's person ids;
TIME, every learner's time spent; SECONDS, DAYS and EVENTS, the segment week's figures of
those active in it; ATTEMPTS, those active learners' problem attempts that week (person ->
[attempts, distinct problems], engagement.problem_attempts'); one per ISO week, each
learner's time that week as the time-spent report rounds it (the weekly quartiles'); SEEN,
in a course without a roster, the people with activity there (its learners then: followed
rather than read off every learner-day); RECENT, the people active in the course's 7 days;
COUNTRIES, the people's last known countries (the last three read whole once after a
refresh of the whole class, then followed through the people replaced); META, what they are
of (the kept totals' mark, learner_summary_state.activity) and how many learners have an
active day.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import orjson
from sqlalchemy import delete, insert, select

from lti_tool.activity.sql import driver_rows
from lti_tool.kpis.engagement import cut_of
from lti_tool.kpis.roster import Member
from lti_tool.models import ClassSpread, Course
from lti_tool.models.types import DbSession

PEOPLE, META, ATTEMPTS = "people", "meta", "attempts"
SEEN, RECENT, COUNTRIES = "seen", "recent", "countries"
TIME = "time"
SECONDS, DAYS, EVENTS = "seconds", "days", "events"
#: A week's part: its Monday's ISO date after this.
WEEK = "week:"
_TABLE = ClassSpread.__table__


class NotInSpread(ValueError):
    """A learner's old value is not in the spread: it is of other totals than theirs."""


@dataclass
class Spread:
    """A class's spread (see the module docstring); `changed`: the parts to write."""

    of: str
    people: set[int]
    active: int
    values: dict[str, list[float]]
    attempts: dict[int, list[int]]
    changed: set[str] = field(default_factory=set)
    #: The people with activity in a course without a roster (its learners then), when known.
    seen: set[int] | None = None
    #: The people with activity in the course's 7 days (its day is in `of`), when known.
    recent: set[int] | None = None
    #: The people's last known countries (geography.learner_countries), when known.
    countries: dict[int, str] | None = None

    def see(self, seen: set[int]) -> None:
        """Keep the people with activity in the course now."""
        if seen != self.seen:
            self.seen = seen
            self.changed.add(SEEN)

    def keep_recent(self, recent: set[int]) -> None:
        """Keep the people with activity in the course's 7 days."""
        if recent != self.recent:
            self.recent = recent
            self.changed.add(RECENT)

    def keep_countries(self, countries: dict[int, str]) -> None:
        """Keep the people's last known countries."""
        if countries != self.countries:
            self.countries = countries
            self.changed.add(COUNTRIES)

    def weeks(self) -> dict[date, list[float]]:
        """Each week's sorted times, by Monday."""
        return {
            date.fromisoformat(part[len(WEEK) :]): values
            for part, values in self.values.items()
            if part.startswith(WEEK) and values
        }

    def sorted_values(self, part: str) -> list[float]:
        """A part's sorted values (none: empty)."""
        return self.values.get(part, [])


def values_of(member: Member, segment_week: date) -> dict[str, list[float]]:
    """The values one learner adds to the class's spread."""
    found: dict[str, list[float]] = {TIME: [member.time_total]}
    week = member.weeks.get(segment_week)
    if week is not None:
        found[SECONDS], found[DAYS], found[EVENTS] = [week[0]], [week[1]], [week[2]]
    for monday, totals in member.weeks.items():
        found[WEEK + monday.isoformat()] = [totals[3]]
    return found


def _gathered(members: Iterable[Member], segment_week: date) -> dict[str, list[float]]:
    """The values some learners add, by part."""
    found: dict[str, list[float]] = {}
    for member in members:
        for part, values in values_of(member, segment_week).items():
            found.setdefault(part, []).extend(values)
    return found


def of_class(
    of: str,
    members: Mapping[int, Member],
    segment_week: date,
    attempts: Mapping[tuple[int, date], tuple[int, int]],
) -> Spread:
    """The whole class's spread."""
    # values_of's, gathered a part at a time (100,000 learners' dicts cost a tenth of a second).
    values: dict[str, list[float]] = {TIME: sorted(m.time_total for m in members.values())}
    active_then = [m.weeks[segment_week] for m in members.values() if segment_week in m.weeks]
    for part, index in ((SECONDS, 0), (DAYS, 1), (EVENTS, 2)):
        if active_then:
            values[part] = sorted(week[index] for week in active_then)
    weeks: dict[date, list[float]] = {}
    for member in members.values():
        for monday, totals in member.weeks.items():
            weeks.setdefault(monday, []).append(totals[3])
    for monday, times in weeks.items():
        values[WEEK + monday.isoformat()] = sorted(times)
    active = sum(1 for m in members.values() if m.active_days)
    return Spread(
        of,
        set(members),
        active,
        values,
        _attempts_of(members.values(), segment_week, attempts),
        changed=set(values) | {PEOPLE, META, ATTEMPTS},
    )


def _attempts_of(
    members: Iterable[Member],
    segment_week: date,
    attempts: Mapping[tuple[int, date], tuple[int, int]],
) -> dict[int, list[int]]:
    """The attempts that week of those of some learners active in it."""
    return {
        m.person_id: list(attempts[(m.person_id, segment_week)])
        for m in members
        if segment_week in m.weeks and (m.person_id, segment_week) in attempts
    }


def follow(
    spread: Spread,
    out: Iterable[Member],
    into: Mapping[int, Member],
    segment_week: date,
    attempts: Mapping[tuple[int, date], tuple[int, int]],
) -> None:
    """Take learners' values out as they were (`out`) and put some in as they are now
    (`into`, with their problem attempts in the segment week)."""
    out = list(out)
    before = _gathered(out, segment_week)
    after = _gathered(into.values(), segment_week)
    for part in before.keys() | after.keys():
        taken, added = Counter(before.get(part, ())), Counter(after.get(part, ()))
        shared = taken & added
        taken, added = taken - shared, added - shared
        if not taken and not added:
            continue
        spread.values[part] = _moved(spread.values.get(part, []), taken, added)
        spread.changed.add(part)
    spread.active += sum(1 for m in into.values() if m.active_days)
    spread.active -= sum(1 for m in out if m.active_days)
    for member in out:
        if spread.attempts.pop(member.person_id, None) is not None:
            spread.changed.add(ATTEMPTS)
    new = _attempts_of(into.values(), segment_week, attempts)
    if new:
        spread.attempts.update(new)
        spread.changed.add(ATTEMPTS)
    gone = {m.person_id for m in out} - into.keys()
    if gone or not into.keys() <= spread.people:
        spread.people = (spread.people - gone) | into.keys()
        spread.changed.add(PEOPLE)
    spread.changed.add(META)


def _moved(values: list[float], taken: Counter[float], added: Counter[float]) -> list[float]:
    """Sorted values with some taken out (each present) and some added."""
    if taken:
        cuts: list[tuple[int, int]] = []
        for value, count in sorted(taken.items()):
            at = bisect_left(values, value)
            if values[at : at + count] != [value] * count:
                raise NotInSpread(f"the spread holds no {count} of {value!r}")
            cuts.append((at, at + count))
        kept: list[float] = []
        start = 0
        for begin, end in cuts:
            kept.extend(values[start:begin])
            start = end
        kept.extend(values[start:])
        values = kept
    if added:
        # Timsort merges the sorted run and the few added in about one pass.
        values = [*values, *added.elements()]
        values.sort()
    return values


def read(session: DbSession, course: Course, of: str) -> Spread | None:
    """The course's spread when it is of the kept totals `of` (None: none, or of others)."""
    rows = {
        part: bytes(data)
        for part, data in driver_rows(
            session,
            select(_TABLE.c.part, _TABLE.c.data).where(_TABLE.c.course_id == course.id),
        )
    }
    meta = orjson.loads(rows[META]) if META in rows else None
    if meta is None or meta["of"] != of or PEOPLE not in rows:
        return None
    people = _ids(rows.pop(PEOPLE))
    seen = _ids(rows.pop(SEEN)) if SEEN in rows else None
    recent = _ids(rows.pop(RECENT)) if RECENT in rows else None
    countries = None
    if COUNTRIES in rows:
        packed = orjson.loads(rows.pop(COUNTRIES))
        countries = dict(zip(packed["people"], packed["codes"], strict=True))
    attempts = {int(p): found for p, found in orjson.loads(rows.pop(ATTEMPTS, b"{}")).items()}
    del rows[META]
    values = {}
    for part, data in rows.items():
        found = array("d")
        found.frombytes(data)
        values[part] = found.tolist()
    active = meta["active"]
    return Spread(of, people, active, values, attempts, set(), seen, recent, countries)


def _ids(data: bytes) -> set[int]:
    """Person ids packed (write's)."""
    found = array("q")
    found.frombytes(data)
    return set(found)


def write(
    session: DbSession, course: Course, spread: Spread, of: str, *, whole: bool = False
) -> None:
    """Keep the course's spread as of the kept totals `of`: its changed parts, or `whole` (all
    its parts, those of another spread dropped)."""
    spread.of = of
    spread.changed.add(META)
    parts = sorted(spread.changed)
    mine = _TABLE.c.course_id == course.id
    session.execute(delete(_TABLE).where(mine if whole else mine & _TABLE.c.part.in_(parts)))
    rows = []
    for part in parts:
        if part == META:
            data = orjson.dumps({"of": of, "active": spread.active})
        elif part == PEOPLE:
            data = array("q", sorted(spread.people)).tobytes()
        elif part in (SEEN, RECENT):
            ids = spread.seen if part == SEEN else spread.recent
            if ids is None:
                continue
            data = array("q", sorted(ids)).tobytes()
        elif part == COUNTRIES:
            if spread.countries is None:
                continue
            people = sorted(spread.countries)
            codes = [spread.countries[p] for p in people]
            data = orjson.dumps({"people": people, "codes": codes})
        elif part == ATTEMPTS:
            data = orjson.dumps({str(p): found for p, found in sorted(spread.attempts.items())})
        elif spread.values.get(part):
            data = array("d", spread.values[part]).tobytes()
        else:
            continue  # (a part left without values keeps no row)
        rows.append({"course_id": course.id, "part": part, "data": data})
    session.execute(insert(_TABLE), rows)
    spread.changed = set()


def forget(session: DbSession, course: Course) -> None:
    """Drop the course's spread (its kept totals went). The caller commits."""
    session.execute(delete(_TABLE).where(_TABLE.c.course_id == course.id))


def cuts(spread: Spread) -> list[float | None]:
    """The segment week's cuts (engagement.segments_and_cuts') taken from the spread: attempts
    per problem, time, active days, events and distinct problems of those active that week."""
    attempts = list(spread.attempts.values())
    active = len(spread.sorted_values(SECONDS))
    per_problem = [count / distinct for count, distinct in attempts if distinct]
    # Those active without an attempt attempted no problem.
    distinct: list[float] = [0.0] * (active - len(attempts))
    distinct += [found[1] for found in attempts]
    metrics: list[list[float]] = [
        per_problem,
        spread.sorted_values(SECONDS),
        spread.sorted_values(DAYS),
        spread.sorted_values(EVENTS),
        distinct,
    ]
    return [cut_of(metric) for metric in metrics]
