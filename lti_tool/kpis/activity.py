"""Weekly activity (Insights-compatible) and time spent, read from the rollups."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any

import orjson
from sqlalchemy import func, select

from lti_tool.activity.sql import driver_rows, select_in
from lti_tool.kpis.labels import course_label, learner_labels
from lti_tool.models import Course, LearnerDay, WeeklyActivity
from lti_tool.models.types import DbSession

DEFAULT_CUTOFF_MINUTES = 30
CONSERVATIVE_CUTOFF_MINUTES = 5
#: A week of weekly_activity's counts: its Monday as ISO text, the label.
Week = tuple[str, str]


def weekly_activity(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Distinct learners per ISO week and label (ACTIVE, ATTEMPTED_PROBLEM, PLAYED_VIDEO, …);
    over some people only when `people` is given (the pages' class or section)."""
    if people is None:
        label = course_label(course)
        rows = session.execute(
            select(WeeklyActivity.week_start, WeeklyActivity.label, func.count())
            .where(WeeklyActivity.course_id == course.id)
            .group_by(WeeklyActivity.week_start, WeeklyActivity.label)
            .order_by(WeeklyActivity.week_start, WeeklyActivity.label)
        )
        return [
            {"course": label, "week_start": week.isoformat(), "label": name, "count": count}
            for week, name, count in rows
        ]
    return weekly_rows(course, week_counts(session, course, people))


def week_counts(session: DbSession, course: Course, people: AbstractSet[int]) -> Counter[Week]:
    """Per (ISO week's Monday as ISO text, label): how many of `people` it had."""
    # Every learner's weeks (800,000 rows at 100,000 learners) as the driver gives them: a week
    # is a date, or SQLite's ISO text (str gives both as ISO text).
    counts: Counter[Week] = Counter()
    for week, name, person_id in driver_rows(
        session,
        select(WeeklyActivity.week_start, WeeklyActivity.label, WeeklyActivity.person_id).where(
            WeeklyActivity.course_id == course.id
        ),
    ):
        if person_id in people:
            counts[(str(week), name)] += 1
    return counts


def weekly_rows(course: Course, counts: Mapping[Week, int]) -> list[dict[str, Any]]:
    """weekly_activity's rows of some learners from their week_counts."""
    label = course_label(course)
    return [
        {"course": label, "week_start": week, "label": name, "count": count}
        for (week, name), count in sorted(counts.items())
    ]


def time_spent(
    session: DbSession,
    course: Course,
    cutoff_minutes: int = DEFAULT_CUTOFF_MINUTES,
    people: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Per learner and day: seconds spent (gaps under the cutoff), sessions and events (of some
    people only, when `people` is given)."""
    if cutoff_minutes < 1:
        raise ValueError("the time-spent cutoff is a whole number of minutes, at least 1")
    # Core on the connection, not the ORM session: plain rows, a third of the time for the
    # tens of thousands of learner-days of a large course.
    days = (
        session.connection()
        .execute(
            select(LearnerDay.person_id, LearnerDay.day, LearnerDay.events, LearnerDay.gaps).where(
                LearnerDay.course_id == course.id
            )
        )
        .all()
    )
    if people is not None:
        days = [row for row in days if row.person_id in people]
    names = learner_labels(session, {row.person_id for row in days})
    label = course_label(course)
    result = []
    for person_id, day, events, gaps in days:
        seconds, under = under_cutoff(orjson.loads(gaps), cutoff_minutes)
        result.append(
            {
                "course": label,
                "learner": names[person_id],
                "day": day.isoformat(),
                "seconds": round(seconds, 3),
                "sessions": events - under,
                "events": events,
            }
        )
    result.sort(key=lambda row: (row["learner"], row["day"]))
    return result


def under_cutoff(histogram: list[float], cutoff_minutes: int) -> tuple[float, int]:
    """Seconds and count of the gaps shorter than the cutoff, from a learner-day's packed gap
    histogram (LearnerDay.gaps)."""
    seconds = 0.0
    count: float = 0  # the histogram holds floats
    for index in range(0, len(histogram), 3):
        if histogram[index] >= cutoff_minutes:
            break  # minutes are in order
        count += histogram[index + 1]
        seconds += histogram[index + 2]
    return seconds, int(count)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3) with linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quartiles of no values")

    def at(fraction: float) -> float:
        position = fraction * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def class_weekly_time(
    course: Course, members: Mapping[int, Any], people: AbstractSet[int]
) -> list[dict[str, Any]]:
    """Per ISO week: learners active, and the quartiles of their time spent that week, of some
    of the class.

    From the weekly totals the members were loaded with (kpis.roster.load_members, at the
    course's cutoff, each day rounded as the time-spent report rounds it), so the quartiles are
    those of the report's days summed per learner and week, without a second pass over the
    learner-days.
    """
    weeks: dict[date, list[float]] = defaultdict(list)
    for person_id, member in members.items():
        if person_id in people:
            for week, totals in member.weeks.items():
                weeks[week].append(totals[3])
    return weekly_time_rows(course, weeks)


def weekly_time_rows(course: Course, weeks: Mapping[date, list[float]]) -> list[dict[str, Any]]:
    """class_weekly_time's rows from each week's learners' times (by Monday; none empty)."""
    label = course_label(course)
    result = []
    for monday in sorted(weeks):
        week = monday.isoformat()
        q1, median, q3 = quartiles(weeks[monday])
        result.append(
            {
                "course": label,
                "week_start": week,
                "learners": len(weeks[monday]),
                "q1_seconds": round(q1, 1),
                "median_seconds": round(median, 1),
                "q3_seconds": round(q3, 1),
            }
        )
    return result


def active_since(
    session: DbSession, course: Course, since: date, people: Sequence[int] | None = None
) -> set[int]:
    """The people with activity on or after a day (of some people, when given: their days
    alone are read)."""
    if people is not None:
        found = select_in(session, _ACTIVE_OF, [course.id, since.isoformat()], people)
        return {person for (person,) in found}
    return set(
        session.scalars(
            select(LearnerDay.person_id)
            .where(LearnerDay.course_id == course.id, LearnerDay.day >= since)
            .distinct()
        )
    )


#: Which of some people have a day on or after one (select_in's SQL).
_ACTIVE_OF = (
    "SELECT DISTINCT person_id FROM learner_day WHERE course_id = {p} AND day >= {p}"
    " AND person_id {in}"
)


def learners_active_since(
    session: DbSession, course: Course, since: date, people: set[int] | None = None
) -> int:
    """Distinct learners with activity on or after a day (of some people, when given)."""
    if people is not None:
        return len(active_since(session, course, since) & people)
    return (
        session.scalar(
            select(func.count(func.distinct(LearnerDay.person_id))).where(
                LearnerDay.course_id == course.id, LearnerDay.day >= since
            )
        )
        or 0
    )
