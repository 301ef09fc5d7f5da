"""The event ingest API's batches: remote-lab messages and xAPI statements, item by item.

A lab message is `{"user": "<id>", "t": <epoch ms>, "type": "log" | "request", "exp":
"<activity>", "payload": {...}, "course": "<LMS course id>"}` ("course" only when the token is
not bound to a course). A "log" message becomes an event named after `exp`; a "request" message
asks for that user's own summary. Items with "actor" and "verb" are xAPI statements.

Invalid items are reported by index and skipped; the valid items of the same batch are stored.
An item naming a course outside a course-bound token (403), or a course that does not exist and
that the token may not create (404, naming the course), refuses the whole request.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from lti_tool.activity.blocks import stored_events
from lti_tool.activity.rollups import summaries_later
from lti_tool.activity.sql import dialect_insert
from lti_tool.api import xapi
from lti_tool.api.courses import (
    CourseResolver,
    CourseTarget,
    ItemProblem,
    UnknownCourse,
    UnknownCourses,
)
from lti_tool.events.sink import EventSink, IncomingEvent, take_turn
from lti_tool.kpis import activity
from lti_tool.kpis.labels import course_label, learner_labels
from lti_tool.models import ApiToken, PersonIdentity, XapiStatement
from lti_tool.models.types import DbSession

DEFAULT_MAX_ITEMS = 1000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Lab times are epoch milliseconds: anything before 2000 is taken for a mistake (seconds?).
EARLIEST_MS = 946_684_800_000
FUTURE_SLACK = timedelta(days=1)
MESSAGE_TYPES = ("log", "request")


@dataclass
class LabMessage:
    """A valid lab message."""

    index: int
    type: str  # log | request
    user: str
    time: float  # epoch seconds
    exp: str | None
    payload: dict[str, Any]
    course_ref: str | None
    item: dict[str, Any]


def _text(item: dict[str, Any], key: str, limit: int) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ItemProblem(f'"{key}" must be a string')
    text = str(value).strip()
    if not text:
        raise ItemProblem(f'"{key}" is empty')
    if len(text) > limit:
        raise ItemProblem(f'"{key}" is longer than {limit} characters')
    return text


def parse_lab_message(item: Any, index: int, now: datetime) -> LabMessage:
    """Check one lab message; ItemProblem says what is wrong with it."""
    if not isinstance(item, dict):
        raise ItemProblem("the item is not a JSON object (a lab message or an xAPI statement)")
    kind = item.get("type")
    if kind not in MESSAGE_TYPES:
        raise ItemProblem(
            f'"type" must be "log" or "request" (got {kind!r}); an xAPI statement needs '
            '"actor" and "verb"'
        )
    user = _text(item, "user", 500)
    if user is None:
        raise ItemProblem('"user" is required (the lab\'s id for the learner)')
    stamp = item.get("t")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not math.isfinite(stamp):
        raise ItemProblem('"t" is required: the time in epoch milliseconds (a number)')
    if stamp < EARLIEST_MS:
        raise ItemProblem(
            f'"t" = {stamp} is before the year 2000 in epoch milliseconds (was it sent in seconds?)'
        )
    latest = (now + FUTURE_SLACK).timestamp() * 1000
    if stamp > latest:
        raise ItemProblem(f'"t" = {stamp} is more than a day in the future')
    exp = _text(item, "exp", 200)
    if kind == "log" and exp is None:
        raise ItemProblem('"exp" is required for a "log" message (the activity\'s name)')
    payload = item.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ItemProblem('"payload" must be a JSON object')
    course_ref = _text(item, "course", 255)
    return LabMessage(index, kind, user, stamp / 1000.0, exp, payload, course_ref, item)


def lab_event(message: LabMessage, target: CourseTarget) -> IncomingEvent:
    """The event a "log" message records; its key covers the item and the course it went to."""
    return IncomingEvent(
        course_key=target.key,
        user_key=message.user,
        identity_kind="lab_user",
        time=message.time,
        name=str(message.exp),
        source="lab",
        data=message.payload,
        raw=xapi.canonical({**message.item, "course": target.key}),
    )


@dataclass
class Store:
    """Writes events (one EventSink per platform) and statement ids; finish() rebuilds rollups."""

    session: DbSession
    resolver: CourseResolver
    token: ApiToken
    _sinks: dict[int | None, EventSink] = field(default_factory=dict)
    _statements: list[dict[str, Any]] = field(default_factory=list)

    def add_event(self, target: CourseTarget, event: IncomingEvent) -> None:
        """Queue an event for the target course (created if the tool does not know it)."""
        event.course_id = self.resolver.ensure(target).id
        sink = self._sinks.get(target.platform_id)
        if sink is None:
            sink = EventSink(self.session, self.resolver.platform(target))
            self._sinks[target.platform_id] = sink
        sink.add(event)

    def add_statement(self, prepared: xapi.PreparedStatement, received: datetime) -> None:
        """Queue a statement's event and remember its id."""
        course = self.resolver.ensure(prepared.target)
        if prepared.event is not None:
            self.add_event(prepared.target, prepared.event)
        self._statements.append(
            {
                "id": prepared.id,
                "digest": prepared.digest,
                "course_id": course.id,
                "token_id": self.token.id,
                "received_at": received,
            }
        )

    def finish(self) -> tuple[int, int]:
        """Write everything; return (events received, events new)."""
        if self._statements:
            insert = dialect_insert(self.session, XapiStatement.__table__)
            # A concurrent request may have stored the same id a moment ago: keep the first.
            self.session.execute(insert.on_conflict_do_nothing(), self._statements)
            self._statements = []
        received = stored = 0
        for sink in self._sinks.values():
            counts = sink.finish()
            received += counts.received
            stored += counts.stored
        self._sinks = {}
        return received, stored


@dataclass
class BatchResult:
    """What a batch did: counts, per-item errors, answers to "request" messages."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)

    def error(self, index: int, message: str) -> None:
        """Record an invalid item."""
        self.errors.append({"index": index, "message": message})


def ingest_batch(
    session: DbSession, token: ApiToken, items: list[Any], now: datetime | None = None
) -> BatchResult:
    """Store the valid items of a batch; before writing anything, raise TokenError(403) when an
    item names a course the token may not act on, UnknownCourses when items name courses that
    do not exist and that the token may not create."""
    now = now or datetime.now(UTC)
    take_turn(session)
    # A batch is small and an LMS may send one a second: its commit marks the summaries
    # stale for the refresh job instead of rewriting a whole course inside the request.
    summaries_later(session)
    result = BatchResult(received=len(items))
    resolver = CourseResolver(session, token)
    statements: list[xapi.PreparedStatement] = []
    logs: list[tuple[LabMessage, CourseTarget]] = []
    requests: list[tuple[LabMessage, CourseTarget]] = []
    unknown: list[UnknownCourse] = []
    for index, item in enumerate(items):
        try:
            if xapi.is_statement(item):
                statements.append(xapi.prepare(item, index, resolver, now))
                continue
            message = parse_lab_message(item, index, now)
            target = resolver.resolve(message.course_ref, index)
        except ItemProblem as problem:
            result.error(index, str(problem))
            continue
        except UnknownCourse as course:
            unknown.append(course)  # every unknown course is named in the one 404
            continue
        (requests if message.type == "request" else logs).append((message, target))
    if unknown:
        raise UnknownCourses(unknown, token, resolver.token_platform())

    store = Store(session, resolver, token)
    known = xapi.known_statements(session, [s.id for s in statements])
    in_batch: dict[str, str] = {}
    skipped = 0
    for prepared in statements:
        if prepared.id in in_batch:
            if in_batch[prepared.id] == prepared.digest:
                skipped += 1
            else:
                result.error(
                    prepared.index,
                    f"statement {prepared.id} appears earlier in this batch with other content",
                )
            continue
        in_batch[prepared.id] = prepared.digest
        if prepared.id in known:
            conflict = xapi.conflict_message(prepared, known[prepared.id])
            if conflict:
                result.error(prepared.index, conflict)
            else:
                skipped += 1
            continue
        store.add_statement(prepared, now)  # a voiding statement is recorded but makes no event
    for message, target in logs:
        store.add_event(target, lab_event(message, target))
    received, stored = store.finish()
    result.stored = stored
    result.duplicates = skipped + received - stored
    for message, target in requests:
        result.summaries.append(
            {"index": message.index, **learner_summary(session, target, message.user)}
        )
    result.errors.sort(key=lambda e: e["index"])
    return result


def learner_summary(
    session: DbSession,
    target: CourseTarget,
    user: str,
    cutoff_minutes: int = activity.DEFAULT_CUTOFF_MINUTES,
) -> dict[str, Any]:
    """One lab user's own figures in a course: events, active days, time spent (nobody else's)."""
    summary: dict[str, Any] = {
        "user": user,
        "course": course_label(target.course) if target.course else target.key,
        "events": 0,
        "active_days": 0,
        "time_spent_seconds": 0.0,
        "sessions": 0,
        "cutoff_minutes": cutoff_minutes,
        "first_day": None,
        "last_day": None,
        "activities": {},
        "days": [],
    }
    course = target.course
    if course is None:
        return summary
    person_id = session.scalar(
        select(PersonIdentity.person_id).where(
            PersonIdentity.platform_id.is_(None)
            if course.platform_id is None
            else PersonIdentity.platform_id == course.platform_id,
            PersonIdentity.kind == "lab_user",
            PersonIdentity.value == user,
        )
    )
    if person_id is None:
        return summary
    label = learner_labels(session, {person_id})[person_id]
    rows = [
        row
        for row in activity.time_spent(session, course, cutoff_minutes=cutoff_minutes)
        if row["learner"] == label
    ]
    days = [{k: row[k] for k in ("day", "seconds", "sessions", "events")} for row in rows]
    by_name = Counter(e.name for e in stored_events(session, course.id, person_id))
    summary.update(
        events=sum(d["events"] for d in days),
        active_days=len(days),
        time_spent_seconds=round(sum(d["seconds"] for d in days), 3),
        sessions=sum(d["sessions"] for d in days),
        first_day=days[0]["day"] if days else None,
        last_day=days[-1]["day"] if days else None,
        activities=dict(sorted(by_name.items())),
        days=days,
    )
    return summary


class BatchRefused(Exception):
    """An xAPI batch taken whole or not at all was refused: 400 (invalid) or 409 (conflict)."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def ingest_statements(
    session: DbSession, token: ApiToken, statements: list[Any], now: datetime | None = None
) -> list[str]:
    """Store xAPI statements as an LRS does: all or none; a repeat is accepted and not stored
    again; return the statement ids in order (new ids for statements without one)."""
    now = now or datetime.now(UTC)
    take_turn(session)
    # A batch is small and an LMS may send one a second: its commit marks the summaries
    # stale for the refresh job instead of rewriting a whole course inside the request.
    summaries_later(session)
    resolver = CourseResolver(session, token)
    prepared: list[xapi.PreparedStatement] = []
    errors: list[dict[str, Any]] = []
    unknown: list[UnknownCourse] = []
    for index, statement in enumerate(statements):
        try:
            if not xapi.is_statement(statement):
                raise ItemProblem('not an xAPI statement (it needs "actor" and "verb")')
            prepared.append(xapi.prepare(statement, index, resolver, now))
        except ItemProblem as problem:
            errors.append({"index": index, "message": str(problem)})
        except UnknownCourse as course:
            unknown.append(course)
    if errors:
        raise BatchRefused(
            400,
            f"{len(errors)} of {len(statements)} statements are invalid; none was stored "
            "(an LRS takes a batch whole or not at all).",
            errors,
        )
    if unknown:
        raise UnknownCourses(unknown, token, resolver.token_platform())
    first: dict[str, int] = {}
    for item in prepared:
        if item.id in first:
            errors.append(
                {"index": item.index, "message": f"statement id {item.id} is repeated in the batch"}
            )
        first.setdefault(item.id, item.index)
    if errors:
        raise BatchRefused(400, "A batch may not carry the same statement id twice.", errors)
    known = xapi.known_statements(session, list(first))
    for item in prepared:
        conflict = xapi.conflict_message(item, known[item.id]) if item.id in known else None
        if conflict:
            errors.append({"index": item.index, "message": conflict})
    if errors:
        raise BatchRefused(
            409, "A statement id is already stored with other content; nothing was stored.", errors
        )
    store = Store(session, resolver, token)
    for item in prepared:
        if item.id not in known:
            store.add_statement(item, now)
    store.finish()
    return [item.id for item in prepared]
