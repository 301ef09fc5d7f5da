"""Writing learner events: resolve course and learner, store once, keep the rollups current.

Every source (tracking logs, the event API, xAPI) hands `IncomingEvent`s to an `EventSink`;
`finish()` rebuilds the rollups of every learner the batch touched, so that late events
update the learner-days they belong to and re-ingesting the same data changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from lti_tool.models import ActivityEvent, Course, Person, PersonIdentity, Platform
from lti_tool.sync import rollups
from lti_tool.sync.sql import dialect_insert
from lti_tool.sync.tracking_log import VIDEO_EVENT_NAMES, video_id

BATCH_SIZE = 5000
# PostgreSQL advisory lock key that makes event writers take turns (ASCII "lti_api").
WRITER_LOCK = 0x6C74695F617069


def take_turn(session: Session) -> None:
    """Wait until no other event writer is at work, for the rest of this transaction.

    Two writers about the same learner (API workers, a log ingest) would both create the person
    or both delete and re-insert the same rollup rows; on PostgreSQL a transaction-level
    advisory lock makes them take turns. SQLite serialises writers itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})


@dataclass(slots=True)
class IncomingEvent:
    """One event as a source reports it, before the course and learner are resolved."""

    course_key: str  # the LMS's course id (Open edX course key, lab/xAPI course id)
    user_key: str  # the source's stable learner id (Open edX context.user_id, lab user, xAPI actor)
    identity_kind: str  # person_identity kind for user_key: openedx_user_id | lab_user | xapi_actor
    time: float  # epoch seconds UTC
    name: str
    source: str
    data: dict[str, Any]
    raw: bytes  # the event as received, for the idempotence key
    username: str | None = None
    course_id: int | None = None  # set when the source already knows the tool's course


def event_key(raw: bytes) -> int:
    """A signed 64-bit digest of the event as received."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


_EVENT_COLUMNS = (
    "course_id, person_id, event_key, time, day, name, source, active, label, object_id, "
    "video_kind, video_time, video_old_time, video_new_time, video_duration"
)
# SQLite: INSERT OR IGNORE through the driver's executemany; rowcount is the rows inserted.
_SQLITE_EVENT_INSERT = (
    f"INSERT OR IGNORE INTO activity_event ({_EVENT_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # noqa: S608
)


def classify_row(event: IncomingEvent) -> tuple[Any, ...]:
    """The stored columns that depend only on the event, in _EVENT_COLUMNS order.

    (active, label, object_id, video kind, time, old time, new time, duration)
    """
    name, source, data = event.name, event.source, event.data
    active = source != "task" and not name.startswith("edx.course.enrollment.")
    kind = VIDEO_EVENT_NAMES.get(name)
    if kind is not None:
        raw_id = data.get("id")
        current = data.get("currentTime")
        if current is None:
            current = data.get("current_time")
        return (
            active,
            "PLAYED_VIDEO" if kind == "play" and source in ("browser", "mobile", "xapi") else None,
            video_id(str(raw_id))[:255] if raw_id else None,
            kind,
            _number(current),
            _number(data.get("old_time")),
            _number(data.get("new_time")),
            _number(data.get("duration")),
        )
    if name == "problem_check" and source == "server":
        problem = data.get("problem_id")
        return (
            active,
            "ATTEMPTED_PROBLEM",
            str(problem)[:255] if problem else None,
            None,
            None,
            None,
            None,
            None,
        )
    if source == "server" and name.startswith("edx.forum.") and name.endswith(".created"):
        return (active, "POSTED_FORUM", None, None, None, None, None, None)
    return (active, None, None, None, None, None, None, None)


_DAYS: dict[int, tuple[date, date, str]] = {}


def day_and_week(epoch: float) -> tuple[date, date, str]:
    """The UTC day, its week's Monday and the day as ISO text, cached per day."""
    number = int(epoch // 86400)
    cached = _DAYS.get(number)
    if cached is None:
        day = utc_day(epoch)
        cached = _DAYS[number] = (day, week_start(day), day.isoformat())
    return cached


def utc_day(epoch: float) -> date:
    """The UTC calendar day of an epoch time."""
    return datetime.fromtimestamp(epoch, UTC).date()


def week_start(day: date) -> date:
    """The Monday of a day's ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass
class IngestCounts:
    """What a sink did."""

    received: int = 0
    stored: int = 0  # new events; received - stored were already known
    learners: int = 0
    courses: int = 0


@dataclass
class EventSink:
    """Resolves, batches and stores events; rebuilds the touched learners' rollups on finish."""

    session: Session
    platform: Platform | None
    counts: IngestCounts = field(default_factory=IngestCounts)
    _courses: dict[str, int] = field(default_factory=dict)
    _people: dict[tuple[str, str], int] = field(default_factory=dict)
    _pending: list[IncomingEvent] = field(default_factory=list)
    _weekly: set[tuple[int, date, str, int]] = field(default_factory=set)
    _touched: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    def __post_init__(self) -> None:
        take_turn(self.session)

    def add(self, event: IncomingEvent) -> None:
        """Queue one event; learners are resolved per batch, in flush()."""
        self._pending.append(event)
        self.counts.received += 1
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Resolve the queued events' learners, write the events and weekly-activity facts."""
        if self._pending:
            self._resolve_people(self._pending)
            people, rows, weekly = self._people, [], self._weekly
            for event in self._pending:
                course_id = event.course_id or self._course_id(event.course_key)
                person_id = people[(event.identity_kind, event.user_key)]
                _day, week, day_text = day_and_week(event.time)
                columns = classify_row(event)
                rows.append(
                    (
                        course_id,
                        person_id,
                        event_key(event.raw),
                        event.time,
                        day_text,
                        event.name[:200],
                        event.source[:20],
                        *columns,
                    )
                )
                self._touched[course_id].add(person_id)
                if columns[0]:
                    weekly.add((course_id, week, "ACTIVE", person_id))
                    if columns[1]:
                        weekly.add((course_id, week, columns[1], person_id))
            self._pending = []
            self._insert_events(rows)
        if self._weekly:
            rollups.add_weekly_activity(self.session, self._weekly)
            self._weekly = set()

    def _insert_events(self, rows: list[tuple[Any, ...]]) -> None:
        if self.session.get_bind().dialect.name == "sqlite":
            result = self.session.connection().exec_driver_sql(_SQLITE_EVENT_INSERT, rows)
            self.counts.stored += result.rowcount
        else:
            keys = _EVENT_COLUMNS.split(", ")
            stmt = dialect_insert(self.session, ActivityEvent.__table__)
            stmt = stmt.on_conflict_do_nothing().returning(ActivityEvent.id)
            new = self.session.execute(stmt, [dict(zip(keys, r, strict=True)) for r in rows]).all()
            self.counts.stored += len(new)

    def finish(self) -> IngestCounts:
        """Flush, rebuild the rollups of every touched learner, and report."""
        self.flush()
        for course_id, people in sorted(self._touched.items()):
            rollups.rebuild_learners(self.session, course_id, sorted(people))
        self.counts.learners = len({p for people in self._touched.values() for p in people})
        self.counts.courses = len(self._touched)
        self._touched = defaultdict(set)
        return self.counts

    def _course_id(self, key: str) -> int:
        cached = self._courses.get(key)
        if cached is not None:
            return cached
        platform_id = self.platform.id if self.platform else None
        query = select(Course).where(
            Course.platform_id.is_(None)
            if platform_id is None
            else Course.platform_id == platform_id,
            (Course.lms_course_id == key) | (Course.lti_context_id == key),
        )
        course = self.session.scalars(query.order_by(Course.id)).first()
        if course is None:
            course = Course(
                platform_id=platform_id, lti_context_id=key, lms_course_id=key, title=key
            )
            self.session.add(course)
            self.session.flush()
        self._courses[key] = course.id
        return course.id

    def _resolve_people(self, events: list[IncomingEvent]) -> None:
        """Find or create the learners of a batch with a few set-based queries.

        Same rules as one at a time: the source's identity, else the Open edX username, else a
        new person; then both identities are recorded for that person if missing.
        """
        wanted: dict[tuple[str, str], str | None] = {}
        for event in events:
            key = (event.identity_kind, event.user_key)
            if key not in self._people and key not in wanted:
                wanted[key] = event.username
        if not wanted:
            return
        platform_id = self.platform.id if self.platform else None
        lookups: dict[str, set[str]] = defaultdict(set)
        for (kind, value), username in wanted.items():
            lookups[kind].add(value)
            if username:
                lookups["openedx_username"].add(username)
        found: dict[tuple[str, str], Any] = self._find_identities(platform_id, lookups)
        new_people: list[Person] = []
        new_identities: list[tuple[Any, str, str]] = []
        assigned: dict[tuple[str, str], Any] = {}
        for key, username in wanted.items():
            by_name = ("openedx_username", username) if username else None
            owner = found.get(key)
            if owner is None and by_name is not None:
                owner = found.get(by_name)
            if owner is None:
                owner = Person()
                new_people.append(owner)
            for identity in (key, by_name):
                if identity is not None and identity not in found:
                    found[identity] = owner
                    new_identities.append((owner, *identity))
            assigned[key] = owner
        if new_people:
            self.session.add_all(new_people)
            self.session.flush()
        ids = {k: (o if isinstance(o, int) else o.id) for k, o in assigned.items()}
        if new_identities:
            self.session.execute(
                insert(PersonIdentity),
                [
                    {
                        "person_id": o if isinstance(o, int) else o.id,
                        "platform_id": platform_id,
                        "kind": kind,
                        "value": value,
                    }
                    for o, kind, value in new_identities
                ],
            )
        self._people.update(ids)

    def _find_identities(
        self, platform_id: int | None, lookups: dict[str, set[str]]
    ) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        for kind, values in lookups.items():
            ordered = sorted(values)
            for start in range(0, len(ordered), 500):
                rows = self.session.execute(
                    select(PersonIdentity.value, PersonIdentity.person_id).where(
                        PersonIdentity.platform_id.is_(None)
                        if platform_id is None
                        else PersonIdentity.platform_id == platform_id,
                        PersonIdentity.kind == kind,
                        PersonIdentity.value.in_(ordered[start : start + 500]),
                    )
                )
                found.update(((kind, value), person_id) for value, person_id in rows)
        return found
