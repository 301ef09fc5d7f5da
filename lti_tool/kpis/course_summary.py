"""The course summary: the class figures the overview and the student page show, kept in
`course_summary`.

Written with the learner summary (lti_tool.kpis.learner_summary.refresh, from the same class
data) once per change of a course's data, and with the same fingerprint; read by the pages
instead of each worker rebuilding the class on its first request after new data. The figures
are exactly what the KPI functions compute for the whole class (figures_of); a section's
figures are still computed by the pages.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import bindparam, delete, insert, select

from lti_tool.activity.sql import run
from lti_tool.kpis import activity, at_risk
from lti_tool.kpis.activity import Week
from lti_tool.kpis.completion import Progress
from lti_tool.kpis.learner_summary import Marks, State, fingerprint
from lti_tool.kpis.learner_summary import current as current_learners
from lti_tool.kpis.learners import (
    ClassData,
    StudentView,
    class_band,
    class_data,
    own_figures,
    posted_scores,
    view_beside,
)
from lti_tool.models import Course, CourseSummary, LearnerSummary
from lti_tool.models.types import DbSession, utcnow


@dataclass(frozen=True)
class Figures:
    """A course's class figures as stored (see figures_of for what each holds)."""

    class_size: int
    sections: list[str]
    weekly_activity: list[dict[str, Any]]
    weekly_time: list[dict[str, Any]]
    active_7_days: int
    median_completion: int | None
    at_risk: dict[str, int]
    shares: list[float]
    required: list[int]
    posted_scores: list[float]


_FIELDS = set(Figures.__dataclass_fields__)


class Followed(NamedTuple):
    """A change of a few learners followed without the class data: the class's learners and
    how its figures are taken from the weekly counts."""

    people: set[int]
    figures: Callable[[Mapping[Week, int]], Figures]


class Known(NamedTuple):
    """What the caller knows of the class already (its spread: class_spread): how many of its
    learners were active in the 7 days and everyone's last known country
    (geography.learner_countries)."""

    active_7_days: int
    countries: Mapping[int, str]


def figures_of(
    session: DbSession,
    data: ClassData,
    weeks: Mapping[Week, int],
    risk_counts: dict[str, int] | None = None,
    active_7_days: int | None = None,
) -> Figures:
    """The whole class's figures from its class data and weekly counts (activity.week_counts),
    as the pages computed them per worker: weekly learners per label, weekly time quartiles at
    the course's cutoff, learners active in the last 7 days, median completion (%), at-risk
    counts per level (`risk_counts` when the caller counted them: the class data's levels
    may be some learners' only), the completion shares and items required of those with a
    share and the posted scores (sorted)."""
    course = data.course
    people = set(data.members)
    return figures_from(
        session,
        data.course,
        data.today,
        people,
        data.progress,
        sections={s for m in data.members.values() for s in m.sections},
        weekly_time=activity.class_weekly_time(course, data.members, people),
        scores=posted_scores(data),
        weeks=weeks,
        risk_counts=risk_counts if risk_counts is not None else at_risk.counts(data.risks, people),
        active_7_days=active_7_days,
    )


def figures_from(
    session: DbSession,
    course: Course,
    today: date,
    people: set[int],
    progress: Mapping[int, Progress],
    *,
    sections: set[str],
    weekly_time: list[dict[str, Any]],
    scores: list[float],
    weeks: Mapping[Week, int],
    risk_counts: dict[str, int],
    active_7_days: int | None = None,
) -> Figures:
    """figures_of's Figures from the class's parts: its learners (`people`), their progress
    (in the class's order), sections, weekly time rows, posted scores, weekly counts, at-risk
    counts and (when the caller has it) how many were active in the 7 days."""
    if active_7_days is None:
        since = today - timedelta(6)
        active_7_days = activity.learners_active_since(session, course, since, people)
    with_share = [p for p in progress.values() if p.share is not None]
    shares = [p.share for p in with_share if p.share is not None]
    return Figures(
        class_size=len(people),
        sections=sorted(sections),
        weekly_activity=activity.weekly_rows(course, weeks),
        weekly_time=weekly_time,
        active_7_days=active_7_days,
        median_completion=round(statistics.median(shares) * 100) if shares else None,
        at_risk=risk_counts,
        shares=shares,
        required=[p.required for p in with_share],
        # Sorted: the distribution and the quartiles do not depend on the class's order.
        posted_scores=sorted(scores),
    )


def refresh(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    now: datetime | None = None,
    data: ClassData | None = None,
    risk_counts: dict[str, int] | None = None,
    marks: Marks | None = None,
    followed: Followed | None = None,
    known: Known | None = None,
) -> Figures:
    """Write the course's figures again from its stored data (as of `now`; from `data` when
    the caller has the class data already, as the learner summary's refresh has, with the
    class's at-risk counts when its levels are some learners' only, and the marks it read as
    of `now`; `followed`: when the caller follows a change of a few learners without the
    class data; `known`: what it knows of the class besides). The caller commits."""
    moment = now or utcnow()
    mark, _settings, _today = fingerprint(session, course, key, moment, marks)
    # The single pages' class figures, in the same commit, and the sums' weekly counts
    # (imported here: page_summary reads this module).
    from lti_tool.kpis import page_summary

    countries = known.countries if known is not None else None
    if followed is not None:
        weeks = page_summary.refresh(
            session,
            course,
            followed.people,
            mark=mark,
            moment=moment,
            marks=marks,
            countries=countries,
        )
        found = followed.figures(weeks)
    else:
        data = data or class_data(session, course, key=key, now=moment)
        people = set(data.members)
        weeks = page_summary.refresh(
            session, course, people, mark=mark, moment=moment, marks=marks, countries=countries
        )
        active = known.active_7_days if known is not None else None
        found = figures_of(session, data, weeks, risk_counts, active)
    table = CourseSummary.__table__
    session.execute(delete(table).where(table.c.course_id == course.id))
    if not found.class_size:
        # As the learner summary: a course without learners keeps no row (a purged course has
        # none left), and its next reader computes its few empty figures again.
        return found
    session.execute(
        insert(table).values(
            course_id=course.id,
            fingerprint=mark,
            computed_at=moment,
            figures=orjson.dumps(found.__dict__).decode(),
        )
    )
    return found


def current(
    session: DbSession,
    course: Course,
    *,
    key: bytes,
    now: datetime | None = None,
    inline_up_to: int | None = None,
    state: State | None = None,
) -> Figures:
    """The course's figures, written again first when their data moved since (with the
    learner summary, which shares the fingerprint; `inline_up_to` as there: a large course's
    page shows the figures as last written while the scheduler writes them); `state` is the
    learner summary's, when the caller has just made it current. The caller commits."""
    moment = now or utcnow()
    if state is None:
        state = current_learners(session, course, key=key, now=moment, inline_up_to=inline_up_to)
    found = _stored(session, course)
    if state.behind_since is not None and found is not None:
        return _figures(found[1])
    mark = state.mark  # the learner summary's check took it at the same moment
    if found is None or found[0] != mark:
        # One writer at a time per course, as the learner summary's.
        session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
        found = _stored(session, course)
        if found is None or found[0] != mark:
            return refresh(session, course, key=key, now=moment)
    return _figures(found[1])


def stored(session: DbSession, course: Course) -> Figures | None:
    """The course's figures as stored, current or not (None when it has none)."""
    found = _stored(session, course)
    return None if found is None else _figures(found[1])


def _figures(text: str) -> Figures:
    """Figures from their stored JSON."""
    return Figures(**orjson.loads(text))


_STORED = select(CourseSummary.fingerprint, CourseSummary.figures).where(
    CourseSummary.course_id == bindparam("course")
)


def _stored(session: DbSession, course: Course) -> tuple[str, str] | None:
    """The stored fingerprint and figures' JSON of a course."""
    row = run(session, _STORED, course=course.id).first()
    if row is None or set(orjson.loads(row[1])) != _FIELDS:
        # Written by a version with other figures: as good as none (the reader writes them).
        return None
    return (row[0], row[1])


def student_view(
    session: DbSession, course: Course, figures: Figures, person_id: int, floor: int
) -> StudentView:
    """A learner's completion and score beside the class's quartiles from the stored figures
    (their own read for them alone)."""
    return view_beside(
        shares=figures.shares,
        scores=figures.posted_scores,
        mine=own_figures(session, course, person_id),
        floor=floor,
    )


def typical_view(figures: Figures, floor: int) -> StudentView:
    """The typical learner's completion and score: the class's medians beside its quartiles
    (the class is at least the floor here: the typical page is not shown below it)."""
    shares, scores = figures.shares, figures.posted_scores
    my_progress = None
    if shares:
        required = round(statistics.median(figures.required))
        my_progress = Progress(round(statistics.median(shares) * required), required)
    return StudentView(
        my_progress=my_progress,
        class_completion=class_band(shares, floor),
        completion_group=len(shares),
        my_score=round(statistics.median(scores), 1) if scores else None,
        class_scores=class_band(scores, floor),
        score_group=len(scores),
    )


def members(session: DbSession, course: Course) -> list[tuple[int, str]]:
    """The class's learners (person id and name) by name, as the learner summary holds them
    (read current() first)."""
    found = session.execute(
        select(LearnerSummary.person_id, LearnerSummary.name)
        .where(LearnerSummary.course_id == course.id)
        .order_by(LearnerSummary.name_key, LearnerSummary.person_id)
    )
    return [(person_id, name) for person_id, name in found]


def member_name(session: DbSession, course: Course, person_id: int) -> str | None:
    """A learner's name when they are of the class (read current() first), else None."""
    return session.scalar(
        select(LearnerSummary.name).where(
            LearnerSummary.course_id == course.id, LearnerSummary.person_id == person_id
        )
    )
