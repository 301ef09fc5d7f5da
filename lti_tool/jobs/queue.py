"""The sync queue as the pages, the admin area and the scheduler see it: which courses each LMS
source can sync, queuing a run, a run in words (the latest successful one:
lti_tool.models.sync.last_succeeded, which the Canvas sync reads too).

It imports no LMS client, so that a page can queue and read runs without loading them; running
a queued run is lti_tool.jobs.runs.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select, and_, select, text

from lti_tool.activity.sql import dialect_insert
from lti_tool.models import Course, DataSource, Platform, SyncRun
from lti_tool.models.sync import FAILED, QUEUED, SOURCES, SUCCEEDED
from lti_tool.models.types import DbSession, utcnow


class CourseFinder(Protocol):
    """A source's courses: (session) every one it syncs, (session, id) that one if it does."""

    def __call__(self, session: DbSession, course_id: int | None = None) -> list[int]:
        """The ids, in id order."""


def _nrps_courses(session: DbSession, course_id: int | None = None) -> list[int]:
    """The courses of enabled platforms whose launches gave an NRPS memberships URL."""
    query = (
        select(Course.id)
        .join(Platform, Platform.id == Course.platform_id)
        .where(Course.nrps_memberships_url.is_not(None), Platform.enabled.is_(True))
    )
    return _ids(session, query, course_id)


def _canvas_courses(session: DbSession, course_id: int | None = None) -> list[int]:
    """Courses of enabled platforms with an enabled Canvas source and a Canvas course id."""
    query = (
        select(Course.id)
        .join(Platform, Platform.id == Course.platform_id)
        .join(
            DataSource,
            and_(
                DataSource.platform_id == Platform.id,
                DataSource.kind == "canvas",
                DataSource.enabled.is_(True),
            ),
        )
        .where(Platform.enabled.is_(True), Course.lms_course_id.is_not(None))
        .distinct()
    )
    return _ids(session, query, course_id)


def _openedx_courses(session: DbSession, course_id: int | None = None) -> list[int]:
    """Courses with an Open edX course key on enabled platforms with an enabled Open edX API."""
    query = (
        select(Course.id)
        .join(Platform, Platform.id == Course.platform_id)
        .join(DataSource, DataSource.platform_id == Platform.id)
        .where(DataSource.kind == "openedx", DataSource.enabled.is_(True))
        .where(Platform.enabled.is_(True), Course.lms_course_id.is_not(None))
        .distinct()
    )
    return _ids(session, query, course_id)


def _ids(session: DbSession, query: Select[tuple[int]], course_id: int | None) -> list[int]:
    """The found courses' ids in id order; only this course's when one is given (a page asks
    about its own course: reading every course of the instance to find it cost each overview
    three lists of the instance's courses)."""
    if course_id is not None:
        query = query.where(Course.id == course_id)
    return list(session.scalars(query.order_by(Course.id)))


#: Per source, the courses the scheduler's periodic job syncs from it (of them, one course's
#: id alone when asked with it).
COURSE_FINDERS: dict[str, CourseFinder] = {
    "nrps": _nrps_courses,
    "canvas": _canvas_courses,
    "openedx": _openedx_courses,
}


def courses_to_sync(session: DbSession, source: str) -> list[int]:
    """The ids of the courses a source syncs (the scheduler's list), in id order."""
    return COURSE_FINDERS[source](session)


def can_sync(session: DbSession, course_id: int, source: str) -> bool:
    """Whether a source can sync this course."""
    finder = COURSE_FINDERS.get(source)
    return finder is not None and course_id in finder(session, course_id)


def queue_run(session: DbSession, course_id: int, source: str, trigger: str = "page") -> SyncRun:
    """Queue a run for the scheduler, or return the one already queued; the caller commits.

    Safe under concurrency: the partial unique index on queued rows makes a second insert a
    no-op, so two clicks on "Sync now" queue one run.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    insert = dialect_insert(session, SyncRun.__table__).values(
        course_id=course_id,
        source=source,
        status=QUEUED,
        trigger=trigger,
        queued_at=utcnow(),
        counts={},
        requests=0,
    )
    session.execute(
        insert.on_conflict_do_nothing(
            index_elements=["course_id", "source"], index_where=text("status = 'queued'")
        )
    )
    return session.scalars(
        select(SyncRun).where(
            SyncRun.course_id == course_id, SyncRun.source == source, SyncRun.status == QUEUED
        )
    ).one()


def run_as_dict(run: SyncRun) -> dict[str, Any]:
    """A run as plain data (for --json and, later, the pages)."""
    seconds = None
    if run.started_at and run.finished_at:
        seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id,
        "course_id": run.course_id,
        "source": run.source,
        "status": run.status,
        "trigger": run.trigger,
        "queued_at": run.queued_at.isoformat() if run.queued_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": seconds,
        "counts": dict(run.counts or {}),
        "requests": run.requests,
        "error": run.error,
    }


def describe(run: SyncRun) -> str:
    """One line about a run, for people."""
    data = run_as_dict(run)
    head = f"run {run.id}: {run.source} sync of course {run.course_id} {run.status}"
    if run.status == FAILED:
        return f"{head}: {run.error}"
    if run.status != SUCCEEDED:
        return head
    counts = data["counts"]
    parts = [
        f"{counts.get(key, 0)} {label}"
        for key, label in (
            ("members", "members"),
            ("added", "added"),
            ("updated", "updated"),
            ("deactivated", "marked inactive"),
        )
    ]
    line = f"{head} in {data['seconds']:.1f} s: {', '.join(parts)}; {run.requests} requests"
    for warning in counts.get("warnings", []):
        line += f"\n  warning: {warning}"
    return line
