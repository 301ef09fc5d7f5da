"""Per-video summary, timeline and per-learner coverage, read from the packed video views."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import select

from lti_tool.activity.sql import driver_rows, select_in
from lti_tool.kpis import video_sums
from lti_tool.kpis.labels import course_label, learner_labels
from lti_tool.kpis.video import (
    final_segment,
    reported_segments,
    runs_coverage,
    runs_totals,
    summarize,
)
from lti_tool.models import Course, Video, VideoLearnerViews
from lti_tool.models.types import DbSession

Segments = dict[int, int]
#: Up to this many people, their viewings are looked up by key rather than filtered from all.
FEW_PEOPLE = 500


def _learner_runs(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    videos: set[str] | None = None,
) -> list[tuple[int, str, list[int]]]:
    """Every (learner, video, segment runs) of the course (of some people, some videos, when
    given)."""
    return [
        (person_id, video_id, orjson.loads(runs))
        for person_id, video_id, runs in _packed_runs(session, course, people, videos)
        if people is None or person_id in people
    ]


def _packed_runs(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    videos: set[str] | None = None,
    *,
    by_video: bool = True,
) -> list[tuple[int, str, Any]]:
    """_learner_runs' rows (by video, unless `by_video` is false: in no order), the runs as the
    driver gives them (text, bytes or a memoryview), and perhaps of others than `people` (a
    few are read by key)."""
    query = select(
        VideoLearnerViews.person_id, VideoLearnerViews.video_id, VideoLearnerViews.runs
    ).where(VideoLearnerViews.course_id == course.id)
    if by_video:
        query = query.order_by(VideoLearnerViews.video_id)
    if videos is not None:
        query = query.where(VideoLearnerViews.video_id.in_(sorted(videos)))
    if people is not None and len(people) <= FEW_PEOPLE:
        # A learner's own page: their rows by the primary key, not the whole class's.
        query = query.where(VideoLearnerViews.person_id.in_(sorted(people)))
    return driver_rows(session, query)


def _segment_totals(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    videos: set[str] | None = None,
) -> dict[str, tuple[Segments, Segments]]:
    """Per video: (views per segment, users per segment)."""
    per_video: dict[str, list[list[int]]] = defaultdict(list)
    for _person_id, video_id, runs in _learner_runs(session, course, people, videos):
        per_video[video_id].append(runs)
    return {video_id: runs_totals(runs) for video_id, runs in per_video.items()}


def stored_durations(session: DbSession, course: Course) -> dict[str, float | None]:
    """The videos' durations as stored (from events or the LMS), None where unknown."""
    return dict(
        session.execute(select(Video.video_id, Video.duration).where(Video.course_id == course.id))
        .tuples()
        .all()
    )


def video_summary(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per video: duration, users at start and end, total viewed seconds (Insights); over some
    people only when `people` is given."""
    return _summary_rows(
        course, _segment_totals(session, course, people), stored_durations(session, course)
    )


def _summary_rows(
    course: Course,
    totals: dict[str, tuple[Segments, Segments]],
    durations: dict[str, float | None],
) -> list[dict[str, Any]]:
    """video_summary's rows from the viewings' totals per video and the stored durations."""
    label = course_label(course)
    rows = []
    for video_id in sorted(set(totals) | set(durations)):
        views, users = totals.get(video_id, ({}, {}))
        summary = summarize(views, users, durations.get(video_id))
        rows.append(
            {
                "course": label,
                "video_id": video_id,
                "duration": summary.duration,
                "segment_length": summary.segment_length,
                "users_at_start": summary.users_at_start,
                "users_at_end": summary.users_at_end,
                "total_viewed_seconds": summary.total_viewed_seconds,
            }
        )
    return rows


def video_timeline(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per video and 5-second segment: distinct viewers and views, up to Insights' final segment."""
    return _timeline_rows(
        course, _segment_totals(session, course, people), stored_durations(session, course)
    )


def _timeline_rows(
    course: Course,
    totals: dict[str, tuple[Segments, Segments]],
    durations: dict[str, float | None],
) -> list[dict[str, Any]]:
    """video_timeline's rows from the viewings' totals per video and the stored durations."""
    label = course_label(course)
    rows = []
    for video_id, (views, users) in sorted(totals.items()):
        final = final_segment(users, durations.get(video_id))
        for segment in reported_segments(views, final):
            rows.append(
                {
                    "course": label,
                    "video_id": video_id,
                    "segment": segment,
                    "num_users": users[segment],
                    "num_views": views[segment],
                }
            )
    return rows


def course_runs(session: DbSession, course: Course) -> list[tuple[int, str, Any]]:
    """Every (learner, video, segment runs) of the course, staff's too, by video; the runs as
    the driver gives them (not decoded: video_sums.of_viewings decodes each distinct once)."""
    rows = _packed_runs(session, course, by_video=False)
    # By video here, not by the database: its sort carries every row's runs (a million rows
    # at 100,000 learners: 0.90 s against 0.64 s unsorted and 0.13 s for this sort).
    rows.sort(key=itemgetter(1))
    return rows


def class_videos(
    session: DbSession,
    course: Course,
    people: set[int],
    durations: Mapping[str, float | None] | None = None,
    runs: list[tuple[int, str, Any]] | None = None,
) -> dict[str, Any]:
    """What the videos page and the typical learner show of some learners (the class), from one
    read of their viewings: video_figures of their VideoSums, and `sums` (without active
    days). `durations`, when given, are settled_durations'; `runs`, course_runs's when the
    caller read them."""
    if runs is None:
        runs = _packed_runs(session, course, people)
    viewings = ((video_id, mine) for person, video_id, mine in runs if person in people)
    settled = durations if durations is not None else settled_durations(session, course)
    sums = video_sums.of_viewings(viewings, settled)
    return {**video_figures(course, sums, stored_durations(session, course)), "sums": sums}


def video_figures(
    course: Course, sums: video_sums.VideoSums, durations: dict[str, float | None]
) -> dict[str, Any]:
    """The videos page's figures from the viewings' sums and the stored durations: `summary`
    (video_summary's rows), `timeline` (video_timeline's), `viewers` and `completions` per
    video (learner_video's rows counted, and those completed)."""
    totals = video_sums.totals(sums)
    return {
        "summary": _summary_rows(course, totals, durations),
        "timeline": _timeline_rows(course, totals, durations),
        "viewers": dict(sorted(sums.viewers.items())),
        "completions": {video_id: sums.completions[video_id] for video_id in sorted(sums.viewers)},
    }


def settled_durations(
    session: DbSession, course: Course, may_be_viewed: Set[str] | None = None
) -> dict[str, float | None]:
    """Each video's duration as video_summary settles it (events, the LMS, else inferred).

    Only the videos without a known duration need the class's viewings (to infer it from
    where viewers stop); usually every video has one, and nothing is read. `may_be_viewed`:
    videos that include every video anyone viewed, when the caller knows such (the viewed
    ones are then read, a scan of every viewing, only when one of them has no known duration).
    """
    known = stored_durations(session, course)
    skip = may_be_viewed is not None and may_be_viewed <= known.keys()
    viewed = [] if skip else viewed_videos(session, course)
    settled = {video_id: summarize({}, {}, known.get(video_id)).duration for video_id in known}
    settled.update((video_id, None) for video_id in viewed if video_id not in known)
    unknown = {video_id for video_id, duration in settled.items() if duration is None}
    if unknown:
        totals = _segment_totals(session, course, videos=unknown)
        for video_id in unknown:
            views, users = totals.get(video_id, ({}, {}))
            settled[video_id] = summarize(views, users, None).duration
    return dict(sorted(settled.items()))


def viewed_videos(session: DbSession, course: Course) -> Sequence[str]:
    """The videos anyone viewed in the course (a scan of every viewing)."""
    return session.scalars(
        select(VideoLearnerViews.video_id)
        .where(VideoLearnerViews.course_id == course.id)
        .distinct()
    ).all()


#: The videos some people viewed in a course (select_in's SQL).
_VIDEOS_OF = (
    "SELECT DISTINCT video_id FROM video_learner_views WHERE course_id = {p} AND person_id {in}"
)


def videos_of(session: DbSession, course: Course, people: list[int]) -> set[str]:
    """The videos some people viewed in the course."""
    return {video for (video,) in select_in(session, _VIDEOS_OF, [course.id], people)}


def video_viewers(
    session: DbSession, course: Course, video_id: str, people: set[int]
) -> dict[int, bool]:
    """Of some learners, those who viewed one video: person id -> whether they reached its end
    (as learner_video's `completed` says)."""
    duration = settled_durations(session, course).get(video_id)
    return {
        person_id: runs_coverage(runs, duration)[1] if duration else False
        for person_id, _video, runs in _learner_runs(session, course, people, {video_id})
    }


def learner_video(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    known_durations: dict[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """Per learner and video: share of its segments seen, and whether they reached the end.

    `known_durations` (from `durations`) spares reading the whole class's viewings again.
    """
    durations = (
        known_durations if known_durations is not None else settled_durations(session, course)
    )
    seen = _learner_runs(session, course, people)
    names = learner_labels(session, {person for person, _video, _runs in seen})
    label = course_label(course)
    rows = []
    for person_id, video_id, runs in seen:
        duration = durations.get(video_id)
        if duration:
            coverage, completed = runs_coverage(runs, duration)
        else:
            coverage, completed = None, False
        rows.append(
            {
                "course": label,
                "learner": names[person_id],
                "video_id": video_id,
                "coverage": round(coverage, 4) if coverage is not None else None,
                "completed": completed,
            }
        )
    rows.sort(key=lambda row: (row["learner"], row["video_id"]))
    return rows
