"""The event store: one block per learner, course and day, holding that day's events.

A block packs a learner's events of one UTC day in one course column by column in a single
orjson value, sorted by time. Storing a day of events as one row instead of one row per event
is what makes ingest fast: a million events are some forty thousand rows, written with one
statement each, and a learner's rollups are rebuilt by reading a few rows.

Every event carries `key`, a 64-bit digest of the event as received. Merging events into a
block keeps the first event of each key, so ingesting the same data twice adds nothing, and an
event that arrives late is merged into the day it belongs to.

The last column, `detail`, is None for nearly every event; a server problem_check keeps its
answers there and an enrollment event its mode (lti_tool.activity.details). Until a block is
stored a detail is its orjson bytes (one object to hand between processes, not a nest of
dicts: pickling those cost more than making them); stored blocks decode to dicts. A block
whose events have no detail is stored without the column (blocks written before it existed
look the same), and merging fills in the detail of a stored event that lacks it from the same
event read again (`flask ingest tracking-logs --reprocess`), without adding the event twice.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import compress, islice
from math import isfinite
from operator import lt
from sys import intern
from typing import Any

import orjson
from orjson import Fragment
from sqlalchemy import select

from lti_tool.activity.details import ENROLLMENT_EVENTS, enrollment_detail, problem_detail
from lti_tool.activity.sql import lock_keys, select_in, upsert_rows
from lti_tool.activity.video import VIDEO_EVENT_NAMES, video_id
from lti_tool.models import ActivityBlock
from lti_tool.models.types import DbSession

# The columns of a block, in the order a block's lists and event rows use.
COLUMNS = (
    "time",  # epoch seconds, UTC
    "key",  # signed 64-bit digest of the event as received
    "name",
    "source",  # browser | server | mobile | task | lab | xapi
    "active",  # False for events that are not learner activity (task, enrollment changes)
    "label",  # ATTEMPTED_PROBLEM | PLAYED_VIDEO | POSTED_FORUM (Insights' labels), else None
    "object_id",  # video, problem or activity id
    "video_kind",  # play | pause | seek | stop | load | complete, else None
    "video_time",
    "video_old_time",
    "video_new_time",
    "video_duration",
    "detail",  # a small dict for problem_check answers and enrollment modes, else None
)
(
    TIME,
    KEY,
    NAME,
    SOURCE,
    ACTIVE,
    LABEL,
    OBJECT_ID,
    VIDEO_KIND,
    VIDEO_TIME,
    VIDEO_OLD_TIME,
    VIDEO_NEW_TIME,
    VIDEO_DURATION,
    DETAIL,
) = range(len(COLUMNS))

Columns = list[list[Any]]  # one list per column, all of the same length
EventRow = tuple[Any, ...]  # one event's values, in COLUMNS order

_EPOCH = date(1970, 1, 1)
# The key of an xAPI event's data that carries the detail of one part of a problem check.
PART_OF = "part_of"
# Stored for a payload number that is NaN or infinite, which JSON cannot hold: the video rules
# drop negative positions and ignore negative durations exactly as they do non-finite ones.
NOT_FINITE = -1.0


_sha256 = hashlib.sha256
_first_int64 = struct.Struct(">q").unpack_from


def event_key(raw: bytes) -> int:
    """A signed 64-bit digest of the event as received: the first 8 bytes of its SHA-256.

    SHA-256, because current CPUs compute it in hardware (SHA-NI, ARMv8 SHA2): on a log line
    it is a third faster than blake2b.
    """
    key: int = _first_int64(_sha256(raw).digest())[0]
    return key


def epoch_day(time: float) -> int:
    """The UTC day of an epoch time, as days since 1970-01-01."""
    return int(time // 86400)


def day_of(number: int) -> date:
    """The calendar day of an epoch day number."""
    return _EPOCH + timedelta(days=number)


def day_number(day: date) -> int:
    """The epoch day number of a calendar day."""
    return (day - _EPOCH).days


def _number(value: Any) -> float | None:
    """A payload field as a number; None when it is not one."""
    kind = type(value)  # exact types, as JSON decoders give them (and so bool is not an int)
    if kind is float:
        return value if isfinite(value) else NOT_FINITE  # the usual case: a video position
    if kind is int:
        number = float(value)
    elif kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if isfinite(number) else NOT_FINITE


_NOT_VIDEO = (None, None, None, None, None, None, None)  # and no detail
# Raw video ids as events give them -> the stored id: a few hundred ids repeat in a million events.
_VIDEO_IDS: dict[Any, str | None] = {}
_VIDEO_IDS_MAX = 100_000


def _stored_video_id(raw_id: Any) -> str | None:
    """The stored (interned, normalized, at most 255 characters) id of a video, or None."""
    try:
        return _VIDEO_IDS[raw_id]
    except (KeyError, TypeError):  # TypeError: an unhashable id (a list or object)
        pass
    stored = intern(video_id(str(raw_id))[:255]) if raw_id else None
    if type(raw_id) is str and len(_VIDEO_IDS) < _VIDEO_IDS_MAX:
        _VIDEO_IDS[raw_id] = stored
    return stored


# What event_row does with an event of a name and source, found once per pair (see _rule).
_PLAIN, _VIDEO, _PROBLEM, _FORUM, _ENROLLMENT, _XAPI = range(6)
_Rule = tuple[str, str, bool, int, str | None, str | None]
# (name, source) as events give them -> their rule: a log repeats a few hundred pairs (event
# types, and the paths that name implicit page views). Only pairs no longer than stored ones
# are kept, and so many at most, so that odd logs cannot make the table large (about 10 MB).
_RULES: dict[tuple[str, str], _Rule] = {}
_RULES_MAX = 20_000
_NAME_MAX, _SOURCE_MAX = 200, 20  # what a block stores of them


def _rule(name: str, source: str) -> _Rule:
    """The stored name and source of an event, whether it is activity, which of event_row's
    cases it falls in, and for a video event its kind and label."""
    active = source != "task" and not name.startswith("edx.course.enrollment.")
    name, source = intern(name[:_NAME_MAX]), intern(source[:_SOURCE_MAX])
    kind = VIDEO_EVENT_NAMES.get(name)
    label = None
    if kind is not None:
        case = _VIDEO
        if kind == "play" and source in ("browser", "mobile", "xapi"):
            label = "PLAYED_VIDEO"
    elif name == "problem_check" and source == "server":
        case = _PROBLEM
    elif source == "server" and name.startswith("edx.forum.") and name.endswith(".created"):
        case = _FORUM
    elif not active and name in ENROLLMENT_EVENTS:
        case = _ENROLLMENT
    elif source == "xapi":
        case = _XAPI
    else:
        case = _PLAIN
    return name, source, active, case, kind, label


def event_row(
    time: float,
    key: int,
    name: str,
    source: str,
    data: Mapping[str, Any],
    display_name: Any = None,
) -> EventRow:
    """An event reduced to the stored columns: what the KPIs need and nothing more.

    Names, sources and object ids repeat from event to event: interned, each is one object
    however often it occurs, which keeps a batch small in memory and quick to pickle.
    `display_name` is the name the event's context gives its block (problem_check only).
    """
    pair = (name, source)
    rule = _RULES.get(pair)
    if rule is None:
        rule = _rule(name, source)
        short = len(name) <= _NAME_MAX and len(source) <= _SOURCE_MAX
        if short and len(_RULES) < _RULES_MAX:
            _RULES[pair] = rule
    name, source, active, case, kind, label = rule
    if case == _PLAIN:
        return (time, key, name, source, active, None, *_NOT_VIDEO)
    if case == _VIDEO:
        get = data.get
        current = get("currentTime")
        if current is None:
            current = get("current_time")
        return (
            time,
            key,
            name,
            source,
            active,
            label,
            _stored_video_id(get("id")),
            kind,
            _number(current),
            _number(get("old_time")),
            _number(get("new_time")),
            _number(get("duration")),
            None,
        )
    if case == _PROBLEM:
        problem = data.get("problem_id")
        problem_id = intern(str(problem)[:255]) if problem else None
        detail = _packed(problem_detail(data, display_name))
        return (
            time,
            key,
            name,
            source,
            active,
            "ATTEMPTED_PROBLEM",
            problem_id,
            *_NOT_VIDEO[2:],
            detail,
        )
    if case == _FORUM:
        return (time, key, name, source, active, "POSTED_FORUM", *_NOT_VIDEO)
    if case == _ENROLLMENT:
        return (
            time,
            key,
            name,
            source,
            active,
            None,
            *_NOT_VIDEO[1:],
            _packed(enrollment_detail(data)),
        )
    detail = data.get(PART_OF)  # case _XAPI
    if detail is not None:
        # One part of a multi-question problem check (an xAPI sub-statement): see api.xapi.
        return (time, key, name, source, active, None, *_NOT_VIDEO[1:], _packed(detail))
    return (time, key, name, source, active, None, *_NOT_VIDEO)


def _packed(detail: dict[str, Any] | None) -> bytes | None:
    """A detail as its rows carry it until stored: orjson bytes (see the module docstring)."""
    return None if detail is None else orjson.dumps(detail)


def note_video(seen: dict[str, float | None], video: str, duration: float | None) -> None:
    """Note a video an event names and the duration it gives; the longest duration wins."""
    if duration and duration > (seen.get(video) or 0.0):
        seen[video] = duration
    else:
        seen.setdefault(video, None)


def note_videos(seen: dict[str, float | None], columns: Columns) -> None:
    """Note the videos a block's events name, with their durations."""
    kinds = columns[VIDEO_KIND]
    if not any(kinds):
        return
    videos = zip(kinds, columns[OBJECT_ID], columns[VIDEO_DURATION], strict=True)
    for kind, video, duration in videos:
        if kind is not None and video is not None:
            note_video(seen, video, duration)


def empty() -> Columns:
    """A block without events."""
    return [[] for _ in COLUMNS]


def append_row(columns: Columns, row: EventRow) -> None:
    """Add one event to a block's columns (unsorted until merged)."""
    for column, value in zip(columns, row, strict=True):
        column.append(value)


def extend(columns: Columns, more: Columns) -> None:
    """Add another block's events (unsorted until merged)."""
    for column, values in zip(columns, more, strict=True):
        column.extend(values)


def encode(columns: Columns) -> bytes:
    """A block as stored: an orjson object of named columns (`detail` only when an event has
    one, which keeps the blocks of other events as they were)."""
    named = dict(zip(COLUMNS, columns, strict=True))
    details = columns[DETAIL]
    if not any(details):
        del named["detail"]
    else:
        # Packed details go in as they are (a Fragment is written without parsing it again).
        named["detail"] = [Fragment(d) if type(d) is bytes else d for d in details]
    return orjson.dumps(named)


def decode(data: bytes | memoryview) -> Columns:
    """A stored block's columns."""
    named = orjson.loads(data)
    columns = [named[name] for name in COLUMNS[:DETAIL]]
    detail = named.get("detail")
    columns.append(detail if detail is not None else [None] * len(columns[KEY]))
    return columns


def rows(columns: Columns) -> Iterable[EventRow]:
    """A block's events one by one, in COLUMNS order."""
    return zip(*columns, strict=True)


def _take(columns: Columns, indexes: Sequence[int]) -> Columns:
    return [[column[i] for i in indexes] for column in columns]


def _sorted(columns: Columns) -> Columns:
    """The events in time order (ties by key, so that a block's value depends only on its set)."""
    times = columns[TIME]
    if all(map(lt, times, islice(times, 1, None))):
        return columns  # already strictly increasing: the usual case for a log read in order
    keys = columns[KEY]
    order = sorted(range(len(times)), key=lambda i: (times[i], keys[i]))
    return _take(columns, order)


def fill_details(stored: Columns, incoming: Columns) -> int:
    """Give stored events that have no detail the detail the same events (by key) bring now;
    how many were filled. Stored details are never replaced."""
    found = {
        key: detail
        for key, detail in zip(incoming[KEY], incoming[DETAIL], strict=True)
        if detail is not None
    }
    if not found:
        return 0
    details = stored[DETAIL]
    filled = 0
    for index, key in enumerate(stored[KEY]):
        if details[index] is None and key in found:
            details[index] = found[key]
            filled += 1
    return filled


def merge(stored: Columns | None, incoming: Columns) -> tuple[Columns, int]:
    """The stored block with the incoming events it lacks, and how many those were.

    An incoming event whose key the block (or an earlier incoming event) already has is a
    repeat and is left out.
    """
    keys = incoming[KEY]
    known: set[int] = set(stored[KEY]) if stored else set()
    if known or len(set(keys)) != len(keys):
        fresh = []
        for index, key in enumerate(keys):
            if key not in known:
                known.add(key)
                fresh.append(index)
        if len(fresh) != len(keys):
            incoming = _take(incoming, fresh)
    added = len(incoming[KEY])
    if not stored:
        return _sorted(incoming), added
    if not added:
        return stored, 0
    return _sorted([old + new for old, new in zip(stored, incoming, strict=True)]), added


def active_times(columns: Columns) -> list[float]:
    """The times of a block's learner-activity events, in order."""
    active = columns[ACTIVE]
    if all(active):
        return columns[TIME]
    return list(compress(columns[TIME], active))


# --- the table -----------------------------------------------------------------------------
# Blocks are read through Core on the session's connection: plain rows, without the ORM's
# per-row loading, which would cost more than reading the blocks themselves.

_KEY = ("course_id", "person_id", "day")
CHUNK = 500


def stored_blocks(
    session: DbSession, course_id: int, people: Sequence[int], first_day: int, last_day: int
) -> dict[tuple[int, int], bytes]:
    """The stored blocks of some learners between two epoch days: (person, day) -> value."""
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(people), CHUNK):
        query = select(ActivityBlock.person_id, ActivityBlock.day, ActivityBlock.data).where(
            ActivityBlock.course_id == course_id,
            ActivityBlock.person_id.in_(people[start : start + CHUNK]),
            ActivityBlock.day.between(day_of(first_day), day_of(last_day)),
        )
        for person_id, day, data in session.connection().execute(query):
            found[(person_id, day_number(day))] = data
    return found


def write_blocks(
    session: DbSession,
    course_id: int,
    incoming: Mapping[tuple[int, int], Columns],
    blockless: AbstractSet[int] = frozenset(),
    new_people: AbstractSet[int] = frozenset(),
) -> tuple[int, int]:
    """Merge new events into their blocks, (person, epoch day) -> columns; return how many
    events were new, and how many stored events got the detail they lacked.

    `blockless` people are known to have no block in the course (made by this ingest, and
    none written yet): theirs are not looked for. `new_people` were inserted by this
    transaction and not deleted since: their keys need no lock (sql.lock_keys).
    """
    if not incoming:
        return 0, 0
    people = sorted({person for person, _day in incoming if person not in blockless})
    days = [day for _person, day in incoming]
    stored = stored_blocks(session, course_id, people, min(days), max(days)) if people else {}
    added_total = filled_total = 0
    changed = []
    for (person_id, day), columns in incoming.items():
        old = stored.get((person_id, day))
        known = decode(old) if old is not None else None
        # Only the few events with details can fill any: checked first, as it is cheap.
        filled = fill_details(known, columns) if known is not None and any(columns[DETAIL]) else 0
        merged, added = merge(known, columns)
        if added or filled:
            added_total += added
            filled_total += filled
            value = encode(merged)
            changed.append((course_id, person_id, day_of(day).isoformat(), len(merged[KEY]), value))
    if changed:
        lock_keys(session, course_id, {row[1] for row in changed}, new_people)
    upsert_rows(session, ActivityBlock, changed, _KEY, ("events", "data"))
    return added_total, filled_total


def learner_blocks(
    session: DbSession, course_id: int, people: Sequence[int]
) -> dict[int, list[tuple[date, bytes]]]:
    """Every block of some learners in a course, in day order: person -> [(day, value)]."""
    found: dict[int, list[tuple[date, bytes]]] = {person: [] for person in people}
    # Plain SQL on the driver: a log of many learners reads back as many blocks as it wrote.
    rows = select_in(
        session,
        "SELECT person_id, day, data FROM activity_block "
        "WHERE course_id = {p} AND person_id {in} ORDER BY person_id, day",
        (course_id,),
        people,
    )
    # The driver's own values: SQLite gives the day as its ISO text, psycopg2 a bytea as a
    # memoryview (which could not be sent to the rollup workers).
    for person_id, day, data in rows:
        found[person_id].append(
            (
                date.fromisoformat(day) if type(day) is str else day,
                data if type(data) is bytes else bytes(data),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event, unpacked from its block."""

    course_id: int
    person_id: int
    day: date
    time: float
    key: int
    name: str
    source: str
    active: bool
    label: str | None
    object_id: str | None
    video_kind: str | None
    video_time: float | None
    video_old_time: float | None
    video_new_time: float | None
    video_duration: float | None
    detail: Any = None


def stored_events(
    session: DbSession, course_id: int | None = None, person_id: int | None = None
) -> list[StoredEvent]:
    """The stored events (of a course, of a learner), by course, learner and time.

    For the few readers that need events one by one; KPIs read the rollups.
    """
    query = select(
        ActivityBlock.course_id, ActivityBlock.person_id, ActivityBlock.day, ActivityBlock.data
    ).order_by(ActivityBlock.course_id, ActivityBlock.person_id, ActivityBlock.day)
    if course_id is not None:
        query = query.where(ActivityBlock.course_id == course_id)
    if person_id is not None:
        query = query.where(ActivityBlock.person_id == person_id)
    return [
        StoredEvent(course, person, day, *row)
        for course, person, day, data in session.execute(query)
        for row in rows(decode(data))
    ]
