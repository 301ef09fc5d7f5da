"""Retention: purging a course's activity, all of it (`flask data purge-course`) or what is older
than the course's retention period (the scheduler's retention job, `run_retention`), and the
administrators' audit log and refused launches after their own periods.

The tables are found from the models' foreign keys to `course`, never from a hand-kept list, so a
new table about a course is purged the day it is added unless PURGE_KEEPS names it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select

from lti_tool.activity.rollups import rebuild_learners, touch_courses, week_start
from lti_tool.data.privacy import person_references
from lti_tool.extensions import db
from lti_tool.models import (
    ActivityBlock,
    AdminAudit,
    CourseSettings,
    LaunchError,
    LearnerCountry,
    LearnerDay,
    LmsCourseActivityDay,
    LmsLearnerActivityHour,
    Person,
    WeeklyActivity,
    XapiStatement,
)
from lti_tool.models.types import DbSession, rowcount, utcnow

log = logging.getLogger(__name__)


#: Tables about a course that a purge keeps: its settings, its calendar (staff's events and the
#: LMS's due dates), its sync history, its API tokens, the deployments it was launched through
#: (who administers it), and the access and administrators' audit logs, trails that must
#: outlive the data they audit. Every other table that refers to a course (directly or through a
#: parent, e.g. submission → assignment) is purged, including tables added later.
PURGE_KEEPS = frozenset(
    {
        "course_settings",
        "course_event",
        "sync_run",
        "api_token",
        "course_deployment",
        "access_log",
        "admin_audit",
    }
)


def course_references() -> list[tuple[Table, str]]:
    """Every (table, column) with a foreign key to course.id."""
    found = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "course" and fk.column.name == "id":
                found.append((table, fk.parent.name))
    return found


def _course_plan(course_id: int) -> list[tuple[Table, Any]]:
    """(table, condition) for every row that belongs to the course, children before parents."""
    plan: list[tuple[Table, Any]] = []

    def visit(table: Table, condition: Any, depth: int = 0) -> None:
        for child in db.metadata.sorted_tables:
            if child is table or child.name in PURGE_KEEPS or depth > 5:
                continue
            for fk in child.foreign_keys:
                if fk.column.table is table:
                    parents = select(fk.column).where(condition)
                    visit(child, child.c[fk.parent.name].in_(parents), depth + 1)
        plan.append((table, condition))

    for table, column in course_references():
        if table.name not in PURGE_KEEPS:
            visit(table, table.c[column] == course_id)
    return plan


def _people_in(session: DbSession, plan: list[tuple[Table, Any]]) -> set[int]:
    """The people named by the planned rows."""
    people: set[int] = set()
    for table, condition in plan:
        for fk in table.foreign_keys:
            if fk.column.table.name == "person":
                column = table.c[fk.parent.name]
                people.update(
                    p for p in session.scalars(select(column).where(condition).distinct()) if p
                )
    return people


_CHUNK = 500


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _still_referenced(session: DbSession, people: set[int]) -> set[int]:
    """Those of the people something other than their own identities still refers to."""
    found: set[int] = set()
    for table, column in person_references():
        if table.name == "person_identity":
            continue
        for chunk in _chunks(sorted(people - found)):
            col = table.c[column]
            found.update(session.scalars(select(col).where(col.in_(chunk)).distinct()))
    return found


def _delete_people(session: DbSession, people: list[int], counts: dict[str, int]) -> None:
    """Delete people and every row that refers to them, many at a time."""
    for chunk in _chunks(people):
        for table, column in reversed(person_references()):
            result = session.execute(delete(table).where(table.c[column].in_(chunk)))
            counts[table.name] = counts.get(table.name, 0) + (rowcount(result) or 0)
        person = Person.__table__
        result = session.execute(delete(person).where(person.c.id.in_(chunk)))
        counts["person"] = counts.get("person", 0) + (rowcount(result) or 0)


def purge_course_all(session: DbSession, course_id: int) -> dict[str, int]:
    """Delete all of a course's activity and LMS-synced learner data; keep the course row, its
    settings and calendar (PURGE_KEEPS). People known only through this course are deleted
    with their identities. Returns rows deleted per table; the caller commits."""
    plan = _course_plan(course_id)
    people = _people_in(session, plan)
    counts: dict[str, int] = {}
    for table, condition in plan:
        result = session.execute(delete(table).where(condition))
        counts[table.name] = counts.get(table.name, 0) + (rowcount(result) or 0)
    forgotten = sorted(people - _still_referenced(session, people))
    _delete_people(session, forgotten, counts)
    counts["people_forgotten"] = len(forgotten)
    touch_courses(session, [course_id])
    session.expire_all()
    return counts


def purge_course_older_than(
    session: DbSession, course_id: int, days: int, today: date | None = None
) -> dict[str, int]:
    """Delete a course's activity from before `days` days ago, then rebuild the rollups of the
    learners who lost some. Returns rows deleted per table (and learners rebuilt)."""
    if days < 0:
        raise ValueError("the number of days must be 0 or more")
    cutoff = (today or utcnow().date()) - timedelta(days=days)
    cutoff_at = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
    blocks = ActivityBlock.__table__
    old_blocks = (blocks.c.course_id == course_id) & (blocks.c.day < cutoff)
    learners = sorted(session.scalars(select(blocks.c.person_id).where(old_blocks).distinct()))
    counts: dict[str, int] = {}

    def purge(table: Table, condition: Any) -> None:
        result = session.execute(delete(table).where(condition))
        counts[table.name] = counts.get(table.name, 0) + (rowcount(result) or 0)

    purge(blocks, old_blocks)
    for model, column, limit in (
        (LearnerDay, "day", cutoff),
        # A week that straddles the cutoff is rebuilt below from the days it keeps.
        (WeeklyActivity, "week_start", week_start(cutoff)),
        (LmsCourseActivityDay, "day", cutoff),
        (LmsLearnerActivityHour, "hour", cutoff_at),
        (XapiStatement, "received_at", cutoff_at),
        # A country comes from one event: it goes with that event's day.
        (LearnerCountry, "seen_time", cutoff_at.timestamp()),
    ):
        table = model.__table__
        purge(table, (table.c.course_id == course_id) & (table.c[column] < limit))
    # Rollups are a function of the blocks: the first kept day's gap reached back into the
    # purged days, and the straddling week and video views lose the purged events.
    rebuild_learners(session, course_id, learners)
    counts["learners_rebuilt"] = len(learners)
    session.expire_all()
    return counts


def run_retention(
    session: DbSession, audit_days: int | None = None, launch_error_days: int | None = None
) -> str:
    """Apply every course's retention period (course_settings.retention_days), keep the
    administrators' audit log `audit_days` days and refused launches `launch_error_days` days;
    commits per course and returns one line saying what happened (for the scheduler's record)."""
    settings = session.execute(
        select(CourseSettings.course_id, CourseSettings.retention_days)
        .where(CourseSettings.retention_days.is_not(None))
        .order_by(CourseSettings.course_id)
    ).all()
    deleted, touched, failed = 0, 0, []
    for course_id, days in settings:
        if days < 1:
            failed.append(f"course {course_id}: retention of {days} days ignored (1 or more)")
            continue
        try:
            counts = purge_course_older_than(session, course_id, days)
            session.commit()
        except Exception as exc:  # one course's failure must not stop the others
            session.rollback()
            log.exception("retention of course %s failed", course_id)
            failed.append(f"course {course_id}: {type(exc).__name__}")
            continue
        rows = sum(v for k, v in counts.items() if k != "learners_rebuilt")
        deleted += rows
        touched += bool(rows)
    line = (
        f"retention: {len(settings)} courses with a retention period, "
        f"{deleted} rows deleted in {touched} of them"
    )
    for model, column, days, what in (
        (AdminAudit, AdminAudit.at, audit_days, "audit log rows"),
        (LaunchError, LaunchError.created_at, launch_error_days, "refused launches"),
    ):
        if days is not None and days > 0:
            since = utcnow() - timedelta(days=days)
            gone = rowcount(session.execute(delete(model).where(column < since))) or 0
            session.commit()
            line += f"; {gone} {what} older than {days} days deleted"
    return line + ("; problems: " + "; ".join(failed) if failed else "")
