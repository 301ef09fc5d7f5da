"""How reports name courses and learners to the outside world."""

from __future__ import annotations

from lti_tool.activity.sql import select_in
from lti_tool.models import Course
from lti_tool.models.types import DbSession

#: An Open edX username's identity kind.
USERNAME = "openedx_username"
# The learner's LMS-facing identifier: the Open edX username, else an LMS user id, else the sub.
LEARNER_ID_PREFERENCE = (
    USERNAME,
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
    return labels_and_usernames(session, person_ids)[0]


#: Every identity of some people (select_in's SQL).
_IDENTITIES = "SELECT person_id, kind, value FROM person_identity WHERE person_id {in}"


def labels_and_usernames(
    session: DbSession, person_ids: set[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """The people's preferred external identifiers, and the Open edX usernames of those who
    have one, from one read of their identities (on the driver: a class is 100,000 people)."""
    rank = {kind: i for i, kind in enumerate(LEARNER_ID_PREFERENCE)}
    best: dict[int, tuple[int, str]] = {}
    usernames: dict[int, str] = {}
    ids = sorted(person_ids)
    for person_id, kind, value in select_in(session, _IDENTITIES, [], ids):
        score = rank.get(kind, len(rank))
        if person_id not in best or score < best[person_id][0]:
            best[person_id] = (score, value)
        if kind == USERNAME:
            usernames[person_id] = value
    labels = {p: best[p][1] if p in best else f"person-{p}" for p in ids}
    return labels, usernames
