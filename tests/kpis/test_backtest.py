"""The at-risk track record: per past week the flags from the data dated up to its end, against
the outcome; precision and recall worked out by hand (tests/helpers/finished_course.py)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from lti_tool.extensions import db
from lti_tool.kpis import backtest, course_settings
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import (
    Assignment,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ScoreSnapshot,
    Submission,
)
from tests.helpers.finished_course import JUDGED_AT, WEEKS, active_day, at, build_finished_course


@pytest.fixture
def done(app: Flask) -> Any:
    with app.app_context():
        yield build_finished_course()


def _weeks(found: backtest.Backtest) -> list[tuple[date, int, int, int]]:
    return [(w.week_start, w.flagged, w.flagged_with_outcome, w.with_outcome) for w in found.weeks]


def test_the_finished_course_gives_the_precision_and_recall_worked_out_by_hand(
    done: dict[str, Any],
) -> None:
    found = backtest.backtest(db.session, done["course"], key=b"k", now=JUDGED_AT)
    assert found.available and not found.provisional
    assert (found.judged, found.with_outcome) == (6, 4)
    assert _weeks(found) == [(WEEKS[0], 2, 1, 4), (WEEKS[1], 3, 3, 4), (WEEKS[2], 4, 4, 4)]
    assert [(w.precision, w.recall) for w in found.weeks] == [
        (0.5, 0.25),
        (1.0, 0.75),
        (1.0, 1.0),
    ]
    people = {done[n].id: n for n in ("P1", "P2", "P3", "P4", "P5", "P6")}
    assert [sorted(people[p] for p in w.people) for w in found.weeks] == [
        ["P4", "P5"],
        ["P2", "P3", "P5"],
        ["P2", "P3", "P5", "P6"],
    ]
    assert found.lead_weeks == [0, 1, 1, 2] and found.median_lead == 1
    assert "final score below the pass mark of 50 %" in str(found.outcome)
    assert "not completing" in str(found.outcome)
    # Scores entered from W3, the first week with a snapshot.
    assert found.scores_from == WEEKS[2]
    assert [w.scores_used for w in found.weeks] == [False, False, True]


def test_the_report_has_its_fields_and_rounded_shares(done: dict[str, Any]) -> None:
    report = REPORTS["risk-backtest"]
    rows = report.run(db.session, done["course"], key=b"k", now=JUDGED_AT)
    assert (
        tuple(rows[0])
        == report.fields
        == (
            "course",
            "week_start",
            "flagged",
            "flagged_with_outcome",
            "with_outcome",
            "precision",
            "recall",
        )
    )
    assert rows[0] == {
        "course": "900",
        "week_start": "2026-01-05",
        "flagged": 2,
        "flagged_with_outcome": 1,
        "with_outcome": 4,
        "precision": 0.5,
        "recall": 0.25,
    }


def test_no_flag_of_a_week_uses_data_dated_after_it(done: dict[str, Any]) -> None:
    """Everything dated after W1 changes; W1's flags stay what W1's data gave."""
    course = done["course"]
    before = backtest.backtest(db.session, course, key=b"k", now=JUDGED_AT).weeks[0]
    later = WEEKS[1] + timedelta(days=1)  # Tuesday of W2
    # P5 becomes active, and Canvas saw P5 too; P1 misses work due later and fails a snapshot;
    # P4's module and a late hand-in are dated later still.
    active_day(course, done["P5"], later.isoformat())
    db.session.add(
        LmsLearnerActivityHour(
            course_id=course.id, person_id=done["P5"].id, hour=at("2026-01-13 10:00")
        )
    )
    hw = Assignment(
        course_id=course.id, lms_assignment_id="hw9", name="HW 9", due_at=at("2026-01-14 23:59")
    )
    db.session.add(hw)
    db.session.flush()
    db.session.add(Submission(assignment_id=hw.id, person_id=done["P1"].id, missing=True))
    db.session.add(
        ScoreSnapshot(course_id=course.id, person_id=done["P1"].id, week_start=WEEKS[1], score=5.0)
    )
    db.session.commit()
    after = backtest.backtest(db.session, course, key=b"k", now=JUDGED_AT)
    assert after.weeks[0].people == before.people
    # …while the later weeks do see it: P1 is flagged in W2 (one missing, a score of 5).
    assert done["P1"].id in after.weeks[1].people
    assert done["P5"].id not in after.weeks[1].people  # active two days before W2's end


def test_todays_lms_figures_are_not_used_for_past_weeks(done: dict[str, Any]) -> None:
    """P2's LMS last_activity_at is 2026-01-30 (today's figure): W2 still finds P2 inactive."""
    stats = db.session.get(LmsLearnerStats, (done["course"].id, done["P2"].id))
    assert stats.last_activity_at == at("2026-01-30 10:00")
    found = backtest.backtest(db.session, done["course"], key=b"k", now=JUDGED_AT)
    assert done["P2"].id in found.weeks[1].people


def test_before_the_first_snapshot_scores_are_left_out(done: dict[str, Any]) -> None:
    """Without snapshots, P6 (final 45) is never flagged: no week knew a score."""
    db.session.query(ScoreSnapshot).delete()
    db.session.commit()
    found = backtest.backtest(db.session, done["course"], key=b"k", now=JUDGED_AT)
    assert found.scores_from is None and not any(w.scores_used for w in found.weeks)
    assert [w.flagged for w in found.weeks] == [2, 3, 3]
    assert done["P6"].id not in found.weeks[2].people


def test_a_course_without_an_outcome_has_no_track_record(done: dict[str, Any]) -> None:
    course = done["course"]
    settings = course_settings.load(db.session, course)
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(starts_on=settings.starts_on, risk_time_percentile=0),
    )
    db.session.commit()
    found = backtest.backtest(db.session, course, key=b"k", now=JUDGED_AT)
    assert not found.available and found.weeks == []
    assert "no outcome" in str(found.why_not) and "end date is not set" in str(found.why_not)
    assert REPORTS["risk-backtest"].run(db.session, course, key=b"k", now=JUDGED_AT) == []


def test_a_running_course_with_a_pass_mark_is_judged_provisionally_by_final_scores(
    done: dict[str, Any],
) -> None:
    """Before its end, completion is not an outcome yet: P5 (no score) is not judged."""
    course = done["course"]
    settings = course_settings.load(db.session, course)
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(
            starts_on=settings.starts_on, risk_time_percentile=0, risk_pass_mark=50.0
        ),
    )
    db.session.commit()
    found = backtest.backtest(db.session, course, key=b"k", now=JUDGED_AT)
    assert found.available and found.provisional
    assert (found.judged, found.with_outcome) == (5, 3)  # P2, P3, P6
    assert found.outcome == "a final score below the pass mark of 50 % (today's final score)"
    # Without an end, every complete week up to today is judged: W1 … the week of 01-26.
    assert found.weeks[0].week_start == WEEKS[0] and len(found.weeks) == 4


def test_completion_counts_only_modules_completed_before_the_week_ends(
    done: dict[str, Any],
) -> None:
    course = done["course"]
    people = {done[n].id for n in ("P1", "P3", "P4")}
    end_w1 = at("2026-01-12 00:00")
    end_w2 = at("2026-01-19 00:00")
    w1 = backtest.progress_until(db.session, course, people, end_w1)
    w2 = backtest.progress_until(db.session, course, people, end_w2)
    assert {p: d.done for p, d in w1.items()} == dict.fromkeys(people, 0)
    assert w2[done["P3"].id].done == 1 and w2[done["P4"].id].done == 1
    assert w2[done["P1"].id].done == 0  # completed on 01-20
    assert w2[done["P1"].id].required == 1


def test_the_cli_report_prints_the_weeks(runner: FlaskCliRunner, done: dict[str, Any]) -> None:
    result = runner.invoke(args=["report", "risk-backtest", "--course", "900", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert (
        lines[0] == "course,week_start,flagged,flagged_with_outcome,with_outcome,precision,recall"
    )
    # Judged today, the course is long finished: the same three weeks.
    assert lines[1:] == [
        "900,2026-01-05,2,1,4,0.5,0.25",
        "900,2026-01-12,3,3,4,1.0,0.75",
        "900,2026-01-19,4,4,4,1.0,1.0",
    ]
