"""How reports name courses and learners to the outside world."""

from __future__ import annotations

from sqlalchemy import select

from lti_tool.models import Course, PersonIdentity
from lti_tool.models.types import DbSession

# The learner's LMS-facing identifier: the Open edX username, else an LMS user id, else the sub.
LEARNER_ID_PREFERENCE = (
    "openedx_username",
    "canvas_user_id",
    "openedx_user_id",
    "lab_user",
    "xapi_actor",
    "lti_sub",
)


def course_label(course: Course) -> str:
    """The LMS's own course id (Canvas number, Open edX key), else the LTI context id."""
    return course.lms_course_id or course.lti_context_id or str(course.id)


def learner_labels(session: DbSession, person_ids: set[int]) -> dict[int, str]:
    """Map person ids to their preferred external identifier."""
    rank = {kind: i for i, kind in enumerate(LEARNER_ID_PREFERENCE)}
    best: dict[int, tuple[int, str]] = {}
    ids = sorted(person_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(PersonIdentity.person_id, PersonIdentity.kind, PersonIdentity.value).where(
                PersonIdentity.person_id.in_(ids[start : start + 500])
            )
        )
        for person_id, kind, value in rows:
            score = rank.get(kind, len(rank))
            if person_id not in best or score < best[person_id][0]:
                best[person_id] = (score, value)
    return {p: best[p][1] if p in best else f"person-{p}" for p in ids}
