"""Server problem_check and enrollment lines in the shapes of Open edX's tracking logs (as the
analytics pipeline's acceptance fixtures have them), for the problem and enrollment tests."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.tracking_logs import COURSE, at

PROBLEM = "block-v1:edX+DemoX+2026+type@problem+block@a0effb954cca4759994f1ac9e9434bf4"


def part_id(problem: str, number: int) -> str:
    """The answer id of a problem's part, as Open edX names it (<block id>_<n+1>_1)."""
    return f"{problem.rsplit('@', 1)[-1]}_{number + 1}_1"


def problem_check(
    stamp: str,
    parts: dict[str, dict[str, Any]],
    *,
    user: int = 7,
    username: str | None = None,
    problem: str = PROBLEM,
    name: str | None = "Multiple Choice Questions",
    attempts: int = 1,
    success: str | None = None,
    submission: bool = True,
    seed: int = 1,
    course: str = COURSE,
) -> str:
    """One server problem_check. `parts` maps an answer id to its submission fields (answer,
    correct, question, response_type, input_type, variant) and optionally `raw`, the value in
    `answers` when it differs from the answer text (a choice id such as "choice_1")."""
    answers = {}
    submitted = {}
    correct_map = {}
    for answer_id, fields in parts.items():
        fields = dict(fields)
        raw = fields.pop("raw", fields.get("answer"))
        answers[answer_id] = raw
        submitted[answer_id] = {
            "input_type": "choicegroup",
            "question": "",
            "response_type": "multiplechoiceresponse",
            "variant": "",
            **fields,
        }
        correctness = "correct" if fields.get("correct") else "incorrect"
        correct_map[answer_id] = {"correctness": correctness, "hint": "", "msg": ""}
    if success is None:
        every = all(fields.get("correct") for fields in parts.values())
        success = "correct" if every else "incorrect"
    payload: dict[str, Any] = {
        "answers": answers,
        "correct_map": correct_map,
        "success": success,
        "attempts": attempts,
        "grade": sum(1 for fields in parts.values() if fields.get("correct")),
        "max_grade": len(parts),
        "problem_id": problem,
        "state": {"seed": seed, "done": False, "student_answers": {}, "correct_map": {}},
    }
    if submission:
        payload["submission"] = submitted
    context: dict[str, Any] = {"course_id": course, "user_id": user, "org_id": "edX", "path": "/x"}
    if name is not None:
        context["module"] = {"display_name": name}
    return json.dumps(
        {
            "username": username or f"learner{user}",
            "event_type": "problem_check",
            "event_source": "server",
            "time": at(stamp),
            "event": payload,
            "context": context,
            "page": "x_module",
        }
    )


def enrollment(stamp: str, action: str, mode: str, user: int = 7, course: str = COURSE) -> str:
    """An edx.course.enrollment.<action> server event naming its mode (blank username and
    context user, the learner in the payload, as the LMS logs a batch enrollment)."""
    return json.dumps(
        {
            "username": "",
            "event_type": f"edx.course.enrollment.{action}",
            "event_source": "server",
            "time": at(stamp),
            "event": {"course_id": course, "user_id": user, "mode": mode},
            "context": {"course_id": course, "org_id": "edX"},
            "page": None,
        }
    )
