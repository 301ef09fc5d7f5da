"""Each learner's activity totals kept between the learner summary's refreshes, in
`learner_activity`, so that a refresh adds up only the learner-days that changed.

A refresh's class data adds up every learner's days (each day's gap histogram read and summed
at the course's cutoff: most of a refresh's time, 143,000 learner-days at 10,000 learners).
The totals it added up are kept here (lti_tool.kpis.roster.Totals), and with them, in
`learner_summary_state.activity`, what they are of: the course's activity mark, the cutoff and
the course's day (the "7 days"). The next refresh reads them back for every learner whose days
did not change since (lti_tool.activity.replaced.replaced_since: an ingest of a few learners
replaced only theirs; a sync or a roster change, none) and adds up the others' days alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import date
from typing import Any

import orjson
from sqlalchemy import delete, select, update

from lti_tool.activity import replaced
from lti_tool.activity.sql import driver_rows, insert_rows, select_in
from lti_tool.kpis.roster import Member, Totals, totals_of
from lti_tool.models import Course, LearnerActivity, LearnerSummaryState
from lti_tool.models.types import DbSession

#: The totals' shape, part of what they are of: a version that keeps others bumps it.
SHAPE = 1
_TABLE = LearnerActivity.__table__
_STATE = LearnerSummaryState.__table__


def kept(session: DbSession, course: Course, cutoff: int, today: date) -> dict[int, Totals] | None:
    """The kept totals still true of the learners' days now, for this cutoff and day, by
    person (of learners whose days changed since: none); None when none can be trusted."""
    found = changed_since(session, course, cutoff, today)
    if found is None:
        return None
    _of, changed = found
    rows = driver_rows(
        session, select(_TABLE.c.person_id, _TABLE.c.totals).where(_TABLE.c.course_id == course.id)
    )
    return {person: orjson.loads(totals) for person, totals in rows if person not in changed}


def changed_since(
    session: DbSession, course: Course, cutoff: int, today: date
) -> tuple[str, set[int]] | None:
    """What the kept totals are of (learner_summary_state.activity) and the learners whose
    days changed since, when the others' totals are still true for this cutoff and day; None
    when none can be trusted."""
    text = session.scalar(select(_STATE.c.activity).where(_STATE.c.course_id == course.id))
    if text is None:
        return None
    of = orjson.loads(text)
    if of.get("shape") != SHAPE or of["cutoff"] != cutoff or of["today"] != today.isoformat():
        return None
    changed = replaced.replaced_since(session, course.id, of["mark"])
    return None if changed is None else (text, changed)


#: Some learners' kept totals (select_in's SQL).
_SOME = "SELECT person_id, totals FROM learner_activity WHERE course_id = {p} AND person_id {in}"


def read_some(session: DbSession, course: Course, people: list[int]) -> dict[int, Totals]:
    """Some learners' kept totals (those kept), by person."""
    return {
        person: orjson.loads(totals)
        for person, totals in select_in(session, _SOME, [course.id], people)
    }


def keep(
    session: DbSession,
    course: Course,
    members: Mapping[int, Member],
    known: Mapping[int, Totals] | None,
    cutoff: int,
    today: date,
) -> str:
    """Keep the members' totals, as of this cutoff and day (those read back, `known`, are
    kept already); what they are of, as learner_summary_state.activity holds it. The caller
    writes that with the state."""
    mine = _TABLE.c.course_id == course.id
    if known is None:
        session.execute(delete(_TABLE).where(mine))
        fresh = list(members)
    else:
        # The learners whose days changed (their totals are stale) or who left the class
        # (the table holds the class's learners, as learner_summary does).
        stored = set(session.scalars(select(_TABLE.c.person_id).where(mine)))
        gone = sorted(stored - (known.keys() & members.keys()))
        for start in range(0, len(gone), 500):
            chunk = gone[start : start + 500]
            session.execute(delete(_TABLE).where(mine, _TABLE.c.person_id.in_(chunk)))
        fresh = [person for person in members if person not in known]
    return _write(session, course, members, fresh, cutoff, today)


def keep_some(
    session: DbSession,
    course: Course,
    members: Mapping[int, Member],
    gone: Set[int],
    cutoff: int,
    today: date,
) -> str:
    """Keep some learners' totals again (`members`, whose days changed or who are new to the
    class) and drop those of learners who left it (`gone`): keep's, when the caller knows
    whose changed."""
    mine = _TABLE.c.course_id == course.id
    dropped = sorted(gone | members.keys())
    for start in range(0, len(dropped), 500):
        chunk = dropped[start : start + 500]
        session.execute(delete(_TABLE).where(mine, _TABLE.c.person_id.in_(chunk)))
    return _write(session, course, members, list(members), cutoff, today)


def _write(
    session: DbSession,
    course: Course,
    members: Mapping[int, Member],
    fresh: list[int],
    cutoff: int,
    today: date,
) -> str:
    """Insert the `fresh` members' totals; what the kept totals are then of."""
    rows = [
        (course.id, person, orjson.dumps(totals_of(members[person])).decode()) for person in fresh
    ]
    insert_rows(session, LearnerActivity, rows)
    mark = session.scalar(select(Course.updated_at).where(Course.id == course.id))
    of: dict[str, Any] = {
        "shape": SHAPE,
        "mark": replaced.activity_mark(mark),
        "cutoff": cutoff,
        "today": today.isoformat(),
    }
    return orjson.dumps(of).decode()


def forget(session: DbSession, course: Course) -> None:
    """Drop the course's kept totals, so that its next refresh adds up every learner's days
    (a refresh from scratch, a course left without learners). The caller commits."""
    session.execute(delete(_TABLE).where(_TABLE.c.course_id == course.id))
    session.execute(update(_STATE).where(_STATE.c.course_id == course.id).values(activity=None))
