"""Event details: the few facts kept beyond the block columns, for the few events that carry them.

Most events need nothing but the block columns. Two kinds carry facts the problem and enrollment
views need, kept per event in the block's `detail` column (None for every other event):

- a server `problem_check`: per problem part ("answer id") the answer as Open edX's analytics
  pipeline reads it (answer_dist.py's `_generate_answers`: the submission's answer text, the
  choice id when the raw answer differs from it, correctness, question, response and input
  types, variant; for an old event without `submission`, the raw answer as the value id, the
  correct map's correctness and the state's seed as the variant), with the problem's outcome
  (success, attempts, grade, max grade) and the display name the event's context gives;
- an enrollment event (`edx.course.enrollment.activated|deactivated|mode_changed`): its mode.

A detail is plain JSON data, so it is stored in the block as it is (orjson).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Parts the pipeline leaves out: MathML previews of formula answers, and comments.
_HIDDEN_SUFFIXES = ("_dynamath", "_comment")
ENROLLMENT_EVENTS = frozenset(
    (
        "edx.course.enrollment.activated",
        "edx.course.enrollment.deactivated",
        "edx.course.enrollment.mode_changed",
    )
)
_MAX_TEXT = 2000  # answers and questions are shown, not searched: a long essay is cut here


def _text(value: Any) -> Any:
    """A string cut to a length worth storing; other values as they are."""
    return value[:_MAX_TEXT] if type(value) is str else value


def _answer(value: Any) -> Any:
    """An answer value as stored: a string, or a list of strings (several choices)."""
    if type(value) is list:
        return [_text(item) if type(item) is str else str(item) for item in value]
    return _text(value) if type(value) is str else value


def _valid_ids(answers: Any) -> bool:
    """The pipeline's check on answer ids: a dict of ASCII ids without tabs or newlines."""
    if type(answers) is not dict:
        return False
    # JSON object keys are strings: checked all at once, at C speed.
    joined = "".join(answers)
    return joined.isascii() and "\n" not in joined and "\t" not in joined


def problem_detail(data: Mapping[str, Any], display_name: Any = None) -> dict[str, Any] | None:
    """The answers of a server problem_check, per part, as the pipeline reads them; None when the
    pipeline would not use the event (no answers, malformed answer ids)."""
    answers = data.get("answers")
    if data.get("parts_follow") is True:
        answers = {}  # an xAPI problem check whose questions come as statements of their own
    elif not answers or not _valid_ids(answers):
        return None
    submissions = data.get("submission")
    if submissions is not None and not _valid_ids(submissions):
        return None
    correct_map = data.get("correct_map")
    if type(correct_map) is not dict:
        correct_map = {}
    parts: dict[str, dict[str, Any]] = {}
    if submissions is not None:
        for part_id, submission in submissions.items():
            if part_id.endswith(_HIDDEN_SUFFIXES) or type(submission) is not dict:
                continue
            part = _submitted_part(submission)
            raw = _answer(answers[part_id]) if part_id in answers else part.get("answer")
            if raw != part.get("answer"):
                part["answer_value_id"] = raw  # a choice id ("choice_2"), not text
            part["correctness"] = _correctness(correct_map.get(part_id))
            parts[part_id] = part
    else:
        state = data.get("state")
        seed = state.get("seed") if type(state) is dict else None
        for part_id, raw in answers.items():
            if part_id.endswith(_HIDDEN_SUFFIXES) or part_id not in correct_map:
                continue  # the pipeline logs and skips an answer missing from the correct map
            correctness = _correctness(correct_map[part_id])
            parts[part_id] = {
                "answer_value_id": _answer(raw),
                "correct": correctness == "correct",
                "variant": seed,
                "correctness": correctness,
            }
    detail: dict[str, Any] = {"parts": parts}
    success = data.get("success")
    if type(success) is str:
        detail["success"] = success == "correct"
    # The rest only when the event gives it: a detail is stored with every block it is in.
    attempts = data.get("attempts")
    if type(attempts) is int:
        detail["attempts"] = attempts
    for field in ("grade", "max_grade"):
        number = _number(data.get(field))
        if number is not None:
            detail[field] = number
    if type(display_name) is str and display_name:
        detail["name"] = _text(display_name)
    return detail


def _submitted_part(submission: dict[str, Any]) -> dict[str, Any]:
    """The fields of one part of a `submission` the answer distribution reads."""
    part: dict[str, Any] = {}
    for field in ("answer", "question", "response_type", "input_type", "variant"):
        if field in submission:
            part[field] = (
                _answer(submission[field]) if field == "answer" else _text(submission[field])
            )
    part["correct"] = bool(submission.get("correct"))
    return part


def _correctness(entry: Any) -> str | None:
    """A correct map entry's correctness ("correct", "incorrect"), None when unknown."""
    value = entry.get("correctness") if type(entry) is dict else None
    return value if type(value) is str else None


def _number(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is int or kind is float else None


def enrollment_detail(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """An enrollment event's mode (audit, honor, verified, …), or None when it names none."""
    mode = data.get("mode")
    if type(mode) is str and mode.strip():
        return {"mode": mode.strip()[:100]}
    return None
