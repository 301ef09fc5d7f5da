"""Problem performance and answer distributions, as Open edX Insights computes them.

Read from the learner_problem rollup: per learner and problem, the number of server problem
checks with answers, the first that solved the problem, and the first and last check's answers
per part (lti_tool.activity.details keeps them as the analytics pipeline's answer_dist.py reads a
problem_check).

The answer distribution follows that pipeline (edx-analytics-pipeline, answer_dist.py):

- each learner's first and last check of a problem count, each once per part it answered (a
  learner with one check counts in both first and last);
- per part, the most recent of those answers decides whether the part is shown at all (its
  response type must be one of VALID_RESPONSE_TYPES: no custom or free-form code responses) and
  whether answers are grouped by choice id (when it has one) or by answer text;
- answers are grouped by value and variant (a randomised problem's seed; none counts as "1"), and
  each group takes its text, correctness and question from its most recent answer;
- a list of choices reads "[a|b]"; answer text that goes with a choice id is stripped of its HTML.

Problem performance per problem: learners who checked it, checks, the share of them whose first
check solved it, and the mean number of checks until the one that solved it (among those who did).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html.parser import HTMLParser
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import select

from lti_tool.activity.sql import driver_rows, select_in
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.names import CourseNames, Name, course_names
from lti_tool.models import Course, LearnerProblem
from lti_tool.models.types import DbSession

# The pipeline's default `answer-distribution.valid_response_types`.
VALID_RESPONSE_TYPES = frozenset(
    (
        "choiceresponse",
        "optionresponse",
        "multiplechoiceresponse",
        "numericalresponse",
        "stringresponse",
        "formularesponse",
    )
)
DISTRIBUTION_FIELDS = (
    "course",
    "module_id",
    "part_id",
    "correct",
    "first_response_count",
    "last_response_count",
    "value_id",
    "answer_value",
    "variant",
    "problem_display_name",
    "question",
)
PERFORMANCE_FIELDS = (
    "course",
    "module_id",
    "problem",
    "learners",
    "attempts",
    "first_attempt_correct_share",
    "mean_attempts_to_correct",
)


class LearnerChecks(NamedTuple):
    """One learner's checks of one problem (a learner_problem row, its answers decoded)."""

    person_id: int
    problem_id: str
    attempts: int
    correct_at: int | None
    first_time: float
    last_time: float
    first: dict[str, dict[str, Any]]
    last: dict[str, dict[str, Any]]
    names: tuple[str | None, str | None]


def learner_checks(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[LearnerChecks]:
    """Every learner's checks of every problem of a course (of some people, when given)."""
    rows = check_rows(session, course)
    found = [check_of(row) for row in rows if people is None or row[0] in people]
    # By problem, then learner, sorted here: the database would sort the whole rows, answers
    # and all (at 100,000 learners most of the read), and by its collation, not the same on
    # every database.
    found.sort(key=itemgetter(1, 0))  # (problem_id, person_id)
    return found


def check_rows(session: DbSession, course: Course) -> list[tuple[Any, ...]]:
    """Every learner_problem row of a course as check_of reads it, in no order, not decoded."""
    return driver_rows(
        session,
        select(
            LearnerProblem.person_id,
            LearnerProblem.problem_id,
            LearnerProblem.attempts,
            LearnerProblem.correct_at,
            LearnerProblem.first_time,
            LearnerProblem.last_time,
            LearnerProblem.answers,
        ).where(LearnerProblem.course_id == course.id),
    )


def checks_of(
    session: DbSession, course: Course, problem_ids: Sequence[str], people: set[int]
) -> list[LearnerChecks]:
    """The checks of some problems by some learners (`people`), in no order."""
    sql = (
        "SELECT person_id, problem_id, attempts, correct_at, first_time, last_time, answers "
        "FROM learner_problem WHERE course_id = {p} AND problem_id {in}"
    )
    rows = select_in(session, sql, [course.id], problem_ids)
    return [check_of(row) for row in rows if row[0] in people]


def check_of(row: Sequence[Any]) -> LearnerChecks:
    """A learner_problem row (person id, problem id, attempts, correct at, first and last time,
    packed answers, as the driver gives them) as LearnerChecks, its answers decoded."""
    person, problem, attempts, correct_at, first_time, last_time, packed = row
    return LearnerChecks(
        person, problem, attempts, correct_at, first_time, last_time, *sides(packed)
    )


def sides(
    packed: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], tuple[str | None, str | None]]:
    """A learner_problem row's packed answers decoded: the first and the last check's answers
    by part, and the display names those checks had."""
    answers = orjson.loads(packed)
    first_name, last_name = answers.get("names") or (None, None)
    return answers["first"], answers["last"], (first_name, last_name)


class _Text(HTMLParser):
    """The text of an HTML fragment (html5lib's text, as the pipeline reads it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    """An HTML fragment's text, its whitespace runs made single spaces."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def stringify(value: Any, contains_html: bool = False) -> str:
    """An answer value as the pipeline writes it: text as it is (stripped, or its HTML text when
    it goes with a choice id), a list as "[a|b]"."""

    if isinstance(value, str):
        return html_text(value) if contains_html else value.strip()
    if isinstance(value, list):
        return "[" + "|".join(_normal(item, contains_html) for item in value) + "]"
    return str(value)


def _normal(item: Any, contains_html: bool) -> str:
    """One item of an answer's list as stringify writes it."""
    text = item if isinstance(item, str) else str(item)
    return html_text(text) if contains_html else text.strip()


def grouping_key(answer: dict[str, Any]) -> str:
    """What makes two answers the same: the value (choice id if any, else text) and variant."""
    variant = answer.get("variant", "")
    if variant == "":
        variant = "1"  # no variant and the old events' seed 1 are one group
    value = answer["answer_value_id"] if "answer_value_id" in answer else answer.get("answer")
    return f"{stringify(value)}_{variant}"


def _part_answers(
    checks: list[LearnerChecks],
) -> dict[str, list[tuple[float, int, str, str | None, dict[str, Any]]]]:
    """Per part: (time, 0 first | 1 last, problem id, display name, answer) of every learner's
    first and last check."""
    parts: dict[str, list[tuple[float, int, str, str | None, dict[str, Any]]]] = defaultdict(list)
    for check in checks:
        for order, (time, answers, name) in enumerate(
            (
                (check.first_time, check.first, check.names[0]),
                (check.last_time, check.last, check.names[1]),
            )
        ):
            for part_id, answer in answers.items():
                parts[part_id].append((time, order, check.problem_id, name, answer))
    return parts


def distribution_rows(
    checks: list[LearnerChecks], names: CourseNames | None = None
) -> list[dict[str, Any]]:
    """The answer distribution rows of some learners' checks (without the course column)."""
    rows: list[dict[str, Any]] = []
    for part_id, answers in _part_answers(checks).items():
        # In time order; a learner's single check is their first and their last, last after.
        answers.sort(key=itemgetter(0, 1))
        _time, _order, problem_id, display_name, recent = answers[-1]
        if recent.get("response_type") not in VALID_RESPONSE_TYPES:
            continue
        uses_value_id = "answer_value_id" in recent
        if not display_name and names is not None and ("problem", problem_id) in names.known:
            display_name = str(names.name("problem", problem_id))  # the LMS's own: a str
        groups: dict[str, dict[str, Any]] = {}
        for _time, order, _problem, _name, answer in reversed(answers):
            key = grouping_key(answer)
            group = groups.get(key)
            if group is None:
                group = groups[key] = group_row(
                    problem_id, part_id, answer, uses_value_id, display_name
                )
            group["last_response_count" if order else "first_response_count"] += 1
        rows.extend(groups.values())
    return sorted_rows(rows)


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distribution rows in the pipeline's CSV order: by every column in turn (counts as
    numbers)."""
    return sorted(rows, key=lambda r: tuple(r[field] for field in DISTRIBUTION_FIELDS[1:]))


def group_row(
    problem_id: str,
    part_id: str,
    answer: dict[str, Any],
    uses_value_id: bool,
    display_name: str | None,
) -> dict[str, Any]:
    """An answer group's distribution row, its counts 0: from the group's most recent answer,
    whether its part groups by choice id and the part's display name (its most recent)."""
    if uses_value_id:
        value_id: Any = answer.get("answer_value_id", "")
        value: Any = answer.get("answer", "")
    else:
        value_id, value = "", answer.get("answer", answer.get("answer_value_id"))
    value_id = stringify(value_id)
    text = stringify(value, contains_html=value_id != "")
    variant = answer.get("variant") or ""
    return {
        "module_id": problem_id,
        "part_id": part_id,
        "correct": 1 if answer.get("correct") else 0,
        "first_response_count": 0,
        "last_response_count": 0,
        "value_id": value_id,
        "answer_value": text,
        "variant": str(variant),
        "problem_display_name": display_name or "",
        "question": answer.get("question") or "",
    }


def answer_distribution(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per problem part and answer: correct or not, learners whose first and whose last answer it
    was, the choice id, the answer, the variant, the problem's name and the question (Insights)."""
    checks = learner_checks(session, course, people)
    if not checks:
        return []
    label = course_label(course)
    names = course_names(session, course)
    return [{"course": label, **row} for row in distribution_rows(checks, names)]


def _problem_name(names: CourseNames, problem_id: str, from_events: str | None) -> Name:
    """The LMS's name for a problem, else the one its events gave, else "Problem N"."""
    if ("problem", problem_id) in names.known or not from_events:
        return names.name("problem", problem_id)
    return from_events


def performance_rows(checks: list[LearnerChecks], names: CourseNames) -> list[dict[str, Any]]:
    """Per problem, in course order: learners, checks, first-check-correct share, mean checks
    until correct (without the course column)."""
    return named_rows(problem_stats(checks), names)


def problem_stats(checks: list[LearnerChecks]) -> list[dict[str, Any]]:
    """Per problem, by id: performance_rows' figures without the name, and `from_events`, the
    name the latest check's events gave (what named_rows names it by, with the course's)."""
    by_problem: dict[str, list[LearnerChecks]] = defaultdict(list)
    for check in checks:
        by_problem[check.problem_id].append(check)
    rows = []
    for problem_id in sorted(by_problem):
        learners = by_problem[problem_id]
        solved = [c.correct_at for c in learners if c.correct_at is not None]
        rows.append(
            {
                "module_id": problem_id,
                "from_events": max(learners, key=lambda c: c.last_time).names[1],
                "learners": len(learners),
                "attempts": sum(c.attempts for c in learners),
                "first_attempt_correct_share": round(
                    sum(1 for c in learners if c.correct_at == 1) / len(learners), 4
                ),
                "mean_attempts_to_correct": round(sum(solved) / len(solved), 2) if solved else None,
            }
        )
    return rows


def named_rows(stats: list[dict[str, Any]], names: CourseNames) -> list[dict[str, Any]]:
    """performance_rows from problem_stats' figures: in course order, each problem named (the
    names are in the page's language, so they are not kept with the figures)."""
    return [
        {
            "module_id": row["module_id"],
            "problem": _problem_name(names, row["module_id"], row["from_events"]),
            "learners": row["learners"],
            "attempts": row["attempts"],
            "first_attempt_correct_share": row["first_attempt_correct_share"],
            "mean_attempts_to_correct": row["mean_attempts_to_correct"],
        }
        for row in sorted(stats, key=lambda row: names.rank("problem", row["module_id"]))
    ]


def distributions(checks: list[LearnerChecks]) -> dict[str, list[dict[str, Any]]]:
    """Each problem's answer distribution rows (distribution_rows of its checks), by id."""
    by_problem: dict[str, list[LearnerChecks]] = defaultdict(list)
    for check in checks:
        by_problem[check.problem_id].append(check)
    return {problem_id: distribution_rows(found) for problem_id, found in by_problem.items()}


def problem_performance(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per problem, in course order: learners who tried it, checks, the share right at the first
    check, the mean number of checks until right."""
    checks = learner_checks(session, course, people)
    if not checks:
        return []
    label = course_label(course)
    names = course_names(session, course)
    return [{"course": label, **row} for row in performance_rows(checks, names)]


def problem_name(session: DbSession, course: Course, problem_id: str) -> Name:
    """A problem's name as the Problems page shows it (see _problem_name)."""
    latest = session.scalar(
        select(LearnerProblem.display_name)
        .where(
            LearnerProblem.course_id == course.id,
            LearnerProblem.problem_id == problem_id,
            LearnerProblem.display_name.is_not(None),
        )
        .order_by(LearnerProblem.last_time.desc())
        .limit(1)
    )
    return _problem_name(course_names(session, course), problem_id, latest)


def unsolved(session: DbSession, course: Course, problem_id: str, people: set[int]) -> set[int]:
    """The learners among `people` who have not solved a problem (not tried, or never right)."""
    solved = session.scalars(
        select(LearnerProblem.person_id).where(
            LearnerProblem.course_id == course.id,
            LearnerProblem.problem_id == problem_id,
            LearnerProblem.correct_at.is_not(None),
        )
    )
    return people - set(solved)
