"""Engagement segments per learner and ISO week, as Open edX Insights defines them (design §7).

Over the learners active in a week, each metric has a low (< p15), normal and high (≥ p85)
range. A learner active in the week is `struggling` when their attempts per problem are high,
else `highly_engaged` when any other metric is high (time spent, active days, events, distinct
problems attempted), else `normal`. A learner not active in the week is `disengaging` when
they were active the week before, else `inactive` (no activity for two weeks). A metric on which
the week's learners do not differ (p15 = p85) marks nobody high. Problem correctness is not
stored, so "attempts per completed problem" is read as attempts per distinct problem attempted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from lti_tool.activity.blocks import LABEL, OBJECT_ID, decode
from lti_tool.activity.rollups import week_start
from lti_tool.i18n.text import lazy_gettext
from lti_tool.kpis.roster import Member, percentile
from lti_tool.models import ActivityBlock, Course, WeeklyActivity
from lti_tool.models.types import DbSession

# The segments as people read them, in the language of where they are shown (the codes stay
# as they are in CSV, the API and the CLI).
SEGMENT_NAMES = {
    "highly_engaged": lazy_gettext("Highly engaged"),
    "struggling": lazy_gettext("Struggling"),
    "normal": lazy_gettext("Normal"),
    "disengaging": lazy_gettext("Disengaging"),
    "inactive": lazy_gettext("Inactive"),
}
LOW, HIGH = 0.15, 0.85
ATTEMPTED = "ATTEMPTED_PROBLEM"


def problem_attempts(
    session: DbSession, course: Course, weeks: list[date], people: Set[int] | None = None
) -> dict[tuple[int, date], tuple[int, int]]:
    """(person, week) -> (problem attempts, distinct problems attempted), for some weeks (of
    some people, when given)."""
    who: dict[date, list[int]] = defaultdict(list)
    # The weeks asked, by the table's key (course, week, label, person): not every week's.
    for person_id, week in session.connection().execute(
        select(WeeklyActivity.person_id, WeeklyActivity.week_start).where(
            WeeklyActivity.course_id == course.id,
            WeeklyActivity.week_start.in_(sorted(set(weeks))),
            WeeklyActivity.label == ATTEMPTED,
        )
    ):
        if people is None or person_id in people:
            who[week].append(person_id)
    found: dict[tuple[int, date], list[Any]] = {}
    for week, attempters in who.items():
        for start in range(0, len(attempters), 500):
            rows = session.connection().execute(
                select(ActivityBlock.person_id, ActivityBlock.data).where(
                    ActivityBlock.course_id == course.id,
                    ActivityBlock.person_id.in_(attempters[start : start + 500]),
                    ActivityBlock.day.between(week, week + timedelta(days=6)),
                )
            )
            for person_id, data in rows:
                columns = decode(data)
                entry = found.setdefault((person_id, week), [0, set()])
                for label, object_id in zip(columns[LABEL], columns[OBJECT_ID], strict=True):
                    if label == ATTEMPTED:
                        entry[0] += 1
                        entry[1].add(object_id)
    return {key: (count, len(problems)) for key, (count, problems) in found.items()}


def cut_of(numbers: list[float]) -> float | None:
    """Where a metric's high range (≥ p85) starts, when the metric separates anyone (of its
    values over the week's active learners)."""
    if not numbers:
        return None
    low, high = percentile(numbers, LOW), percentile(numbers, HIGH)
    return high if high > low else None


def _high(values: dict[int, float], cut: float | None) -> set[int]:
    """Who is in a metric's high range (`cut`: cut_of's)."""
    if cut is None:
        return set()
    return {person for person, value in values.items() if value >= cut}


def _metrics(
    members: dict[int, Member], week: date, attempts: dict[tuple[int, date], tuple[int, int]]
) -> tuple[dict[int, list[float]], list[dict[int, float]]]:
    """The learners active in a week (their week's figures), and the week's metrics over them:
    attempts per problem first, then the engagement ones."""
    active = {p: m.weeks[week] for p, m in members.items() if week in m.weeks}
    per_problem = {
        p: attempts[(p, week)][0] / attempts[(p, week)][1]
        for p in active
        if (p, week) in attempts and attempts[(p, week)][1]
    }
    return active, [
        per_problem,
        {p: w[0] for p, w in active.items()},  # seconds
        {p: w[1] for p, w in active.items()},  # active days
        {p: w[2] for p, w in active.items()},  # events
        {p: attempts.get((p, week), (0, 0))[1] for p in active},  # distinct problems
    ]


def week_segments(
    members: dict[int, Member], week: date, attempts: dict[tuple[int, date], tuple[int, int]]
) -> dict[int, str]:
    """Each learner's segment in one week (members carry their weekly activity)."""
    return segments_and_cuts(members, week, attempts)[0]


def segments_and_cuts(
    members: dict[int, Member], week: date, attempts: dict[tuple[int, date], tuple[int, int]]
) -> tuple[dict[int, str], list[float | None]]:
    """week_segments, with where each metric's high range starts that week (None: nobody is
    high on it): what a learner's segment is measured against besides their own week."""
    _active, metrics = _metrics(members, week, attempts)
    cuts = [cut_of(list(metric.values())) for metric in metrics]
    return segments_with(members, week, attempts, cuts), cuts


def segments_with(
    members: dict[int, Member],
    week: date,
    attempts: dict[tuple[int, date], tuple[int, int]],
    cuts: list[float | None],
) -> dict[int, str]:
    """Each learner's segment in one week, measured against the week's cuts (segments_and_cuts'
    of the whole class: `members` may be some of it)."""
    previous = week - timedelta(days=7)
    active, metrics = _metrics(members, week, attempts)
    struggling = _high(metrics[0], cuts[0])
    engaged = set().union(
        *(_high(metric, cut) for metric, cut in zip(metrics[1:], cuts[1:], strict=True))
    )
    result = {}
    for person_id, member in members.items():
        if person_id in active:
            if person_id in struggling:
                result[person_id] = "struggling"
            elif person_id in engaged:
                result[person_id] = "highly_engaged"
            else:
                result[person_id] = "normal"
        elif previous in member.weeks:
            result[person_id] = "disengaging"
        else:
            result[person_id] = "inactive"
    return result


def course_weeks(members: dict[int, Member], today: date) -> list[date]:
    """ISO weeks from the class's first active week to the week of today."""
    first = min((w for m in members.values() for w in m.weeks), default=None)
    last = week_start(today)
    if first is None:
        return [last]
    weeks = []
    week = min(first, last)
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


def engagement_rows(
    session: DbSession, course: Course, members: dict[int, Member], label: str, today: date
) -> list[dict[str, Any]]:
    """Rows `course, week_start, learner, segment` for every learner and week."""
    weeks = course_weeks(members, today)
    attempts = problem_attempts(session, course, weeks)
    rows = []
    for week in weeks:
        segments = week_segments(members, week, attempts)
        for person_id, segment in segments.items():
            rows.append(
                {
                    "course": label,
                    "week_start": week.isoformat(),
                    "learner": members[person_id].learner,
                    "segment": segment,
                }
            )
    rows.sort(key=lambda r: (r["week_start"], r["learner"]))
    return rows
