"""The learners table: one row per learner of the class with everything staff sort and filter on.

Also the `engagement` and `at-risk` reports, which are computed from the same class data, and
what a learner's own page shows beside the class (view_beside). Staff rows carry the score staff see
(`current_score`: unposted grades counted where the LMS gave them) and the posted one
(`posted_current_score`); the student view uses posted scores only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select

from lti_tool.activity.blocks import NAME, OBJECT_ID, SOURCE, TIME, VIDEO_KIND, decode
from lti_tool.activity.rollups import week_start
from lti_tool.kpis import course_settings
from lti_tool.kpis.activity import under_cutoff
from lti_tool.kpis.at_risk import (
    NOT_AT_RISK,
    Risk,
    Thresholds,
    Work,
    assess,
    past_due_work,
    thresholds,
)
from lti_tool.kpis.completion import Progress, learner_progress
from lti_tool.kpis.engagement import engagement_rows, problem_attempts, segments_and_cuts
from lti_tool.kpis.grades import staff_current_score
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.roster import STATS_COLUMNS, Member, Totals, load_members, percentile
from lti_tool.models import (
    ActivityBlock,
    Course,
    LearnerDay,
    LmsLearnerStats,
)
from lti_tool.models.types import DbSession, utcnow

FIELDS = (
    "course",
    "person",
    "learner",
    "name",
    "email",
    "sections",
    "last_active",
    "time_7d",
    "time_total",
    "lms_activity_seconds",
    "sessions",
    "videos_watched",
    "completion",
    "current_score",
    "posted_current_score",
    "segment",
    "at_risk",
    "risk_level",
    "at_risk_reasons",
)


@dataclass
class ClassData:
    """A course's learners with their figures, as of one day in the course time zone."""

    course: Course
    settings: course_settings.Settings
    today: date
    members: dict[int, Member]
    progress: dict[int, Progress]
    risks: dict[int, Risk]
    segments: dict[int, str]
    #: What each learner's level and segment are measured against besides their own figures:
    #: the class's thresholds and the segment week's high-range cuts (segments_and_cuts).
    limits: Thresholds | None = None
    cuts: tuple[float | None, ...] = ()
    #: Each learner's past-due work missing or handed in late (at_risk.past_due_work).
    work: dict[int, Work] = field(default_factory=dict)
    #: The segment week's problem attempts (engagement.problem_attempts).
    attempts: dict[tuple[int, date], tuple[int, int]] = field(default_factory=dict)

    @property
    def segment_week(self) -> date:
        """The week the table's segment describes: the last complete ISO week."""
        return week_start(self.today) - timedelta(days=7)


def class_data(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    now: datetime | None = None,
    settings: course_settings.Settings | None = None,
    kept: Mapping[int, Totals] | None = None,
    assessed: bool = True,
    unnamed: Set[int] = frozenset(),
) -> ClassData:
    """Load the class's learners and compute their completion, segment and at-risk level; with
    `settings`, as those settings would have it (the settings page's preview), else as saved.
    `kept`: activity totals still true of some learners' days (load_members). `assessed`:
    False leaves the levels to the caller (assess_class; `risks` empty). `unnamed`: learners
    whose names are not read (load_members)."""
    settings = settings or course_settings.load(session, course)
    moment = now or utcnow()
    today = settings.today(moment)
    cutoff = settings.time_cutoff_minutes
    members = load_members(
        session, course, key=key, cutoff_minutes=cutoff, today=today, kept=kept, unnamed=unnamed
    )
    progress = learner_progress(session, course, members)
    week = week_start(today) - timedelta(days=7)
    attempts = problem_attempts(session, course, [week])
    segments, cuts = segments_and_cuts(members, week, attempts)
    work = past_due_work(session, course, set(members), moment)
    limits = thresholds(members, progress, settings)
    data = ClassData(
        course, settings, today, members, progress, {}, segments, limits, tuple(cuts), work
    )
    data.attempts = attempts
    if assessed:
        data.risks = assess_class(data)
    return data


def assess_class(data: ClassData, people: Iterable[int] | None = None) -> dict[int, Risk]:
    """The at-risk levels of the class's learners, or of some of them, each measured against
    the whole class (at_risk.assess)."""
    members = data.members if people is None else {p: data.members[p] for p in people}
    return assess(
        members,
        data.progress,
        data.settings,
        data.today,
        work=data.work,
        segments=data.segments,
        segment_week=data.segment_week,
        limits=data.limits,
    )


def row_of(data: ClassData, member: Member, label: str) -> dict[str, Any]:
    """One learner's row of the learners table."""
    progress = data.progress.get(member.person_id)
    share = progress.share if progress else None
    lms = member.lms
    risk = data.risks.get(member.person_id, NOT_AT_RISK)
    return {
        "course": label,
        "person": member.person_id,
        "learner": member.learner,
        "name": member.name,
        "email": member.email,
        "sections": list(member.sections),
        "last_active": member.last_active.isoformat() if member.last_active else None,
        "time_7d": round(member.time_7d),
        "time_total": round(member.time_total),
        "lms_activity_seconds": lms.total_activity_seconds if lms else None,
        "sessions": member.sessions,
        "videos_watched": member.videos_watched,
        "completion": round(share, 4) if share is not None else None,
        "current_score": staff_current_score(lms),
        "posted_current_score": lms.current_score if lms else None,
        "segment": data.segments.get(member.person_id),
        "at_risk": risk.level is not None,
        "risk_level": risk.level or "",
        "at_risk_reasons": list(risk.reasons),
    }


def learner_rows(data: ClassData) -> list[dict[str, Any]]:
    """Every learner's row, ordered by name."""
    label = course_label(data.course)
    rows = [row_of(data, m, label) for m in data.members.values()]
    rows.sort(key=lambda r: (r["name"].casefold(), r["person"]))
    return rows


def learners(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The `learners` report: one row per learner with the learners table's columns."""
    return learner_rows(class_data(session, course, key=key, now=now))


def engagement(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The `engagement` report: `course, week_start, learner, segment` per learner and week."""
    settings = course_settings.load(session, course)
    today = settings.today(now or utcnow())
    members = load_members(
        session, course, key=key, cutoff_minutes=settings.time_cutoff_minutes, today=today
    )
    return engagement_rows(session, course, members, course_label(course), today)


def at_risk_report(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The `at-risk` report: `course, learner, risk_level, reasons` for each learner at risk
    (high or watch)."""
    data = class_data(session, course, key=key, now=now)
    label = course_label(data.course)
    rows: list[dict[str, Any]] = [
        {
            "course": label,
            "learner": m.learner,
            "risk_level": risk.level,
            "reasons": list(risk.reasons),
        }
        for p, m in data.members.items()
        if (risk := data.risks.get(p, NOT_AT_RISK)).level is not None
    ]
    rows.sort(key=lambda r: r["learner"])
    return rows


def learner_days(
    session: DbSession, course: Course, person_id: int, cutoff_minutes: int
) -> list[dict[str, Any]]:
    """One learner's active days: events, seconds spent (at the cutoff) and sessions."""
    return learner_time(session, course, person_id, cutoff_minutes)[0]


def learner_time(
    session: DbSession, course: Course, person_id: int, cutoff_minutes: int
) -> tuple[list[dict[str, Any]], dict[date, dict[str, float]]]:
    """One learner's active days (as learner_days) and, per ISO week, their seconds spent and
    active days: one read of their days for both (their own page shows both)."""
    rows = session.execute(
        select(LearnerDay.day, LearnerDay.events, LearnerDay.gaps)
        .where(LearnerDay.course_id == course.id, LearnerDay.person_id == person_id)
        .order_by(LearnerDay.day)
    )
    days = []
    weeks: dict[date, dict[str, float]] = {}
    for day, events, gaps in rows:
        seconds, under = under_cutoff(orjson.loads(gaps), cutoff_minutes)
        days.append(
            {"day": day, "events": events, "seconds": round(seconds), "sessions": events - under}
        )
        week = weeks.setdefault(week_start(day), {"seconds": 0.0, "days": 0})
        week["days"] += 1
        week["seconds"] += seconds
    return days, weeks


def recent_events(
    session: DbSession, course: Course, person_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    """One learner's latest events, newest first (from their latest day blocks)."""
    found: list[dict[str, Any]] = []
    for data in _latest_blocks(session, course, person_id):
        columns = decode(data)
        day_events = [
            {
                "at": datetime.fromtimestamp(time, UTC),
                "name": name,
                "source": source,
                "object": object_id,
                # What the object is, as the rollups count resources (kpis.names names it).
                "kind": "video" if video else "problem" if name == "problem_check" else "activity",
            }
            for time, name, source, object_id, video in zip(
                columns[TIME],
                columns[NAME],
                columns[SOURCE],
                columns[OBJECT_ID],
                columns[VIDEO_KIND],
                strict=True,
            )
        ]
        found.extend(reversed(day_events))
        if len(found) >= limit:
            break
    return found[:limit]


def _latest_blocks(session: DbSession, course: Course, person_id: int) -> Iterator[bytes]:
    """A learner's day blocks, latest first, read a few days at a time as they are asked for
    (the driver fetches all a query finds: a year's blocks were read for the days a page shows)."""
    query = (
        select(ActivityBlock.data)
        .where(ActivityBlock.course_id == course.id, ActivityBlock.person_id == person_id)
        .order_by(ActivityBlock.day.desc())
    )
    offset, days = 0, 4
    while True:
        rows = session.execute(query.offset(offset).limit(days)).all()
        yield from (data for (data,) in rows)
        if len(rows) < days:
            return
        offset, days = offset + days, days * 4


@dataclass(frozen=True)
class StudentView:
    """What a learner's own page shows beside the class: never another learner's name."""

    my_progress: Progress | None
    class_completion: tuple[float, float, float] | None  # quartiles of shares, above the floor
    completion_group: int
    my_score: float | None  # posted: what the LMS shows the learner
    class_scores: tuple[float, float, float] | None  # quartiles of posted scores, above floor
    score_group: int


def posted_scores(data: ClassData) -> list[float]:
    """The class's posted current scores (never unposted_*: a grade staff have not posted yet
    must not reach a student, neither their own nor through the class's quartiles)."""
    return [
        m.lms.current_score
        for m in data.members.values()
        if m.lms is not None and m.lms.current_score is not None
    ]


def class_band(values: list[float], floor: int) -> tuple[float, float, float] | None:
    """Lower quartile, median and upper quartile, or None below the privacy floor."""
    if len(values) < floor:
        return None
    return (percentile(values, 0.25), percentile(values, 0.5), percentile(values, 0.75))


def own_figures(
    session: DbSession, course: Course, person_id: int
) -> tuple[float | None, Progress | None]:
    """A learner's posted score and completion, read for them alone (without the class)."""
    stats = session.execute(
        select(*STATS_COLUMNS).where(
            LmsLearnerStats.course_id == course.id, LmsLearnerStats.person_id == person_id
        )
    ).first()
    me = Member(person_id, "", "", None, True, lms=stats)
    progress = learner_progress(session, course, {person_id: me}).get(person_id)
    return (stats.current_score if stats is not None else None), progress


def view_beside(
    *,
    shares: list[float],
    scores: list[float],
    mine: tuple[float | None, Progress | None],
    floor: int,
) -> StudentView:
    """A learner's score and progress (`mine`) beside the quartiles of the class's completion
    shares and posted scores (hidden below the floor)."""
    return StudentView(
        my_progress=mine[1],
        class_completion=class_band(shares, floor),
        completion_group=len(shares),
        my_score=mine[0],
        class_scores=class_band(scores, floor),
        score_group=len(scores),
    )
