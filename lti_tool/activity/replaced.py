"""The rollup rows a transaction replaced, as they were before it: what the page summary needs
to add the change of a few learners to the class's figures instead of adding up the whole
class again (lti_tool.kpis.page_summary).

rollups.store_rows notes them (note) before deleting a batch's rows: each learner's video
viewings, active days, resources, problem checks, weeks and enrollment events, the first time
the transaction replaces that learner's rows, with the course's activity mark
(`course.updated_at`) as it was before the transaction first changed it (begin). The figures
stored with that mark, less these rows, plus the learners' rows now, are the figures of the
data now, provided nothing else changed the activity: a change that goes by other ways (a
purge, a deletion: touch_courses outside a rebuild) spoils the course's record. A transaction
replacing more learners than LIMIT no longer holds their rows (overflowed: its whole class is
added up anyway, and holding their old rows would cost the memory that saves), but still
notes whose they were: a course's first rows are added up as they are written
(lti_tool.kpis.class_sums.of_added, noted_once). A merge notes the rows of the person it
deletes, as a rebuild does, and that it moved LMS enrollment dates (dates_moved).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from lti_tool.activity.sql import select_in
from lti_tool.models import Course
from lti_tool.models.types import DbSession

#: session.info's records of this transaction's replaced rows, by course id.
REPLACED = "lti_tool.replaced"
#: Learners of a course one transaction's record holds at most (their problem rows hold their
#: answers: about a kilobyte each).
LIMIT = 10_000


_VIEWINGS = (
    "SELECT person_id, video_id, runs FROM video_learner_views "
    "WHERE course_id = {p} AND person_id {in}"
)
_DAYS = "SELECT person_id, day FROM learner_day WHERE course_id = {p} AND person_id {in}"
_WEEKS = (
    "SELECT person_id, week_start, label FROM weekly_activity "
    "WHERE course_id = {p} AND person_id {in}"
)
_ENROLLMENTS = (
    "SELECT person_id, time, name, mode FROM enrollment_change "
    "WHERE course_id = {p} AND person_id {in}"
)
_RESOURCES = (
    "SELECT person_id, resource_id, kind, first_time FROM learner_resource "
    "WHERE course_id = {p} AND person_id {in}"
)
#: A learner_problem row as lti_tool.kpis.problems.check_of reads it.
_PROBLEMS = (
    "SELECT person_id, problem_id, attempts, correct_at, first_time, last_time, answers "
    "FROM learner_problem WHERE course_id = {p} AND person_id {in}"
)


@dataclass
class Rows:
    """Per learner: their viewings (video id, packed runs), active days (ISO text, as `read`
    gives them), resources opened (id, kind, first time), problem rows (person id, problem id,
    attempts, correct at, first and last time, packed answers), weeks (their Monday as ISO
    text, the label) and enrollment events (time, name, mode)."""

    viewings: dict[int, list[tuple[str, Any]]] = field(default_factory=dict)
    days: dict[int, list[Any]] = field(default_factory=dict)
    resources: dict[int, list[tuple[str, str, float]]] = field(default_factory=dict)
    problems: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    weeks: dict[int, list[tuple[Any, str]]] = field(default_factory=dict)
    enrollments: dict[int, list[tuple[float, str, str | None]]] = field(default_factory=dict)

    @classmethod
    def none_of(cls, people: Iterable[int]) -> Rows:
        """No rows of these learners yet (every one of them in each kind)."""
        wanted = list(people)
        return cls(*({person: [] for person in wanted} for _kind in range(6)))  # type: ignore[arg-type]


def read(session: DbSession, course_id: int, people: Sequence[int]) -> Rows:
    """The rows of some learners of a course now (every one of them in each, rows or none), as
    the rollups write them on either database: days and weeks ISO text, runs and answers bytes
    (PostgreSQL's driver gives dates and memoryviews, and its memoryviews equal no bytes)."""
    found = Rows.none_of(people)
    wanted = sorted(people)
    for person, video_id, runs in select_in(session, _VIEWINGS, [course_id], wanted):
        found.viewings[person].append((video_id, bytes(runs)))
    for person, day in select_in(session, _DAYS, [course_id], wanted):
        found.days[person].append(_text(day))
    for person, resource, kind, first in select_in(session, _RESOURCES, [course_id], wanted):
        found.resources[person].append((resource, kind, first))
    for row in select_in(session, _PROBLEMS, [course_id], wanted):
        found.problems[row[0]].append((*row[:6], bytes(row[6])))
    for person, week, label in select_in(session, _WEEKS, [course_id], wanted):
        found.weeks[person].append((_text(week), label))
    found.enrollments.update(_enrollments(session, course_id, wanted))
    return found


def _text(day: Any) -> str:
    """A date column's value as SQLite's driver gives it: ISO text."""
    return day if isinstance(day, str) else day.isoformat()


def _enrollments(
    session: DbSession, course_id: int, people: Sequence[int]
) -> dict[int, list[tuple[float, str, str | None]]]:
    """Some learners' enrollment events in a course (those with any)."""
    found: dict[int, list[tuple[float, str, str | None]]] = {}
    for person, time, name, mode in select_in(session, _ENROLLMENTS, [course_id], people):
        found.setdefault(person, []).append((time, name, mode))
    return found


@dataclass
class Replaced:
    """One course's replaced rows: its activity mark before the transaction, and the rows as
    they were of every learner whose rows it replaced (new ones with none)."""

    mark: str
    rows: Rows = field(default_factory=Rows)
    spoiled: bool = False
    # The LMS's enrollment dates of some learners moved to others (a merge): the enrollment
    # history is counted again even where everyone's events stayed as they were.
    dates_moved: bool = False
    # The rows the transaction's rebuilds wrote last, as they wrote them (wrote): what those
    # learners' rows are now, not read back from the tables they were just written to.
    written: Rows = field(default_factory=Rows)
    # Every learner whose rows the transaction replaced, and how many times it did (a learner
    # each time): beyond LIMIT too, where their rows are no longer held (overflowed) but the
    # change is still known to be theirs alone.
    noted: set[int] = field(default_factory=set)
    notes: int = 0
    overflowed: bool = False

    @property
    def complete(self) -> bool:
        """Whether the record holds the rows of every change of the course's activity."""
        return not self.spoiled and not self.overflowed


def activity_mark(value: Any) -> str:
    """`course.updated_at` as the records and the stored figures compare it."""
    return str(value)


def begin(session: DbSession, course_ids: Iterable[int]) -> None:
    """Start the courses' records with their activity marks as they are, unless this
    transaction has: before anything marks their activity changed (rollups.touch_courses)."""
    records: dict[int, Replaced] = session.info.setdefault(REPLACED, {})
    for course_id in course_ids:
        if course_id not in records:
            mark = session.scalar(select(Course.updated_at).where(Course.id == course_id))
            records[course_id] = Replaced(activity_mark(mark))


def note(session: DbSession, course_id: int, people: Sequence[int], known: Sequence[int]) -> None:
    """Keep the rows of `people` (of them, `known` may have rows) before a rebuild replaces
    them or they are deleted (a merge), unless this transaction kept them before."""
    begin(session, [course_id])
    record: Replaced = session.info[REPLACED][course_id]
    if record.spoiled:
        return
    record.noted.update(people)
    record.notes += len(people)
    if record.overflowed:
        return
    # Whatever replaces their rows now (a rebuild, a merge's delete) is not what was written.
    for kind in _KINDS:
        held = getattr(record.written, kind)
        for person in people:
            held.pop(person, None)
    kept = record.rows
    fresh = [person for person in people if person not in kept.days]
    if len(kept.days) + len(fresh) > LIMIT:
        record.overflowed = True
        record.rows, record.written = Rows(), Rows()
        return
    stored = set(known)
    found = read(session, course_id, [person for person in fresh if person in stored])
    for person in fresh:
        kept.viewings[person] = found.viewings.get(person, [])
        kept.days[person] = found.days.get(person, [])
        kept.resources[person] = found.resources.get(person, [])
        kept.problems[person] = found.problems.get(person, [])
        kept.weeks[person] = found.weeks.get(person, [])
        kept.enrollments[person] = found.enrollments.get(person, [])


def wrote(session: DbSession, course_id: int, rows: Rows) -> None:
    """Note the rows a rebuild just wrote of some learners (every one of them in each, rows or
    none; values as written: days and weeks ISO text, runs and answers bytes), after `note`."""
    record = taken(session, course_id)
    if record is None:
        return
    for kind in _KINDS:
        getattr(record.written, kind).update(getattr(rows, kind))


def now(session: DbSession, course_id: int, people: Sequence[int]) -> Rows:
    """The rows of some learners of a course now, as `read` gives them: those this
    transaction's rebuilds wrote as they wrote them (not read back), the others read."""
    record = taken(session, course_id)
    written = record.written if record is not None else Rows()
    found = read(session, course_id, [person for person in people if person not in written.days])
    for kind in _KINDS:
        mine, theirs = getattr(found, kind), getattr(written, kind)
        for person in people:
            if person in written.days:
                mine[person] = theirs.get(person, [])
    return found


def dates_moved(session: DbSession, course_ids: Iterable[int]) -> None:
    """Note that the courses' LMS enrollment dates moved between people in this transaction."""
    ids = list(course_ids)
    begin(session, ids)
    for course_id in ids:
        session.info[REPLACED][course_id].dates_moved = True


def enrollment_changes(
    session: DbSession, course_id: int, mark: str
) -> dict[int, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]] | None:
    """Per learner whose rows this transaction replaced, their enrollment events (time, name,
    mode) before and now, when `mark` is the course's activity before them and no LMS
    enrollment dates moved, so that everyone else's events and dates are as they were then
    (none when the transaction changed no activity and the mark is now's); else None."""
    record: Replaced | None = session.info.get(REPLACED, {}).get(course_id)
    if record is None:
        activity = session.scalar(select(Course.updated_at).where(Course.id == course_id))
        return {} if activity_mark(activity) == mark else None
    if not record.complete or record.dates_moved or record.mark != mark:
        return None
    before = record.rows.enrollments
    written = record.written.enrollments
    found = _enrollments(session, course_id, sorted(p for p in before if p not in written))
    return {
        person: (was, written[person] if person in written else found.get(person, []))
        for person, was in before.items()
    }


#: Rows's kinds, in the order packed() writes them.
_KINDS = ("viewings", "days", "resources", "problems", "weeks", "enrollments")


def packed(rows: Rows, person: int) -> str:
    """One learner's rows of a record as text, every value's type kept (unpack reads them
    back as the driver gave them: bytes, dates and times tagged): a small write's record
    carried to the next refresh (lti_tool.kpis.learner_summary)."""
    return orjson.dumps(
        [[_encode(i) for i in getattr(rows, k).get(person, [])] for k in _KINDS]
    ).decode()


def restore(session: DbSession, course_id: int, mark: str, carried: Mapping[int, str]) -> None:
    """Make this transaction's record of the course the one of the earlier transactions whose
    rows were carried to it (`carried`: packed text by person; `mark`: the activity before the
    first of them), with this transaction's own record added: its learners' rows as the
    carried ones do not hold them already (those are older). The caller checked that the
    carried transactions and this one are all that changed the activity since `mark`."""
    records: dict[int, Replaced] = session.info.setdefault(REPLACED, {})
    record = Replaced(mark)
    for person, text in carried.items():
        for kind, items in zip(_KINDS, orjson.loads(text), strict=True):
            getattr(record.rows, kind)[person] = [_decode(item) for item in items]
    own = records.get(course_id)
    if own is not None:
        for kind in _KINDS:
            theirs = getattr(record.rows, kind)
            for person, items in getattr(own.rows, kind).items():
                theirs.setdefault(person, items)
        record.dates_moved = own.dates_moved
        record.written = own.written
    records[course_id] = record


def _encode(value: Any) -> Any:
    """A driver's value as JSON, tagged where JSON has no type of its own."""
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, bytes | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    """_encode's value back (a list: the tuple it was)."""
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        if tag == "b":
            return base64.b64decode(text)
        return datetime.fromisoformat(text) if tag == "t" else date.fromisoformat(text)
    return value


def spoil(session: DbSession, course_ids: Iterable[int]) -> None:
    """Note that the courses' activity changed by other ways than rows noted in this
    transaction: their figures are added up again."""
    records: dict[int, Replaced] = session.info.setdefault(REPLACED, {})
    for course_id in course_ids:
        records[course_id] = Replaced("", spoiled=True)


def taken(session: DbSession, course_id: int) -> Replaced | None:
    """The course's record of this transaction, when it holds every change of its activity."""
    record: Replaced | None = session.info.get(REPLACED, {}).get(course_id)
    return None if record is None or not record.complete else record


def noted_once(session: DbSession, course_id: int) -> tuple[str, set[int]] | None:
    """The course's activity mark before this transaction and every learner whose rows it
    replaced, when it replaced each learner's once and that is all that changed its activity
    (however many learners: unlike `taken`, whose record holds their rows); None when
    something else changed it, a learner's rows were replaced twice (a merge's deletion and
    rebuild, say), or nothing changed."""
    record: Replaced | None = session.info.get(REPLACED, {}).get(course_id)
    if record is None or record.spoiled or record.notes != len(record.noted):
        return None
    return record.mark, record.noted


def replaced_since(session: DbSession, course_id: int, mark: str) -> set[int] | None:
    """The people whose rows of the course this transaction replaced, when `mark` (an activity
    mark kept with figures) is what its activity was before them, so that every other
    learner's rows are as they were then; None when the activity may have changed otherwise
    (another transaction, or this one by other ways than rows noted)."""
    record: Replaced | None = session.info.get(REPLACED, {}).get(course_id)
    if record is None:
        # This transaction changed none of the course's activity: it is as its mark says.
        now = session.scalar(select(Course.updated_at).where(Course.id == course_id))
        return set() if activity_mark(now) == mark else None
    if not record.complete or record.mark != mark:
        return None
    return set(record.rows.days)


@event.listens_for(Session, "after_transaction_end")
def forget(session: Session, transaction: SessionTransaction) -> None:
    """Drop a transaction's records at its end, committed or rolled back (a rolled-back
    transaction's would describe rows that were never replaced)."""
    if transaction.parent is None:
        session.info.pop(REPLACED, None)
