"""Resource reach: per resource of a course, how many of the class opened it, and what share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from lti_tool.activity.sql import select_in
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
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    counted: Mapping[tuple[str, str], int] | None = None,
) -> list[dict[str, Any]]:
    """Per resource: learners of `people` (the class) who opened it, their share, and its name.

    Most opened first. `share` is of the class size (len(people)); without `people`, every
    learner with activity counts and `share` is None. `counted`: opened_and_first_met's
    counts, when the caller read them.
    """
    size = len(people) if people is not None else None
    return reach_rows(session, course, _opened(session, course, people, counted), size)


def opened_and_first_met(
    session: DbSession, course: Course
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], float]]:
    """Per (resource, kind): how many of the course's learners (staff too) opened it; and per
    (kind, resource): when one first met it (names.first_seen's): one pass over the course's
    learner resources for both (each a sort of millions of rows at 100,000 learners)."""
    table = LearnerResource.__table__
    counted: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], float] = {}
    for resource, kind, count, at in session.connection().execute(
        select(table.c.resource_id, table.c.kind, func.count(), func.min(table.c.first_time))
        .where(table.c.course_id == course.id)
        .group_by(table.c.resource_id, table.c.kind)
    ):
        counted[(resource, kind)] = count
        first[(kind, resource)] = at
    return counted, first


def reach_rows(
    session: DbSession, course: Course, opened: dict[tuple[str, str], int], size: int | None
) -> list[dict[str, Any]]:
    """resource_reach's rows from the learners who opened each (resource, kind), of a class of
    `size` (None: no share)."""
    names = _names(session, course)
    label = course_label(course)
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
    rows.sort(key=lambda r: (-r["learners"], r["kind"], r["name"] or r["resource"], r["resource"]))
    return rows


def _opened(
    session: DbSession,
    course: Course,
    people: set[int] | None,
    counted: Mapping[tuple[str, str], int] | None = None,
) -> dict[tuple[str, str], int]:
    """Per (resource, kind): the learners of `people` (anyone when None) who opened it.

    Counted by the database (700,000 rows at 10,000 learners; `counted` when the caller has
    the counts: opened_and_first_met), then less those who opened something and are not of
    `people` (staff, who left: few), counted from their own rows.
    """
    table = LearnerResource.__table__
    mine = table.c.course_id == course.id
    if counted is None:
        counted = {
            (resource, kind): count
            for resource, kind, count in session.connection().execute(
                select(table.c.resource_id, table.c.kind, func.count())
                .where(mine)
                .group_by(table.c.resource_id, table.c.kind)
            )
        }
    opened = dict(counted)
    if people is None:
        return opened
    openers = session.connection().execute(select(table.c.person_id).where(mine).distinct())
    others = sorted({person for (person,) in openers} - people)
    sql = "SELECT resource_id, kind FROM learner_resource WHERE course_id = {p} AND person_id {in}"
    for resource, kind in select_in(session, sql, [course.id], others):
        opened[(resource, kind)] -= 1
    return {key: count for key, count in opened.items() if count}


def class_resource_reach(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """resource_reach over the class (learners only: no staff, test students or who left)."""
    return resource_reach(session, course, set(class_member_ids(session, course)))
