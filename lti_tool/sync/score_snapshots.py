"""Weekly score snapshots: after each successful grades sync, every learner's score as it was
then, one row per course, learner and week (the week's last sync wins).

The LMS only ever gives today's score; the at-risk backtest (lti_tool.kpis.backtest) needs the
score each past week ended with, so it keeps these from the first sync on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select

from lti_tool.activity.rollups import week_start
from lti_tool.kpis import course_settings
from lti_tool.kpis.grades import staff_current_score
from lti_tool.models import Course, LmsLearnerStats, ScoreSnapshot
from lti_tool.models.types import DbSession

#: The sync sources that bring scores.
SCORE_SOURCES = ("canvas", "openedx")


def snapshot_scores(session: DbSession, course: Course, now: datetime) -> int:
    """Write this week's snapshot of the course's scores (the caller commits); the row count."""
    monday = week_start(course_settings.load(session, course).today(now))
    rows = [
        {
            "course_id": course.id,
            "person_id": stats.person_id,
            "week_start": monday,
            "score": staff_current_score(stats),
            "posted_score": stats.current_score,
            "taken_at": now,
        }
        for stats in session.execute(
            select(
                LmsLearnerStats.person_id,
                LmsLearnerStats.current_score,
                LmsLearnerStats.unposted_current_score,
            ).where(LmsLearnerStats.course_id == course.id)
        )
        if stats.current_score is not None or stats.unposted_current_score is not None
    ]
    session.execute(
        delete(ScoreSnapshot).where(
            ScoreSnapshot.course_id == course.id, ScoreSnapshot.week_start == monday
        )
    )
    if rows:
        session.execute(insert(ScoreSnapshot), rows)
    return len(rows)
