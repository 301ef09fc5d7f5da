"""Answer distribution and problem performance (issue 18, item 2), against Open edX's analytics
pipeline (edx-analytics-pipeline, answer_dist.py and problem_response.py).

The logs are written here in the shape of the pipeline's acceptance fixture
(answer_dist_acceptance_tracking.log: server problem_check events with `submission`, `answers`,
`correct_map`, `context.module.display_name`); the expected rows are worked out by the pipeline's
rules in the comments: each learner's first and last check count once per part, the most recent
answer of a part decides whether it is shown and whether it is grouped by choice id, answers
group by value and variant, and each group reads its text, correctness and question from its most
recent answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis.problems import html_text, stringify
from lti_tool.models import Course, CourseBlock
from tests.helpers.problems import PROBLEM, part_id, problem_check
from tests.helpers.tracking_logs import COURSE, ingest, report, write

CHOICE = part_id(PROBLEM, 1)
NUMBER = part_id(PROBLEM, 2)
CUSTOM = part_id(PROBLEM, 3)
NAME = "Multiple Choice Questions"


def _choice(answer: str, choice: str, correct: bool) -> dict[str, Any]:
    return {"answer": answer, "raw": choice, "correct": correct, "question": "Which is Apple's?"}


def _number(answer: str, correct: bool) -> dict[str, Any]:
    return {
        "answer": answer,
        "correct": correct,
        "question": "Enter the numerical value of Pi",
        "response_type": "numericalresponse",
        "input_type": "formulaequationinput",
    }


CUSTOM_PART = {"answer": "print(1)", "correct": True, "response_type": "customresponse"}
DYNAMATH = {NUMBER + "_dynamath": {"answer": "<math/>", "response_type": ""}}


def _parts(choice: dict[str, Any], number: dict[str, Any], **more: Any) -> dict[str, Any]:
    """The three parts of one check: the choice, the number and the custom code."""
    return {CHOICE: choice, NUMBER: number, CUSTOM: CUSTOM_PART, **more}


def _multi_part_log(tmp_path: Path) -> Path:
    """Three learners check a problem of three parts: a multiple choice (choice ids), a number
    (free text) and custom code (a response type the distribution leaves out)."""
    ipod = _choice("The iPod", "choice_1", True)
    napster = _choice("Napster", "choice_2", False)
    pi = _number("3.14", True)
    lines = [
        # Learner 1: wrong choice, then right.
        problem_check(
            "2026-03-02 10:00:00",
            _parts(_choice("The iPad", "choice_0", False), pi, **DYNAMATH),
            user=1,
        ),
        problem_check("2026-03-02 10:01:00", _parts(ipod, pi), user=1, attempts=2),
        # Learner 2: right at once (one check: their first and their last).
        problem_check("2026-03-02 10:02:00", _parts(ipod, _number(" 3.14 ", True)), user=2),
        # Learner 3: three checks, right at the third.
        problem_check("2026-03-02 10:03:00", _parts(napster, _number("3.2", False)), user=3),
        problem_check("2026-03-02 10:04:00", _parts(napster, pi), user=3, attempts=2),
        problem_check(
            "2026-03-02 10:05:00",
            _parts(_choice("<b>The iPod</b>", "choice_1", True), pi),
            user=3,
            attempts=3,
        ),
    ]
    return write(tmp_path / "tracking.log", lines)


def _typed(
    value: str, correct: bool, response_type: str, question: str, **more: Any
) -> dict[str, Any]:
    """One part's answer of a response type (no choice id)."""
    return {
        "answer": value,
        "correct": correct,
        "response_type": response_type,
        "question": question,
        **more,
    }


def _distribution(
    runner: FlaskCliRunner, tmp_path: Path, checks: list[str], *fields: str
) -> list[tuple[Any, ...]]:
    """The answer-distribution rows once `checks` are ingested, each as its `fields`' values."""
    ingest(runner, write(tmp_path / "tracking.log", checks))
    return [tuple(r[f] for f in fields) for r in report(runner, "answer-distribution")]


def _row(
    part: str,
    correct: int,
    first: int,
    last: int,
    value_id: str,
    value: str,
    question: str,
    variant: str = "",
    module: str = PROBLEM,
    name: str = NAME,
) -> dict[str, Any]:
    return {
        "course": COURSE,
        "module_id": module,
        "part_id": part,
        "correct": correct,
        "first_response_count": first,
        "last_response_count": last,
        "value_id": value_id,
        "answer_value": value,
        "variant": variant,
        "problem_display_name": name,
        "question": question,
    }


def test_answer_distribution_of_a_multi_part_problem_equals_the_pipelines(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _multi_part_log(tmp_path))
    apple = "Which is Apple's?"
    pi = "Enter the numerical value of Pi"
    # The choice part, by choice id (its most recent answer, learner 3's last, has one):
    #   firsts: L1 choice_0, L2 choice_1, L3 choice_2; lasts: L1, L2, L3 choice_1. choice_1's
    #   text comes from its most recent answer, learner 3's, whose HTML is stripped.
    # The number part, by text (no choice ids), stripped: firsts L1 3.14, L2 3.14, L3 3.2;
    #   lasts all 3.14. The custom part and the MathML preview are left out.
    # Rows in the pipeline's CSV order: by module, part, correct, first count, last count, id…
    assert report(runner, "answer-distribution") == [
        _row(CHOICE, 0, 1, 0, "choice_0", "The iPad", apple),
        _row(CHOICE, 0, 1, 0, "choice_2", "Napster", apple),
        _row(CHOICE, 1, 1, 3, "choice_1", "The iPod", apple),
        _row(NUMBER, 0, 1, 0, "", "3.2", pi),
        _row(NUMBER, 1, 2, 3, "", "3.14", pi),
    ]


def test_problem_performance_counts_learners_attempts_and_first_right_checks(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _multi_part_log(tmp_path))
    # 3 learners, 2 + 1 + 3 checks; only learner 2 right at the first; right at checks 2, 1, 3.
    assert report(runner, "problem-performance") == [
        {
            "course": COURSE,
            "module_id": PROBLEM,
            "problem": NAME,
            "learners": 3,
            "attempts": 6,
            "first_attempt_correct_share": 0.3333,
            "mean_attempts_to_correct": 2.0,
        }
    ]


def test_randomised_problems_count_each_variant_apart(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    def answer(value: str, correct: bool, variant: str) -> dict[str, Any]:
        return {CHOICE: _typed(value, correct, "numericalresponse", "x + y?", variant=variant)}

    checks = [
        # The same answer is right for seed 3, wrong for seed 5; no seed groups as seed 1.
        problem_check("2026-03-02 10:00:00", answer("7", True, "3"), user=1),
        problem_check("2026-03-02 10:01:00", answer("7", False, "5"), user=2),
        problem_check("2026-03-02 10:02:00", answer("7", True, ""), user=3),
        problem_check("2026-03-02 10:03:00", answer("9", True, "5"), user=2),
    ]
    rows = _distribution(
        runner,
        tmp_path,
        checks,
        "answer_value",
        "variant",
        "correct",
        "first_response_count",
        "last_response_count",
    )
    # Learner 2's first answer is 7 (seed 5), their last 9 (seed 5).
    assert rows == [
        ("7", "5", 0, 1, 0),
        ("9", "5", 1, 0, 1),
        ("7", "", 1, 1, 1),
        ("7", "3", 1, 1, 1),
    ]


def test_free_text_answers_group_by_their_text(runner: FlaskCliRunner, tmp_path: Path) -> None:
    def text(value: str, correct: bool) -> dict[str, Any]:
        return {
            CHOICE: _typed(
                value, correct, "stringresponse", "Capital of France?", input_type="textline"
            )
        }

    checks = [
        problem_check("2026-03-02 10:00:00", text("Paris ", True), user=1),
        problem_check("2026-03-02 10:01:00", text("Paris", True), user=2),
        problem_check("2026-03-02 10:02:00", text("paris", False), user=3),
        problem_check("2026-03-02 10:03:00", text("<b>Lyon</b>", False), user=4),
    ]
    # Text is stripped but not lower-cased, and its markup is kept (no choice id: it may be
    # the answer itself).
    rows = _distribution(
        runner, tmp_path, checks, "answer_value", "value_id", "correct", "first_response_count"
    )
    assert rows == [("<b>Lyon</b>", "", 0, 1), ("paris", "", 0, 1), ("Paris", "", 1, 2)]


def test_an_old_check_without_submission_groups_by_its_raw_answer(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    checks = [
        # Before `submission` existed: the raw answer only, correctness from the correct
        # map, the variant from the state's seed; its text is unknown.
        problem_check(
            "2026-03-02 10:00:00",
            {CHOICE: _choice("The iPad", "choice_0", False)},
            user=1,
            submission=False,
        ),
        problem_check(
            "2026-03-02 10:05:00", {CHOICE: _choice("The iPod", "choice_1", True)}, user=1
        ),
    ]
    rows = _distribution(
        runner,
        tmp_path,
        checks,
        "value_id",
        "answer_value",
        "variant",
        "first_response_count",
        "last_response_count",
    )
    assert rows == [("choice_0", "", "1", 1, 0), ("choice_1", "The iPod", "", 0, 1)]


def test_a_problem_named_in_the_course_blocks_shows_that_name(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    check = problem_check(
        "2026-03-02 10:00:00",
        {CHOICE: _choice("The iPod", "choice_1", True)},
        name=None,  # the event names no block
    )
    ingest(runner, write(tmp_path / "tracking.log", [check]))
    assert report(runner, "problem-performance")[0]["problem"] == "Problem 1"
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
        assert course is not None
        db.session.add(
            CourseBlock(
                course_id=course.id,
                block_id=PROBLEM,
                block_type="problem",
                display_name="Week 1 quiz",
                parent_id=None,
                position=0,
            )
        )
        db.session.commit()
    assert report(runner, "problem-performance")[0]["problem"] == "Week 1 quiz"
    assert report(runner, "answer-distribution")[0]["problem_display_name"] == "Week 1 quiz"


def test_stringify_and_html_text_as_the_pipeline() -> None:
    assert stringify(["choice_1", " choice_3 "]) == "[choice_1|choice_3]"
    assert stringify("<p>The  <b>iPod</b></p>", contains_html=True) == "The iPod"
    assert html_text("<table><tr><td>a</td><td>b</td></tr></table>") == "a b"
