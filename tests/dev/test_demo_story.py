"""The demo course tells one story: its LMS data stands as a Canvas sync marked as demo data,
which the overview's freshness and the readiness check say in words; it has weekly score
snapshots and a pass mark, so its at-risk track record has an outcome to judge by."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.kpis import backtest, readiness
from lti_tool.models import Course, ScoreSnapshot, SyncRun
from lti_tool.models.sync import DEMO_TRIGGER
from lti_tool.views import course as course_views
from tests.helpers.database import dev_app


def test_the_demo_says_its_lms_data_is_demo_data_and_has_a_track_record(tmp_path: Path) -> None:
    app = dev_app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["demo", "load"]).exit_code == 0  # again: nothing doubles
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        runs = list(db.session.scalars(select(SyncRun).where(SyncRun.course_id == course.id)))
        assert [(r.source, r.status, r.trigger) for r in runs] == [
            ("canvas", "succeeded", DEMO_TRIGGER)
        ]
        roster = [c for c in readiness.checks(db.session, course) if c.key == "roster"]
        assert roster[0].status == readiness.OK and "Demo data" in str(roster[0].detail)
        weeks = db.session.scalar(
            select(func.count(func.distinct(ScoreSnapshot.week_start))).where(
                ScoreSnapshot.course_id == course.id
            )
        )
        assert weeks >= 4  # a week for each week with graded work so far
        found = backtest.backtest(db.session, course, key=b"k")
        assert found.available and found.provisional and found.with_outcome > 0
        assert len(found.weeks) >= 5 and found.scores_from is not None
        # Below the pass mark of 50 % is the outcome: the learners with a final score under it.
        assert "pass mark of 50 %" in str(found.outcome)
        # The overview's freshness: the Canvas row says demo data; no roster row beside it.
        rows = course_views._freshness(course)
        assert [(r["source"], r["demo"]) for r in rows] == [("canvas", True)]
