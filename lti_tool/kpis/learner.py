"""One learner's own figures, and the anonymous class figures shown beside them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.kpis.activity import DEFAULT_CUTOFF_MINUTES, under_cutoff
from lti_tool.models import Course, LearnerDay

# Figures that describe other learners are hidden below this many learners (never lower).
PRIVACY_FLOOR = 5


def week_of(day: date) -> date:
    """The Monday of a day's ISO week."""
    return day - timedelta(days=day.weekday())


def learner_days(session: Session, course: Course, person_id: int) -> list[dict[str, Any]]:
    """The learner's active days: day, events."""
    rows = session.execute(
        select(LearnerDay.day, LearnerDay.events)
        .where(LearnerDay.course_id == course.id, LearnerDay.person_id == person_id)
        .order_by(LearnerDay.day)
    )
    return [{"day": day, "events": events} for day, events in rows]


def learner_weeks(
    session: Session, course: Course, person_id: int, cutoff_minutes: int = DEFAULT_CUTOFF_MINUTES
) -> dict[date, dict[str, float]]:
    """Per ISO week: the learner's seconds spent (gaps under the cutoff) and active days."""
    weeks: dict[date, dict[str, float]] = defaultdict(lambda: {"seconds": 0.0, "days": 0})
    rows = session.execute(
        select(LearnerDay.day, LearnerDay.gaps).where(
            LearnerDay.course_id == course.id, LearnerDay.person_id == person_id
        )
    )
    for day, gaps in rows:
        week = weeks[week_of(day)]
        week["days"] += 1
        week["seconds"] += under_cutoff(orjson.loads(gaps), cutoff_minutes)[0]
    return dict(sorted(weeks.items()))


def active_learner_count(session: Session, course: Course) -> int:
    """How many learners have any activity in the course (the size of the class figures)."""
    return (
        session.scalar(
            select(func.count(func.distinct(LearnerDay.person_id))).where(
                LearnerDay.course_id == course.id
            )
        )
        or 0
    )
