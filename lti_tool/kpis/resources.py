"""Resource reach: per resource of a course, how many of the class opened it, and what share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from lti_tool.kpis.labels import course_label
from lti_tool.kpis.roster import class_member_ids
from lti_tool.models import Course, CourseBlock, LearnerResource, Video
from lti_tool.models.types import DbSession


def _names(session: DbSession, course: Course) -> dict[str, str]:
    """Display names by the ids events use: block usage keys, their last part, video ids."""
    names: dict[str, str] = {}
    for block_id, name in session.execute(
        select(CourseBlock.block_id, CourseBlock.display_name).where(
            CourseBlock.course_id == course.id
        )
    ):
        if name:
            names[block_id] = name
            names.setdefault(block_id.rsplit("@", 1)[-1], name)  # the url_name events use
    for video_id, name in session.execute(
        select(Video.video_id, Video.display_name).where(Video.course_id == course.id)
    ):
        if name:
            names.setdefault(video_id, name)
    return names


def resource_reach(
    session: DbSession, course: Course, people: set[int] | None = None
) -> list[dict[str, Any]]:
    """Per resource: learners of `people` (the class) who opened it, their share, and its name.

    Most opened first. `share` is of the class size (len(people)); without `people`, every
    learner with activity counts and `share` is None.
    """
    query = select(
        LearnerResource.resource_id, LearnerResource.kind, LearnerResource.person_id
    ).where(LearnerResource.course_id == course.id)
    opened: dict[tuple[str, str], int] = {}
    for resource, kind, person in session.connection().execute(query):
        if people is None or person in people:
            opened[(resource, kind)] = opened.get((resource, kind), 0) + 1
    names = _names(session, course)
    label = course_label(course)
    size = len(people) if people is not None else None
    rows: list[dict[str, Any]] = [
        {
            "course": label,
            "resource": resource,
            "kind": kind,
            "name": names.get(resource, ""),
            "learners": count,
            "share": round(count / size, 4) if size else None,
        }
        for (resource, kind), count in opened.items()
    ]
    rows.sort(key=lambda r: (-r["learners"], r["kind"], r["name"] or r["resource"]))
    return rows


def class_resource_reach(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """resource_reach over the class (learners only: no staff, test students or who left)."""
    return resource_reach(session, course, set(class_member_ids(session, course)))
