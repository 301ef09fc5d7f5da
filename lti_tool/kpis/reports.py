"""The named reports: one function per KPI, shared by the CLI, the API and the pages."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from lti_tool.i18n import text
from lti_tool.i18n.text import LazyText
from lti_tool.kpis import (
    activity,
    backtest,
    completion,
    enrollment,
    geography,
    grades,
    learner_summary,
    learners,
    names,
    problems,
    readiness,
    resources,
    roster,
    video_engagement,
)
from lti_tool.models import Course, Platform
from lti_tool.models.types import DbSession

#: Where keyed reports get the pseudonym key when the caller gives none. The app sets it
#: (people.pseudonyms.pseudonym_key, which reads the app's settings), so kpis need no Flask.
default_key: Callable[[], bytes] | None = None


def _keyed(run: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
    """A report that names learners without a name by pseudonym (the app's key)."""

    def keyed(session: DbSession, course: Course, **kwargs: Any) -> list[dict[str, Any]]:
        if "key" not in kwargs:
            if default_key is None:
                raise RuntimeError("no pseudonym key: pass key=, or create the app first")
            kwargs["key"] = default_key()
        return run(session, course, **kwargs)

    keyed.__doc__ = run.__doc__
    return keyed


def _beside(row: dict[str, Any], after: str, field: str, value: Any) -> dict[str, Any]:
    """The row with a field added right after another (its id), for JSON read in order."""
    out: dict[str, Any] = {}
    for key, item in row.items():
        out[key] = item
        if key == after:
            out[field] = value
    return out


def _video_names(run: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
    """A video report with `video_name` beside `video_id`: the LMS's name, else "Video N" in
    course order, as the pages show it."""

    def named(session: DbSession, course: Course, **kwargs: Any) -> list[dict[str, Any]]:
        rows = run(session, course, **kwargs)
        if not rows:
            return rows
        known = names.course_names(session, course)
        return [
            _beside(row, "video_id", "video_name", known.video(row["video_id"])) for row in rows
        ]

    named.__doc__ = run.__doc__
    return named


def _label_names(run: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
    """The weekly-activity report with `label_name` (the label in plain words) beside `label`."""

    def named(session: DbSession, course: Course, **kwargs: Any) -> list[dict[str, Any]]:
        return [
            _beside(row, "label", "label_name", names.activity_label(row["label"]))
            for row in run(session, course, **kwargs)
        ]

    named.__doc__ = run.__doc__
    return named


@dataclass(frozen=True)
class Report:
    """A report's function, its columns in order, and one line on what it holds."""

    run: Callable[..., list[dict[str, Any]]]
    fields: tuple[str, ...]
    about: str


REPORTS: dict[str, Report] = {
    "weekly-activity": Report(
        _label_names(activity.weekly_activity),
        ("course", "week_start", "label", "label_name", "count"),
        "learners per week who were active, played a video, tried a problem",
    ),
    "time-spent": Report(
        activity.time_spent,
        ("course", "learner", "day", "seconds", "sessions", "events"),
        "per learner and day: time spent (idle gaps left out), sessions, events",
    ),
    "video-summary": Report(
        _video_names(video_engagement.video_summary),
        (
            "course",
            "video_id",
            "video_name",
            "duration",
            "segment_length",
            "users_at_start",
            "users_at_end",
            "total_viewed_seconds",
        ),
        "per video: its name, length, viewers at the start and at the end, seconds watched",
    ),
    "video-timeline": Report(
        _video_names(video_engagement.video_timeline),
        ("course", "video_id", "video_name", "segment", "num_users", "num_views"),
        "per video and segment: how many learners watched it, how many times",
    ),
    "learner-video": Report(
        _video_names(video_engagement.learner_video),
        ("course", "learner", "video_id", "video_name", "coverage", "completed"),
        "per learner and video: the share watched and whether it was completed",
    ),
    "learners": Report(
        _keyed(learner_summary.learners_report),
        learners.FIELDS,
        "the learners table: activity, completion, score, segment, at-risk level, reasons, contact",
    ),
    "completion": Report(
        completion.completion,
        ("course", "learner", "module", "items_required", "items_done", "completed_at"),
        "per learner and module: items required, items done, when completed",
    ),
    "grades": Report(
        grades.grades,
        (
            "course",
            "learner",
            "current_score",
            "final_score",
            "posted_current_score",
            "posted_final_score",
        ),
        "per learner: current and final score (what staff see, and what is posted)",
    ),
    "assignment-grades": Report(
        grades.assignment_grades,
        (
            "course",
            "assignment",
            "due_at",
            "points_possible",
            "scores",
            "median",
            "q1",
            "q3",
            "late",
            "missing",
        ),
        "per assignment: due date, points, score quartiles, late and missing",
    ),
    "engagement": Report(
        _keyed(learners.engagement),
        ("course", "week_start", "learner", "segment"),
        "per week and learner: the engagement segment",
    ),
    "at-risk": Report(
        _keyed(learners.at_risk_report),
        ("course", "learner", "risk_level", "reasons"),
        "the learners at risk (level high or watch), and why",
    ),
    "risk-backtest": Report(
        _keyed(backtest.backtest_rows),
        backtest.FIELDS,
        "per past week: learners the at-risk rule flagged then, against how the course turned out",
    ),
    "not-on-roster": Report(
        _keyed(roster.not_on_roster),
        ("course", "learner", "name", "events", "last_active"),
        "people active in the logs who are not on the course roster",
    ),
    "resources": Report(
        resources.class_resource_reach,
        ("course", "resource", "kind", "name", "learners", "share"),
        "per page, file or module item: how many learners opened it, and their share",
    ),
    "geography": Report(
        geography.geography,
        geography.FIELDS,
        "learners per last known country (fewer than the privacy floor: other countries)",
    ),
    "answer-distribution": Report(
        problems.answer_distribution,
        problems.DISTRIBUTION_FIELDS,
        "per problem part and answer: correct or not, learners whose first and last answer it was",
    ),
    "problem-performance": Report(
        problems.problem_performance,
        problems.PERFORMANCE_FIELDS,
        "per problem: learners, attempts, share right at the first attempt, attempts until right",
    ),
    "readiness": Report(
        readiness.readiness,
        readiness.FIELDS,
        "is the course ready for analytics: per check its status, what was found, the fix",
    ),
    "enrollment-daily": Report(
        enrollment.enrollment_daily,
        enrollment.FIELDS,
        "per day and enrollment mode (and all): learners enrolled at the day's end, and ever",
    ),
}


class CourseNotFound(LookupError):
    """No course, or several, match what was asked for."""


def find_course(session: DbSession, ref: str, platform_name: str | None = None) -> Course:
    """A course by the tool's integer id or the LMS's course id (and platform when ambiguous)."""
    query = select(Course)
    if platform_name:
        platform = session.scalar(select(Platform).where(Platform.name == platform_name))
        if platform is None:
            raise CourseNotFound(f"no platform named {platform_name!r}")
        query = query.where(Course.platform_id == platform.id)
    by_key = or_(Course.lms_course_id == ref, Course.lti_context_id == ref)
    matches = list(session.scalars(query.where(by_key).order_by(Course.id)))
    if not matches and ref.isdigit():
        course = session.scalar(query.where(Course.id == int(ref)))
        matches = [course] if course else []
    if not matches:
        raise CourseNotFound(f"no course {ref!r}")
    if len(matches) > 1:
        raise CourseNotFound(f"{ref!r} names courses on several platforms: add --platform NAME")
    return matches[0]


# A text cell starting with one of these is run as a formula by spreadsheets (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """One cell, a text that a spreadsheet would run as a formula prefixed with a quote."""
    if isinstance(value, list):
        # A list (sections, at-risk reasons) is one cell, its items joined by "; ".
        value = "; ".join(map(str, value))
    elif isinstance(value, LazyText):
        value = str(value)
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if PLAIN_NUMBER.fullmatch(value):
        return value  # "-2.5" is a number, which a spreadsheet reads as one
    return "'" + value


def to_csv(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    """Rows as CSV with a header line, formula-like text cells neutralised."""
    out = _LfLines()
    # "\r\n" as the terminator makes the writer quote a cell holding a lone "\r" too (which a
    # reader would take for a line break); the lines themselves end in "\n".
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    with text.using(text.english()):  # CSV stays English, whatever page it is downloaded from
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


class _LfLines(io.StringIO):
    """A buffer for csv writers that turns each written line's "\r\n" into "\n"."""

    def write(self, line: str) -> int:
        """One CSV line (the writer writes one per call)."""
        return super().write(line.removesuffix("\r\n") + "\n")
