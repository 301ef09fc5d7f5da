"""Rollups rebuilt at ingest for the learners it touched: learner-days and their gaps, weeks,
video views, resources, problem answers (first and last check per problem) and enrollment
changes with their modes (from the events' details, lti_tool.activity.details).

A learner's rollups are a function of their stored blocks alone (and the videos' known
durations), computed in Python from the blocks: rebuilding a learner rather than adding deltas
is what makes late events and re-ingests exact.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from itertools import chain, compress, islice
from operator import not_, sub
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import delete, select, update

from lti_tool.activity import replaced
from lti_tool.activity.blocks import (
    ACTIVE,
    DETAIL,
    KEY,
    LABEL,
    NAME,
    OBJECT_ID,
    TIME,
    VIDEO_DURATION,
    VIDEO_KIND,
    VIDEO_NEW_TIME,
    VIDEO_OLD_TIME,
    VIDEO_TIME,
    Columns,
    active_times,
    decode,
    learner_blocks,
)
from lti_tool.activity.sql import insert_rows, lock_keys
from lti_tool.activity.video import VideoRow, segment_runs, viewing_spans
from lti_tool.activity.workers import Workers
from lti_tool.models import (
    Course,
    CourseSettings,
    EnrollmentChange,
    LearnerDay,
    LearnerProblem,
    LearnerResource,
    Video,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.activity import MAX_GAP_MINUTE
from lti_tool.models.types import DbSession, utcnow

# Learners per task: small enough to keep the workers and this process busy at the same time.
CHUNK = 200
VIEWING_KINDS = frozenset(("play", "pause", "seek", "stop"))
_ROLLUPS = (
    LearnerDay,
    WeeklyActivity,
    VideoLearnerViews,
    LearnerResource,
    LearnerProblem,
    EnrollmentChange,
)


#: session.info's set of the courses whose data this session changed (touch_courses): their
#: summary tables are refreshed when it commits (lti_tool.kpis.learner_summary.refresh_changed).
CHANGED_COURSES = "lti_tool.changed_courses"
#: session.info's flag for a small write (an event-API or xAPI batch): its commit only marks the
#: changed courses' summaries stale (lti_tool.kpis.learner_summary.mark_stale) instead of
#: rewriting them in the request; the refresh job or the next reader writes them.
SUMMARIES_LATER = "lti_tool.summaries_later"
#: session.info's set of the courses whose summaries show some people otherwise, their activity
#: unchanged (shown_again): their learner rows are written again, though no fingerprint moved.
SHOWN_AGAIN = "lti_tool.shown_again"


def week_start(day: date) -> date:
    """The Monday of a day's ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass(slots=True)
class LearnerRollup:
    """One learner's rollup rows in one course, before they are stored."""

    # Each day with activity: (day, events, first time, last time, gap histogram), the
    # histogram packed [minute, gaps, seconds, …] in minute order (see LearnerDay).
    days: list[tuple[date, int, float, float, list[float]]] = field(default_factory=list)
    weeks: set[tuple[date, str]] = field(default_factory=set)  # (Monday, Insights label)
    videos: dict[str, list[int]] = field(default_factory=dict)  # video id -> segment runs
    # resource id -> [kind, first time, events]: what the learner opened (see _add_resources)
    resources: dict[str, list[Any]] = field(default_factory=dict)
    # problem id -> its checks with answers: (time, key, detail), in the order met
    problems: dict[str, list[tuple[float, int, dict[str, Any]]]] = field(default_factory=dict)
    # An xAPI problem check's parts sent as statements of their own: the check's key -> parts
    parts_of: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (time, event name) -> mode, for each enrollment event
    enrollments: dict[tuple[float, str], str | None] = field(default_factory=dict)


def learner_rollup(
    blocks: Iterable[tuple[date, bytes]],
    durations: dict[str, float],
    zone: ZoneInfo | None = None,
) -> LearnerRollup:
    """A learner's rollups from all their blocks in a course, in day order.

    `durations` are the videos' known durations, the fallback when a play does not say. Days
    and weeks are the course's: UTC (the blocks' own days) without a `zone`, else that time
    zone's calendar days, which may take events from two UTC blocks.
    """
    rollup = LearnerRollup()
    video_events: dict[str, list[VideoRow]] = defaultdict(list)
    if zone is None:
        _utc_days(rollup, blocks, video_events)
    else:
        _zone_days(rollup, blocks, video_events, zone)
    for video_id, rows in video_events.items():
        runs = segment_runs(viewing_spans(rows, durations.get(video_id)))
        if runs:
            rollup.videos[video_id] = runs
    return rollup


def _utc_days(
    rollup: LearnerRollup,
    blocks: Iterable[tuple[date, bytes]],
    video_events: dict[str, list[VideoRow]],
) -> None:
    """Days and weeks straight from the UTC blocks (the common case, and the fast one)."""
    previous: float | None = None  # the learner's previous activity, across days
    for day, data in blocks:
        columns = decode(data)
        times = active_times(columns)
        if times:
            histogram = _gap_histogram(previous, times)
            rollup.days.append((day, len(times), times[0], times[-1], histogram))
            previous = times[-1]
            _add_weeks(rollup.weeks, day, columns)
        _add_video_events(video_events, columns)
        _add_resources(rollup.resources, columns)
        _add_details(rollup, columns)


def _zone_days(
    rollup: LearnerRollup,
    blocks: Iterable[tuple[date, bytes]],
    video_events: dict[str, list[VideoRow]],
    zone: ZoneInfo,
) -> None:
    """Days and weeks of the zone's calendar: each activity event goes to its local day."""
    previous: float | None = None
    day: date | None = None
    ends = float("-inf")  # when the current local day ends, epoch seconds
    times: list[float] = []
    labels: set[str] = set()

    def close() -> None:
        nonlocal previous
        if day is None or not times:
            return
        rollup.days.append((day, len(times), times[0], times[-1], _gap_histogram(previous, times)))
        previous = times[-1]
        week = week_start(day)
        rollup.weeks.add((week, "ACTIVE"))
        rollup.weeks.update((week, label) for label in labels)

    for _utc_day, data in blocks:
        columns = decode(data)
        for time, active, label in zip(columns[TIME], columns[ACTIVE], columns[LABEL], strict=True):
            if not active:
                continue
            if time >= ends or day is None:
                local = datetime.fromtimestamp(time, zone).date()
                if local != day:
                    close()
                    day, times, labels = local, [], set()
                    ends = datetime.combine(
                        local + timedelta(days=1), dt_time.min, zone
                    ).timestamp()
            times.append(time)
            if label:
                labels.add(label)
        _add_video_events(video_events, columns)
        _add_resources(rollup.resources, columns)
        _add_details(rollup, columns)
    close()


@functools.lru_cache(maxsize=4096)
def courseware_page(name: str) -> str | None:
    """The subsection (else the section) an Open edX courseware URL shows, or None."""
    _, found, rest = name.partition("/courseware/")
    if not found:
        return None
    parts = [part for part in rest.split("?", 1)[0].split("/") if part]
    return parts[1][:255] if len(parts) > 1 else (parts[0][:255] if parts else None)


def _add_resources(out: dict[str, list[Any]], columns: Columns) -> None:
    """The resources a block's activity events opened: a video, a problem, a courseware page."""
    for time, active, name, object_id, video_kind in zip(
        columns[TIME],
        columns[ACTIVE],
        columns[NAME],
        columns[OBJECT_ID],
        columns[VIDEO_KIND],
        strict=True,
    ):
        if not active:
            continue
        if object_id is not None:
            resource = object_id
            kind = "video" if video_kind else "problem" if name == "problem_check" else "activity"
        else:
            resource, kind = courseware_page(name), "page"
            if resource is None:
                continue
        found = out.get(resource)
        if found is None:
            out[resource] = [kind, time, 1]
        else:
            found[2] += 1


def _add_details(rollup: LearnerRollup, columns: Columns) -> None:
    """A block's problem checks with answers and its enrollment events (with their modes)."""
    details, active, names = columns[DETAIL], columns[ACTIVE], columns[NAME]
    if not all(active):
        # Enrollment events are not activity: only the inactive few are looked at.
        for index in compress(range(len(active)), map(not_, active)):
            name = names[index]
            if name.startswith("edx.course.enrollment."):
                detail = details[index]
                mode = detail.get("mode") if detail else None
                rollup.enrollments[(columns[TIME][index], name[:60])] = mode
    if not any(details):
        return  # the usual block: no detail
    for index in compress(range(len(details)), details):
        detail, name = details[index], names[index]
        if "part_of" in detail:
            parts = rollup.parts_of.setdefault(detail["part_of"], {})
            parts.update(detail.get("parts") or {})
        elif name == "problem_check" and columns[OBJECT_ID][index] is not None:
            checks = rollup.problems.setdefault(columns[OBJECT_ID][index], [])
            checks.append((columns[TIME][index], columns[KEY][index], detail))


def problem_rows(rollup: LearnerRollup) -> list[tuple[Any, ...]]:
    """A learner's problems as (problem id, attempts, correct_at, first time, last time,
    display name, answers) rows: the first and last check's answers per part (see LearnerProblem).
    """
    found = []
    for problem_id, checks in rollup.problems.items():
        checks.sort(key=lambda check: (check[0], check[1]))
        correct_at = None
        name = None
        for number, (at, key, detail) in enumerate(checks, start=1):
            if key in rollup.parts_of:
                # The check's parts came as statements of their own (xAPI): join them to it.
                detail = {**detail, "parts": {**rollup.parts_of[key], **detail["parts"]}}
                checks[number - 1] = (at, key, detail)
            if correct_at is None and _solved(detail):
                correct_at = number
            name = (detail.get("name") or name or "")[:500] or None  # the column's length
        first, last = checks[0][2], checks[-1][2]
        answers = {
            "first": first["parts"],
            "last": last["parts"],
            "names": [first.get("name"), last.get("name")],  # each check's context name
        }
        found.append(
            (
                problem_id,
                len(checks),
                correct_at,
                checks[0][0],
                checks[-1][0],
                name,
                orjson.dumps(answers),
            )
        )
    return found


def _solved(detail: dict[str, Any]) -> bool:
    """Whether a check solved the whole problem: its success, else every part correct."""
    success = detail.get("success")
    if success is not None:
        return bool(success)
    parts = detail.get("parts") or {}
    return bool(parts) and all(part.get("correct") for part in parts.values())


def course_zone(name: str | None) -> ZoneInfo | None:
    """The zone a course counts its days in; None for UTC (and for a name not known here)."""
    if not name or name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _gap_histogram(previous: float | None, times: list[float]) -> list[float]:
    """A day's gaps between consecutive activity events by whole minute, packed
    [minute, gaps, seconds, …] in minute order.

    A gap belongs to the day of the event that ends it, so the first one reaches back to the
    learner's previous activity, whatever day that was.
    """
    histogram: dict[int, list[Any]] = {}
    gaps: Iterable[float] = map(sub, islice(times, 1, None), times)
    if previous is not None:
        gaps = chain((times[0] - previous,), gaps)
    for gap in gaps:
        minute = int(gap / 60)  # gaps are never negative: truncation is floor
        if minute > MAX_GAP_MINUTE:
            minute = MAX_GAP_MINUTE  # the bucket of every longer gap
        counted = histogram.get(minute)
        if counted is None:
            histogram[minute] = [1, gap]
        else:
            counted[0] += 1
            counted[1] += gap
    packed: list[float] = []
    for minute in sorted(histogram):
        packed.extend((minute, *histogram[minute]))
    return packed


def _add_weeks(weeks: set[tuple[date, str]], day: date, columns: Columns) -> None:
    """The day's week as ACTIVE, and with the Insights labels of its activity events."""
    week = week_start(day)
    weeks.add((week, "ACTIVE"))
    for label in set(compress(columns[LABEL], columns[ACTIVE])):
        if label:
            weeks.add((week, label))


def _add_video_events(out: dict[str, list[VideoRow]], columns: Columns) -> None:
    """The block's play/pause/seek/stop events, per video."""
    kinds = columns[VIDEO_KIND]
    if not any(kinds):
        return
    videos = columns[OBJECT_ID]
    times, positions = columns[TIME], columns[VIDEO_TIME]
    olds, news, durations = (
        columns[VIDEO_OLD_TIME],
        columns[VIDEO_NEW_TIME],
        columns[VIDEO_DURATION],
    )
    for index, kind in enumerate(kinds):
        if kind in VIEWING_KINDS and videos[index] is not None:
            out[videos[index]].append(
                (times[index], kind, positions[index], olds[index], news[index], durations[index])
            )


def video_durations(session: DbSession, course_id: int) -> dict[str, float]:
    """The known durations of a course's videos."""
    rows = session.execute(
        select(Video.video_id, Video.duration).where(
            Video.course_id == course_id, Video.duration.is_not(None)
        )
    )
    return {video_id: duration for video_id, duration in rows if duration}


@dataclass(slots=True)
class RollupRows:
    """The rollup rows of some learners of a course, ready to insert (and what the task's
    counter made of them, when it had one)."""

    course_id: int
    people: list[int]
    days: list[tuple[Any, ...]] = field(default_factory=list)
    weeks: list[tuple[Any, ...]] = field(default_factory=list)
    videos: list[tuple[Any, ...]] = field(default_factory=list)
    resources: list[tuple[Any, ...]] = field(default_factory=list)
    problems: list[tuple[Any, ...]] = field(default_factory=list)
    enrollments: list[tuple[Any, ...]] = field(default_factory=list)
    counts: Any = None


#: What is run on a batch of rows where they are made (a worker), its result their `counts`.
RowCounter = Callable[[RollupRows], Any]
# What rollup_rows works on: (course id, person -> blocks in day order, video durations, the
# course's time zone name, the course's counter if any).
RollupTask = tuple[
    int, dict[int, list[tuple[date, bytes]]], dict[str, float], str, RowCounter | None
]
#: Per course: what counts each batch of its rows where they are made (picklable: a worker
#: runs it), and what takes the batch, counted, once stored (rebuild's `adding`).
Adding = Mapping[int, tuple[RowCounter, Callable[[RollupRows], None]]]


def rollup_rows(task: RollupTask) -> RollupRows:
    """Some learners' rollups as table rows; runs in worker processes for large ingests."""
    course_id, blocks, durations, zone_name, counter = task
    zone = course_zone(zone_name)
    rows = RollupRows(course_id, list(blocks))
    for person, person_blocks in blocks.items():
        rollup = learner_rollup(person_blocks, durations, zone)
        for day, events, first, last, gaps in rollup.days:
            packed = orjson.dumps(gaps)
            rows.days.append((course_id, person, day.isoformat(), events, first, last, packed))
        for week, label in rollup.weeks:
            rows.weeks.append((course_id, week.isoformat(), label, person))
        for video_id, runs in rollup.videos.items():
            rows.videos.append((course_id, person, video_id, orjson.dumps(runs)))
        for resource, (kind, first, events) in rollup.resources.items():
            rows.resources.append((course_id, person, resource, kind, first, events))
        for problem in problem_rows(rollup):
            rows.problems.append((course_id, person, *problem))
        for (time, name), mode in rollup.enrollments.items():
            rows.enrollments.append((course_id, person, time, name, mode))
    if counter is not None:
        rows.counts = counter(rows)
    return rows


def rebuild_learners(
    session: DbSession, course_id: int, person_ids: Sequence[int], workers: Workers | None = None
) -> None:
    """Rebuild the rollups of some learners of a course from their blocks."""
    rebuild(session, {course_id: person_ids}, workers)


def rebuild(
    session: DbSession,
    learners: Mapping[int, Iterable[int]],
    workers: Workers | None = None,
    new_people: AbstractSet[int] = frozenset(),
    adding: Adding | None = None,
) -> None:
    """Rebuild the rollups of learners (course -> people) from their blocks.

    With started `workers`, the rollups are computed there while this process reads the next
    learners' blocks and writes the rows of the ones before, in one pipeline for all courses.
    `new_people` were created by this batch, so they have no rollups to replace. `adding`:
    per course, what counts each batch of its rows where they are made (in the workers) and
    what is given the batch, counted, once stored.
    """
    adding = adding or {}
    counters = {course_id: counter for course_id, (counter, _add) in adding.items()}
    tasks = _tasks(session, learners, counters)
    for _task, rows in (workers or Workers()).map_ordered(rollup_rows, tasks):
        store_rows(session, rows, new_people)
        if rows.course_id in adding:
            adding[rows.course_id][1](rows)
    # Every change noted by store_rows (lti_tool.activity.replaced): not touch_courses.
    _touch(session, learners)


def summaries_later(session: DbSession) -> None:
    """Let this session's commit mark the changed courses' summaries stale rather than rewrite
    them (SUMMARIES_LATER): for writes too small to pay a whole course's rewrite each."""
    session.info[SUMMARIES_LATER] = True


def touch_courses(session: DbSession, course_ids: Iterable[int]) -> None:
    """Mark courses whose activity changed: pages reuse course-wide figures until it moves, and
    the summary tables are written again before the change is committed (CHANGED_COURSES), the
    class's figures added up again (a change not made by rebuild, so not noted in
    lti_tool.activity.replaced)."""
    ids = sorted(set(course_ids))
    replaced.spoil(session, ids)
    _touch(session, ids)


def shown_again(session: DbSession, shown: Mapping[int, AbstractSet[int]]) -> None:
    """Mark courses whose summaries show some people otherwise (per course, those people: a
    username a later log or a launch brought), their activity unchanged: their learner rows
    are written again (marked stale with whose when the change is committed:
    lti_tool.kpis.learner_summary.refresh_changed).

    The activity mark (`course.updated_at`) is left as it is: moved, it would date the stored
    class sums before it, and a launch that leaves the summaries for later keeps no record of
    replaced rows to follow them by, so the next refresh would add up the whole class.
    """
    # Not CHANGED_COURSES: a small write's commit marks those stale for reasons unknown.
    found: dict[int, set[int]] = session.info.setdefault(SHOWN_AGAIN, {})
    for course_id, people in shown.items():
        found.setdefault(course_id, set()).update(people)


def _touch(session: DbSession, course_ids: Iterable[int]) -> None:
    """touch_courses, its work."""
    ids = sorted(set(course_ids))
    # The activity marks as they were before this transaction moved them.
    replaced.begin(session, ids)
    if ids:
        session.execute(update(Course).where(Course.id.in_(ids)).values(updated_at=utcnow()))
        summaries_changed(session, ids)


def summaries_changed(session: DbSession, course_ids: Iterable[int]) -> None:
    """Have the courses' summary tables written again before this change is committed, for a
    change their fingerprint sees without the activity moving (settings, a sync run): the
    figures that depend on the activity alone are then kept (CHANGED_COURSES)."""
    session.info.setdefault(CHANGED_COURSES, set()).update(course_ids)


def _tasks(
    session: DbSession, learners: Mapping[int, Iterable[int]], counters: Mapping[int, RowCounter]
) -> Iterator[RollupTask]:
    """The learners' blocks, a few hundred learners at a time, with their videos' durations
    (and their course's counter, if any)."""
    for course_id, person_ids in sorted(learners.items()):
        durations = video_durations(session, course_id)
        zone_name = session.scalar(
            select(CourseSettings.time_zone).where(CourseSettings.course_id == course_id)
        )
        people = sorted(set(person_ids))
        for start in range(0, len(people), CHUNK):
            yield (
                course_id,
                learner_blocks(session, course_id, people[start : start + CHUNK]),
                durations,
                zone_name or "UTC",
                counters.get(course_id),
            )


def store_rows(
    session: DbSession, rows: RollupRows, new_people: AbstractSet[int] = frozenset()
) -> None:
    """Replace the stored rollups of these learners (`new_people` have none yet)."""
    # Every row is of rows.course_id and one of rows.people (rollup_rows makes them so).
    lock_keys(session, rows.course_id, rows.people, new_people)
    known = [person for person in rows.people if person not in new_people]
    replaced.note(session, rows.course_id, rows.people, known)
    for model in _ROLLUPS if known else ():
        table = model.__table__  # Core, not ORM: no objects in the session to synchronise
        session.execute(
            delete(table).where(table.c.course_id == rows.course_id, table.c.person_id.in_(known))
        )
    insert_rows(session, LearnerDay, rows.days)
    insert_rows(session, WeeklyActivity, rows.weeks)
    insert_rows(session, VideoLearnerViews, rows.videos)
    insert_rows(session, LearnerResource, rows.resources)
    insert_rows(session, LearnerProblem, rows.problems)
    insert_rows(session, EnrollmentChange, rows.enrollments)
    if replaced.taken(session, rows.course_id) is not None:  # (else no rows are held)
        replaced.wrote(session, rows.course_id, _as_read(rows))


def _as_read(rows: RollupRows) -> replaced.Rows:
    """Rollup rows as replaced.read gives them (days and weeks ISO text, runs and answers
    bytes)."""
    found = replaced.Rows.none_of(rows.people)
    for _course, person, video_id, runs in rows.videos:
        found.viewings[person].append((video_id, runs))
    for _course, person, day, *_counts in rows.days:
        found.days[person].append(day)
    for _course, person, resource, kind, first, _events in rows.resources:
        found.resources[person].append((resource, kind, first))
    for _course, person, problem, attempts, correct, first, last, _name, answers in rows.problems:
        found.problems[person].append((person, problem, attempts, correct, first, last, answers))
    for _course, week, label, person in rows.weeks:
        found.weeks[person].append((week, label))
    for _course, person, time, name, mode in rows.enrollments:
        found.enrollments[person].append((time, name, mode))
    return found
