"""Grades: each learner's current and final score, and each assignment's distribution.

Two reports, because their rows have different shapes: `grades` (one row per learner, the
LMS's course scores in percent) and `assignment-grades` (one row per assignment: quartiles of
the learners' scores in points, and how many submissions were late or missing).

Two kinds of course score. The posted score (`current_score`, `final_score` in the LMS stats)
is what the learner sees: everything shown to a student uses it, their own score and any class
figure beside it. Staff see scores as the LMS's gradebook shows them to staff: with grades not
yet posted counted (Canvas's `unposted_*`, where the sync's token could read them), else the
posted ones. The staff reports' `current_score` and `final_score` are the staff figures, and
`posted_current_score` / `posted_final_score` the posted ones beside them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from lti_tool.kpis.labels import course_label, learner_labels
from lti_tool.kpis.names import assignment_name
from lti_tool.kpis.roster import class_member_ids, percentile
from lti_tool.models import Assignment, Course, LmsLearnerStats, Submission
from lti_tool.models.types import DbSession


def staff_score(unposted: float | None, posted: float | None) -> float | None:
    """The score staff see: the unposted one where the LMS gave it, else the posted one."""
    return unposted if unposted is not None else posted


def staff_current_score(stats: Any) -> float | None:
    """The current score staff see, from a row of LMS stats (None: no row)."""
    if stats is None:
        return None
    return staff_score(stats.unposted_current_score, stats.current_score)


def due_for(assignment: Assignment, submission: Submission | None) -> datetime | None:
    """The due date that applies to one learner: their own (Canvas's cached_due_date, which
    follows section, group and individual overrides) when known, else the assignment's."""
    if submission is not None and submission.due_at is not None:
        return submission.due_at
    return assignment.due_at


def grades(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """Per learner: current score (graded work so far) and final score in percent, as staff
    see them, and the posted ones (what the learner sees)."""
    people = class_member_ids(session, course)
    names = learner_labels(session, people)
    stats = {
        row.person_id: row
        for row in session.scalars(
            select(LmsLearnerStats).where(LmsLearnerStats.course_id == course.id)
        )
    }
    label = course_label(course)
    rows = []
    for person_id in sorted(people, key=lambda p: names[p]):
        row = stats.get(person_id)
        rows.append(
            {
                "course": label,
                "learner": names[person_id],
                "current_score": staff_current_score(row),
                "final_score": (
                    staff_score(row.unposted_final_score, row.final_score) if row else None
                ),
                "posted_current_score": row.current_score if row else None,
                "posted_final_score": row.final_score if row else None,
            }
        )
    return rows


def assignments(session: DbSession, course: Course) -> list[Assignment]:
    """The course's published assignments (not removed), by due date then position."""
    found = session.scalars(
        select(Assignment).where(
            Assignment.course_id == course.id,
            Assignment.removed.is_(False),
            Assignment.published.is_(True),
        )
    )
    return sorted(found, key=_in_order)


def _in_order(assignment: Assignment) -> tuple[Any, ...]:
    """Where an assignment goes among the course's: by due date (none last), then position."""
    due = assignment.due_at
    return (due is None, due or 0, assignment.position or 0, assignment.id)


def assignments_with(
    session: DbSession, course: Course, person_id: int
) -> list[tuple[Assignment, Submission | None]]:
    """`assignments`, in their order, each with one learner's submission (None: none): one
    read."""
    found = session.execute(
        select(Assignment, Submission)
        .outerjoin(
            Submission,
            and_(Submission.assignment_id == Assignment.id, Submission.person_id == person_id),
        )
        .where(
            Assignment.course_id == course.id,
            Assignment.removed.is_(False),
            Assignment.published.is_(True),
        )
    )
    return sorted(((a, sub) for a, sub in found), key=lambda pair: _in_order(pair[0]))


def scores_by_assignment(
    session: DbSession, course: Course, people: set[int]
) -> dict[int, dict[int, Submission]]:
    """Assignment id -> person id -> the learner's submission, for some learners."""
    found: dict[int, dict[int, Submission]] = defaultdict(dict)
    rows = session.scalars(
        select(Submission)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id)
    )
    for row in rows:
        if row.person_id in people:
            found[row.assignment_id][row.person_id] = row
    return found


def assignment_grades(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """Per assignment: median and quartiles of learners' scores (points), late and missing."""
    return assignment_rows(session, course, class_member_ids(session, course))


def assignment_rows(session: DbSession, course: Course, people: set[int]) -> list[dict[str, Any]]:
    """The `assignment-grades` rows over some learners (the class, or one section of it)."""
    submissions = scores_by_assignment(session, course, people)
    label = course_label(course)
    rows = []
    for number, assignment in enumerate(assignments(session, course), 1):
        subs = submissions.get(assignment.id, {}).values()
        scores = [s.score for s in subs if s.score is not None and not s.excused]
        q1 = median = q3 = None
        if scores:
            q1, median, q3 = (round(percentile(scores, f), 3) for f in (0.25, 0.5, 0.75))
        rows.append(
            {
                "course": label,
                "assignment": assignment_name(assignment.name, number),
                "due_at": assignment.due_at.isoformat() if assignment.due_at else None,
                "points_possible": assignment.points_possible,
                "scores": len(scores),
                "median": median,
                "q1": q1,
                "q3": q3,
                "late": sum(1 for s in subs if s.late and not s.excused),
                "missing": sum(1 for s in subs if s.missing and not s.excused),
            }
        )
    return rows
