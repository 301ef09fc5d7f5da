"""Rollups rebuilt at ingest for the learners it touched: learner-days, gaps, video segments.

Rebuilding a learner from their stored events (rather than adding deltas) is what makes late
events and re-ingests exact: the result depends only on the set of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from lti_tool.kpis.video import VideoEvent, viewings, views_per_segment
from lti_tool.models import (
    ActivityEvent,
    LearnerDay,
    LearnerDayGap,
    Video,
    VideoLearnerSegment,
    WeeklyActivity,
)
from lti_tool.models.activity import MAX_GAP_MINUTE
from lti_tool.sync.sql import dialect_insert, floor_int

CHUNK = 500
# Millions of rows: the driver's executemany on tuples (the ORM's bulk insert is ~10x slower).
_SEGMENT_INSERT = {
    "qmark": "INSERT INTO video_learner_segment (course_id, video_id, person_id, segment, views)"
    " VALUES (?, ?, ?, ?, ?)",
    "pyformat": "INSERT INTO video_learner_segment (course_id, video_id, person_id, segment, views)"
    " VALUES (%s, %s, %s, %s, %s)",
}


def _paramstyle(session: Session) -> str:
    return "qmark" if session.get_bind().dialect.name == "sqlite" else "pyformat"


VIEWING_KINDS = ("play", "pause", "seek", "stop")


def _chunks(items: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def add_weekly_activity(session: Session, facts: set[tuple[int, date, str, int]]) -> None:
    """Record (course, week, label, learner) facts; already-known facts are ignored."""
    rows = [
        {"course_id": c, "week_start": w, "label": label, "person_id": p}
        for c, w, label, p in facts
    ]
    stmt = dialect_insert(session, WeeklyActivity.__table__).on_conflict_do_nothing()
    session.execute(stmt, rows)


def rebuild_learners(session: Session, course_id: int, person_ids: Sequence[int]) -> None:
    """Rebuild the day, gap and video rollups of some learners of a course."""
    for chunk in _chunks(list(person_ids)):
        _rebuild_days(session, course_id, chunk)
        _rebuild_video(session, course_id, chunk)


def _rebuild_days(session: Session, course_id: int, people: Sequence[int]) -> None:
    ev = ActivityEvent.__table__.c
    for model in (LearnerDay, LearnerDayGap):
        session.execute(
            delete(model).where(model.course_id == course_id, model.person_id.in_(people))
        )
    where = (ev.course_id == course_id) & ev.person_id.in_(people) & ev.active.is_(True)
    days = (
        select(
            ev.course_id, ev.person_id, ev.day, func.count(), func.min(ev.time), func.max(ev.time)
        )
        .where(where)
        .group_by(ev.course_id, ev.person_id, ev.day)
    )
    session.execute(
        insert(LearnerDay).from_select(
            ["course_id", "person_id", "day", "events", "first_time", "last_time"], days
        )
    )
    previous = func.lag(ev.time).over(partition_by=(ev.course_id, ev.person_id), order_by=ev.time)
    timed = select(ev.course_id, ev.person_id, ev.day, (ev.time - previous).label("gap"))
    inner = timed.where(where).subquery()
    minute = case(
        (inner.c.gap >= MAX_GAP_MINUTE * 60, MAX_GAP_MINUTE),
        else_=floor_int(session, inner.c.gap / 60),
    )
    gaps = (
        select(
            inner.c.course_id,
            inner.c.person_id,
            inner.c.day,
            minute,
            func.count(),
            func.sum(inner.c.gap),
        )
        .where(inner.c.gap.is_not(None))
        .group_by(inner.c.course_id, inner.c.person_id, inner.c.day, minute)
    )
    session.execute(
        insert(LearnerDayGap).from_select(
            ["course_id", "person_id", "day", "minute", "gaps", "seconds"], gaps
        )
    )


def _rebuild_video(session: Session, course_id: int, people: Sequence[int]) -> None:
    session.execute(
        delete(VideoLearnerSegment).where(
            VideoLearnerSegment.course_id == course_id, VideoLearnerSegment.person_id.in_(people)
        )
    )
    ev = ActivityEvent.__table__.c
    rows = session.execute(
        select(
            ev.person_id,
            ev.object_id,
            ev.time,
            ev.video_kind,
            ev.video_time,
            ev.video_old_time,
            ev.video_new_time,
            ev.video_duration,
        )
        .where(
            ev.course_id == course_id,
            ev.person_id.in_(people),
            ev.object_id.is_not(None),
            ev.video_kind.is_not(None),
        )
        .order_by(ev.person_id, ev.object_id, ev.time, ev.id)
    ).all()
    if not rows:
        return
    per_pair: dict[tuple[int, str], list[VideoEvent]] = defaultdict(list)
    seen_duration: dict[str, float | None] = {}
    for person_id, video_id, time, kind, current, old, new, duration in rows:
        if duration and duration > (seen_duration.get(video_id) or 0.0):
            seen_duration[video_id] = duration
        else:
            seen_duration.setdefault(video_id, None)
        if kind in VIEWING_KINDS:
            per_pair[(person_id, video_id)].append(
                VideoEvent(time, kind, current, old_time=old, new_time=new, duration=duration)
            )
    durations = _update_videos(session, course_id, seen_duration)
    out = []
    for (person_id, video_id), events in per_pair.items():
        views = views_per_segment(viewings(events, durations.get(video_id)))
        out.extend(
            (course_id, video_id, person_id, segment, count) for segment, count in views.items()
        )
    if out:
        # Millions of rows: the driver's executemany, not the ORM's bulk insert (10x faster).
        session.connection().exec_driver_sql(_SEGMENT_INSERT[_paramstyle(session)], out)


def _update_videos(
    session: Session, course_id: int, seen: dict[str, float | None]
) -> dict[str, float]:
    """Record videos and the longest duration events gave; return the known durations."""
    known = {
        v.video_id: v for v in session.scalars(select(Video).where(Video.course_id == course_id))
    }
    for video_id, duration in seen.items():
        video = known.get(video_id)
        if video is None:
            video = Video(course_id=course_id, video_id=video_id, duration=duration)
            session.add(video)
            known[video_id] = video
        elif duration and (video.duration is None or duration > video.duration):
            video.duration = duration
    session.flush()
    return {vid: v.duration for vid, v in known.items() if v.duration}
