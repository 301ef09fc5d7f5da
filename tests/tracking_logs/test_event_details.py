"""What the store keeps beyond the block columns (issue 18, item 0): problem_check answers per
part and enrollment modes, and `flask ingest tracking-logs --reprocess` adding them to events
stored before they were kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select

from lti_tool.activity.blocks import DETAIL, decode, encode, stored_events
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import ActivityBlock, EnrollmentChange, LearnerProblem
from tests.helpers.problems import PROBLEM, enrollment, part_id, problem_check
from tests.helpers.tracking_logs import VIDEO, event, ingest, report, write

CHOICE = part_id(PROBLEM, 1)
FORMULA = part_id(PROBLEM, 2)


def _problem_log(tmp_path: Path) -> Path:
    return write(
        tmp_path / "tracking.log",
        [
            enrollment("2026-03-02 08:00:00", "activated", "audit"),
            event("2026-03-02 09:00:00"),
            event(
                "2026-03-02 09:01:00",
                "play_video",
                source="browser",
                payload={"id": VIDEO, "currentTime": 0, "code": "x"},
            ),
            event(
                "2026-03-02 09:03:00",
                "pause_video",
                source="browser",
                payload={"id": VIDEO, "currentTime": 100, "code": "x"},
            ),
            problem_check(
                "2026-03-02 09:05:00",
                {
                    CHOICE: {"answer": "The iPad", "raw": "choice_0", "correct": False},
                    FORMULA: {
                        "answer": "A*x^2",
                        "correct": True,
                        "response_type": "formularesponse",
                        "input_type": "textline",
                        "question": "Enter the formula",
                    },
                    FORMULA + "_dynamath": {"answer": "<math/>", "response_type": ""},
                },
            ),
            problem_check(
                "2026-03-02 09:06:00",
                {
                    CHOICE: {"answer": "The iPod", "raw": "choice_1", "correct": True},
                    FORMULA: {"answer": "A*x^2", "correct": True},
                },
                attempts=2,
            ),
            enrollment("2026-03-03 08:00:00", "mode_changed", "verified"),
            enrollment("2026-03-04 08:00:00", "deactivated", "verified"),
        ],
    )


def test_problem_check_answers_are_kept_per_part(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert ingest(runner, _problem_log(tmp_path))["events_ingested"] == 8
    with app.app_context():
        checks = [e for e in stored_events(db.session) if e.name == "problem_check"]
        first = checks[0].detail
        # The choice: its text, and the raw answer as its id since they differ; the MathML
        # preview of the formula is left out, as the pipeline leaves it out.
        assert set(first["parts"]) == {CHOICE, FORMULA}
        assert first["parts"][CHOICE] == {
            "answer": "The iPad",
            "answer_value_id": "choice_0",
            "correct": False,
            "correctness": "incorrect",
            "input_type": "choicegroup",
            "question": "",
            "response_type": "multiplechoiceresponse",
            "variant": "",
        }
        assert "answer_value_id" not in first["parts"][FORMULA]  # free text: no id
        assert (first["success"], first["attempts"], first["name"]) == (
            False,
            1,
            "Multiple Choice Questions",
        )
        assert checks[1].detail["success"] is True
        # Other events keep no detail.
        assert all(e.detail is None for e in stored_events(db.session) if "video" in e.name)
        [row] = db.session.scalars(select(LearnerProblem)).all()
        assert (row.problem_id, row.attempts, row.correct_at) == (PROBLEM, 2, 2)
        answers = orjson.loads(row.answers)
        assert answers["first"][CHOICE]["answer"] == "The iPad"
        assert answers["last"][CHOICE]["answer"] == "The iPod"


def test_enrollment_modes_are_kept(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    ingest(runner, _problem_log(tmp_path))
    with app.app_context():
        changes = db.session.execute(
            select(EnrollmentChange.name, EnrollmentChange.mode).order_by(EnrollmentChange.time)
        ).all()
    assert [tuple(change) for change in changes] == [
        ("edx.course.enrollment.activated", "audit"),
        ("edx.course.enrollment.mode_changed", "verified"),
        ("edx.course.enrollment.deactivated", "verified"),
    ]


def _forget_details(app: Flask) -> None:
    """Make the store look as it did before details were kept: blocks without the column, no
    problem or enrollment rollups."""
    with app.app_context():
        for block in db.session.scalars(select(ActivityBlock)):
            columns = decode(block.data)
            columns[DETAIL] = [None] * len(columns[DETAIL])
            block.data = encode(columns)
            assert b'"detail"' not in block.data  # stored exactly as before the column existed
        db.session.execute(delete(LearnerProblem))
        db.session.execute(delete(EnrollmentChange))
        db.session.commit()


# The reports made from the details and their rollups: empty before --reprocess fills them in.
FROM_DETAILS = frozenset({"answer-distribution", "problem-performance", "enrollment-daily"})


def _every_report(runner: FlaskCliRunner) -> dict[str, list[dict[str, Any]]]:
    """Every report that existed before details were kept."""
    return {name: report(runner, name) for name in sorted(REPORTS) if name not in FROM_DETAILS}


def test_reprocess_adds_answers_and_modes_and_changes_no_report(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = _problem_log(tmp_path)
    ingest(runner, log)
    _forget_details(app)
    before = _every_report(runner)
    assert before["weekly-activity"]  # the reports have something to compare
    assert report(runner, "answer-distribution") == []
    # Without --reprocess a known file is not read again.
    again = ingest(runner, log)
    assert (again["files_unchanged"], again["lines"], again["details_added"]) == (1, 0, 0)

    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--reprocess", "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    # Every event read again is known; two checks and three enrollment events get details.
    assert (summary["events_ingested"], summary["duplicates"]) == (0, 8)
    assert summary["details_added"] == 5
    assert _every_report(runner) == before
    assert len(report(runner, "answer-distribution")) == 3  # the choice twice, the formula
    assert report(runner, "enrollment-daily")  # the enrollment events are read again
    with app.app_context():
        assert len(stored_events(db.session)) == 8
        [row] = db.session.scalars(select(LearnerProblem)).all()
        assert (row.attempts, row.correct_at) == (2, 2)
        modes = db.session.scalars(select(EnrollmentChange.mode).order_by(EnrollmentChange.time))
        assert list(modes) == ["audit", "verified", "verified"]
    # A second reprocess finds nothing left to add.
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--reprocess", "--json"])
    assert orjson.loads(result.output)["details_added"] == 0


def test_malformed_checks_are_stored_without_answers_and_break_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    good = orjson.loads(problem_check("2026-03-02 09:00:00", {CHOICE: {"answer": "x"}}))
    variants = []
    for payload in (
        {**good["event"], "answers": ["choice_1"]},  # answers not an object
        {**good["event"], "answers": {"caf\u00e9_2_1": "x"}},  # a non-ASCII answer id
        {**good["event"], "submission": {CHOICE: "x"}},  # a part that is not an object
        {**good["event"], "correct_map": "no"},
        "input_x=1",  # a url-encoded string, as the browser's
    ):
        line = {**good, "event": payload}
        line["context"] = {**good["context"], "module": {"display_name": "N" * 600}}
        variants.append(orjson.dumps(line).decode())
    summary = ingest(runner, write(tmp_path / "bad.log", variants))
    assert (summary["events_ingested"], summary["exit_code"]) == (5, 0)
    with app.app_context():
        details = [e.detail for e in stored_events(db.session)]
        rows = db.session.scalars(select(LearnerProblem)).all()
    # No answers from the first two and the string; the others keep what can be read.
    assert sum(detail is None for detail in details) == 3
    assert [len(row.display_name or "") for row in rows] == [500]  # cut to the column
