"""xAPI statements carry the same details as tracking logs (issue 18, item 0): a server problem
check's answer (one question, or several as statements of their own joined to the problem's),
and the enrollment mode."""

from __future__ import annotations

import uuid

import orjson
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import EnrollmentChange, LearnerProblem
from tests.api.test_xapi_openedx import (
    PROBLEM,
    UNREGISTERED,
    account,
    course_parent,
    enrollment,
    erb_token,
    learner,
    send,
    server_problem_check,
)
from tests.helpers.platform import FakePlatform

BLOCK = PROBLEM.rsplit("@", 1)[-1]


def test_a_one_question_check_keeps_its_answer_as_part_2_1(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    statement = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    assert send(client, erb_token(runner, platform), [statement]).status_code == 200
    with app.app_context():
        [row] = db.session.scalars(select(LearnerProblem)).all()
        answers = orjson.loads(row.answers)
    assert (row.problem_id, row.attempts, row.correct_at) == (PROBLEM, 1, None)
    part = answers["last"][f"{BLOCK}_2_1"]
    # A list of choices (a checkbox problem), its question, not correct.
    assert (part["answer"], part["correct"], part["question"], part["response_type"]) == (
        ["2", "9"],
        False,
        "Which are prime?",
        "choiceresponse",
    )


def test_the_questions_of_a_problem_become_the_parts_of_its_check(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    group = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    group["object"]["objectType"] = "GroupActivity"
    group["object"]["definition"] = {
        "type": group["object"]["definition"]["type"],
        "name": {"en-US": "Two questions"},
        "interactionType": "other",
    }
    group["result"] = {"success": True, "score": {"min": 0, "max": 2, "raw": 2}}
    questions = []
    for number, (answer, text) in enumerate([("blue", "Ocean?"), ("a chair", "Sit on?")]):
        question = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
        question["id"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"child{number}"))
        question["object"]["id"] += f"_{number + 2}_1"
        question["object"]["definition"]["description"] = {"en-US": text}
        question["context"]["statement"] = {"objectType": "StatementRef", "id": group["id"]}
        question["context"]["contextActivities"] = {
            "parent": [group["object"]],
            "grouping": course_parent()["parent"],
        }
        question["result"] = {"response": answer, "success": True}
        questions.append(question)
    # The questions may come before the problem's statement.
    assert send(client, erb_token(runner, platform), [*questions, group]).status_code == 200
    with app.app_context():
        [row] = db.session.scalars(select(LearnerProblem)).all()
        answers = orjson.loads(row.answers)
    assert (row.attempts, row.correct_at) == (1, 1)
    parts = answers["first"]
    assert {key: (p["answer"], p["question"]) for key, p in parts.items()} == {
        f"{BLOCK}_2_1": ("blue", "Ocean?"),
        f"{BLOCK}_3_1": ("a chair", "Sit on?"),
    }


def test_registered_statements_keep_the_enrollment_mode(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    statements = [
        enrollment(account(learner(4)), "2025-02-03T06:36:01+00:00"),
        enrollment(account(learner(4)), "2025-02-05T06:36:01+00:00", UNREGISTERED),
    ]
    assert send(client, erb_token(runner, platform), statements).status_code == 200
    with app.app_context():
        rows = db.session.execute(
            select(EnrollmentChange.name, EnrollmentChange.mode).order_by(EnrollmentChange.time)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("edx.course.enrollment.activated", "audit"),
        ("edx.course.enrollment.deactivated", "audit"),
    ]
