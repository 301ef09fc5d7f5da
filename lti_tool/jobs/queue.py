"""The sync queue as the pages, the admin area and the scheduler see it: which courses each LMS
source can sync, queuing a run, a run in words (the latest successful one:
lti_tool.models.sync.last_succeeded, which the Canvas sync reads too).

It imports no LMS client, so that a page can queue and read runs without loading them; running
a queued run is lti_tool.jobs.runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from sqlalchemy import Select, and_, func, or_, select, text

from lti_tool.activity.sql import dialect_insert
from lti_tool.models import Course, DataSource, Platform, SyncRun
from lti_tool.models.sync import FAILED, QUEUED, RUNNING, SOURCES, SUCCEEDED
from lti_tool.models.types import DbSession, utcnow


class CourseFinder(Protocol):
    """A source's courses: (session) every one it syncs, (session, id) that one if it does."""

    def __call__(self, session: DbSession, course_id: int | None = None) -> list[int]:
        """The ids, in id order."""


# Per source, the courses it syncs: built once.
_NRPS = (
    select(Course.id)
    .join(Platform, Platform.id == Course.platform_id)
    # The courses of enabled platforms whose launches gave an NRPS memberships URL.
    .where(Course.nrps_memberships_url.is_not(None), Platform.enabled.is_(True))
)
_CANVAS = (
    select(Course.id)
    .join(Platform, Platform.id == Course.platform_id)
    # Of enabled platforms with an enabled Canvas source, with a Canvas course id.
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
_OPENEDX = (
    select(Course.id)
    .join(Platform, Platform.id == Course.platform_id)
    # With an Open edX course key, of enabled platforms with an enabled Open edX API.
    .join(DataSource, DataSource.platform_id == Platform.id)
    .where(DataSource.kind == "openedx", DataSource.enabled.is_(True))
    .where(Platform.enabled.is_(True), Course.lms_course_id.is_not(None))
    .distinct()
)
_COURSES: dict[str, Select[tuple[int]]] = {"nrps": _NRPS, "canvas": _CANVAS, "openedx": _OPENEDX}


def _finder(query: Select[tuple[int]]) -> CourseFinder:
    """A source's CourseFinder, of its query."""

    def find(session: DbSession, course_id: int | None = None) -> list[int]:
        """The found courses' ids in id order; only this course's when one is given."""
        asked = query if course_id is None else query.where(Course.id == course_id)
        return list(session.scalars(asked.order_by(Course.id)))

    return find


#: Per source, the courses the scheduler's periodic job syncs from it (of them, one course's
#: id alone when asked with it).
COURSE_FINDERS: dict[str, CourseFinder] = {source: _finder(q) for source, q in _COURSES.items()}


def courses_to_sync(session: DbSession, source: str) -> list[int]:
    """The ids of the courses a source syncs (the scheduler's list), in id order."""
    return COURSE_FINDERS[source](session)


def able_sources(session: DbSession, course_id: int) -> set[str]:
    """The sources that can sync this course, in one read (a page asks about its own course:
    a read per source, or a list of the instance's courses, cost each overview three)."""
    asked = [query.where(Course.id == course_id).exists() for query in _COURSES.values()]
    found = session.execute(select(*asked)).one()
    return {source for source, able in zip(_COURSES, found, strict=True) if able}


def can_sync(session: DbSession, course_id: int, source: str) -> bool:
    """Whether a source can sync this course."""
    return source in able_sources(session, course_id)


class SourceRuns(NamedTuple):
    """A source's runs as a course's page shows them."""

    latest: SyncRun | None  # the last queued, whatever became of it
    pending: SyncRun | None  # queued or running (the running one when both)
    succeeded: SyncRun | None  # the last to succeed (models.sync.last_succeeded)


def runs_by_source(session: DbSession, course_id: int) -> dict[str, SourceRuns]:
    """Per source (every one of SOURCES), the course's latest, pending and last successful
    runs: one read."""
    ranked = (
        select(
            SyncRun.id,
            func.row_number()
            .over(
                partition_by=SyncRun.source,
                order_by=(SyncRun.queued_at.desc(), SyncRun.id.desc()),
            )
            .label("newest"),
            func.row_number()
            .over(
                partition_by=(SyncRun.source, SyncRun.status),
                order_by=(SyncRun.finished_at.desc(), SyncRun.id.desc()),
            )
            .label("of_status"),
        )
        .where(SyncRun.course_id == course_id)
        .subquery()
    )
    rows = session.execute(
        select(SyncRun, ranked.c.newest, ranked.c.of_status)
        .join(ranked, ranked.c.id == SyncRun.id)
        .where(
            or_(
                ranked.c.newest == 1,
                and_(ranked.c.of_status == 1, SyncRun.status.in_((SUCCEEDED, QUEUED, RUNNING))),
            )
        )
    )
    found = {source: SourceRuns(None, None, None) for source in SOURCES}
    for run, newest, of_status in rows:
        runs = found.get(run.source)
        if runs is None:
            continue  # a source no longer offered
        if newest == 1:
            runs = runs._replace(latest=run)
        if of_status == 1 and run.status == SUCCEEDED:
            runs = runs._replace(succeeded=run)
        if of_status == 1 and run.status in (QUEUED, RUNNING):
            if runs.pending is None or run.status == RUNNING:
                runs = runs._replace(pending=run)
        found[run.source] = runs
    return found


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
