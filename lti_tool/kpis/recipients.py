"""Message students who…: the learners of a class who match a filter on one assignment (have
not submitted, submitted late, scored below some points or percent), one video (have not
opened it, have not reached its end) or one module (have not started it, have not completed
it). The pages send them to the learners table's e-mail page (a BCC mailto link, a CSV).

Each function takes the learners to look among (the class, or one section of it: see
lti_tool.kpis.roster.class_member_ids) and returns the person ids that match.
"""

from __future__ import annotations

from lti_tool.i18n.text import LazyText, lazy_gettext
from lti_tool.kpis import completion, grades, problems, video_engagement
from lti_tool.models import Assignment, Course, CourseModule, Submission
from lti_tool.models.types import DbSession

# Each filter's words, as the forms offer them (in the language of where they are shown).
ASSIGNMENT_FILTERS: dict[str, LazyText | str] = {
    "not_submitted": lazy_gettext("haven't submitted"),
    "late": lazy_gettext("submitted late"),
    "below": lazy_gettext("scored below"),
}
VIDEO_FILTERS = {
    "not_opened": lazy_gettext("haven't opened"),
    "not_completed": lazy_gettext("haven't watched to the end"),
}
MODULE_FILTERS = {
    "not_started": lazy_gettext("haven't started"),
    "not_completed": lazy_gettext("haven't completed"),
}
PROBLEM_FILTERS = {"not_solved": lazy_gettext("haven't solved")}
UNITS = ("points", "percent")
# Canvas's workflow states of work handed in (graded work may have no submission time: marked on
# paper, or by the LMS itself).
HANDED_IN = ("submitted", "graded", "pending_review")


class NoScale(ValueError):
    """A percent threshold on an assignment without points possible."""


def has_submitted(submission: Submission) -> bool:
    """Whether the LMS shows the work handed in: a submission time, a handed-in state or a
    score, and not marked missing."""
    if submission.missing:
        return False
    return (
        submission.submitted_at is not None
        or submission.workflow_state in HANDED_IN
        or submission.score is not None
    )


def assignment_recipients(
    session: DbSession,
    course: Course,
    assignment: Assignment,
    who: str,
    people: set[int],
    below: float | None = None,
    unit: str = "points",
) -> set[int]:
    """The learners among `people` who match `who` (ASSIGNMENT_FILTERS) on one assignment;
    excused learners never match. "below" compares the score in points, or in percent of the
    points possible (NoScale when there are none); learners without a score do not match it."""
    if who not in ASSIGNMENT_FILTERS:
        raise ValueError(f"unknown filter {who!r}")
    subs = grades.scores_by_assignment(session, course, people).get(assignment.id, {})
    if who == "not_submitted":
        return {
            p
            for p in people
            if (s := subs.get(p)) is None or (not s.excused and not has_submitted(s))
        }
    if who == "late":
        return {p for p, s in subs.items() if s.late and not s.excused}
    if below is None:
        raise ValueError("a threshold is needed")
    scale = 1.0
    if unit == "percent":
        if not assignment.points_possible:
            raise NoScale(f"{assignment.name} has no points possible")
        scale = 100.0 / assignment.points_possible
    return {
        p
        for p, s in subs.items()
        if s.score is not None and not s.excused and s.score * scale < below
    }


def video_recipients(
    session: DbSession, course: Course, video_id: str, who: str, people: set[int]
) -> set[int]:
    """The learners among `people` who have not opened a video (no viewing of it), or have not
    reached its end (VIDEO_FILTERS; the Videos page's counting)."""
    if who not in VIDEO_FILTERS:
        raise ValueError(f"unknown filter {who!r}")
    viewers = video_engagement.video_viewers(session, course, video_id, people)
    if who == "not_opened":
        return people - set(viewers)
    return {p for p in people if not viewers.get(p)}


def module_recipients(
    session: DbSession, course: Course, module: CourseModule, who: str, people: set[int]
) -> set[int]:
    """The learners among `people` who have not started a module (no required item done) or
    not completed it (MODULE_FILTERS; the Content page's counting)."""
    if who not in MODULE_FILTERS:
        raise ValueError(f"unknown filter {who!r}")
    progress = completion.module_progress(session, course, people)
    found = set()
    for person_id in people:
        done, required = completion.module_done(module, progress.get((module.id, person_id)))
        if (who == "not_started" and done == 0) or (
            who == "not_completed" and not (required and done >= required)
        ):
            found.add(person_id)
    return found


def problem_recipients(
    session: DbSession, course: Course, problem_id: str, who: str, people: set[int]
) -> set[int]:
    """The learners among `people` who have not solved a problem (PROBLEM_FILTERS: no check
    of theirs was right, or they have not tried it; the Problems page's counting)."""
    if who not in PROBLEM_FILTERS:
        raise ValueError(f"unknown filter {who!r}")
    return problems.unsolved(session, course, problem_id, people)
