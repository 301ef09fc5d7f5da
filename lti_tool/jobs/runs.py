"""Sync runs: run one now, pick up the queued ones (queuing is lti_tool.jobs.queue). Every run
leaves a sync_run row.

A run's data and its "succeeded" row are committed together; on any failure the data is rolled
back and the row says "failed" and why. A run whose process died (SIGKILL, a crash, a lost
machine) stays "running" until the next run of that course and source finds it abandoned.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lti_tool.activity.rollups import summaries_changed
from lti_tool.config import setting
from lti_tool.i18n.text import N_, Explained, LazyText, lazy_gettext
from lti_tool.models import Course, SyncRun
from lti_tool.models.sync import FAILED, QUEUED, RUNNING, SOURCES, SUCCEEDED
from lti_tool.models.types import DbSession, rowcount, utcnow
from lti_tool.sync import canvas, nrps, openedx
from lti_tool.sync.errors import SyncError
from lti_tool.sync.score_snapshots import SCORE_SOURCES, snapshot_scores

log = logging.getLogger(__name__)

Runner = Callable[..., tuple[dict[str, Any], int]]
#: The sources that can run today, each a function (session, course, should_stop=…, timeout=…,
#: retry_delays=…) that writes its data into the session without committing and returns
#: (counts, requests made).
RUNNERS: dict[str, Runner] = {
    "nrps": nrps.sync_course,
    "canvas": canvas.sync_course,
    "openedx": openedx.sync_course,
}
#: A "running" row older than this is taken for abandoned whatever its process.
DEFAULT_RUN_TIMEOUT = timedelta(hours=2)


def http_options() -> dict[str, Any]:
    """SYNC_HTTP_TIMEOUT (seconds, 30) and SYNC_RETRY_DELAYS (seconds before each retry, "1,4")."""
    delays = setting("SYNC_RETRY_DELAYS", "1,4")
    return {
        "timeout": float(setting("SYNC_HTTP_TIMEOUT", "30")),
        "retry_delays": tuple(float(d) for d in delays.split(",") if d.strip()),
    }


class RunConflict(Exception):
    """A run of this course and source is already in progress."""


def worker_id() -> str:
    """This process, as host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _abandoned(run: SyncRun, now: datetime, timeout: timedelta) -> LazyText | None:
    """Why a "running" row is no longer running, or None while it may still be."""
    if run.started_at is not None and now - run.started_at > timeout:
        return lazy_gettext(
            "it had been running for more than %(minutes)d minutes",
            minutes=int(timeout.total_seconds() // 60),
        )
    host, _, pid = (run.worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return lazy_gettext("its process (%(worker)s) is gone", worker=run.worker)
        except PermissionError:
            return None  # alive, under another user
    return None


def recover_abandoned(
    session: DbSession, course_id: int, source: str, timeout: timedelta = DEFAULT_RUN_TIMEOUT
) -> list[int]:
    """Mark the abandoned "running" rows of a course and source failed; the caller commits."""
    now = utcnow()
    recovered = []
    for run in session.scalars(
        select(SyncRun).where(
            SyncRun.course_id == course_id, SyncRun.source == source, SyncRun.status == RUNNING
        )
    ):
        why = _abandoned(run, now, timeout)
        if why:
            run.status = FAILED
            run.finished_at = now
            run.record_error(
                lazy_gettext(
                    "interrupted: %(why)s before the run finished; nothing it fetched was saved",
                    why=why,
                )
            )
            recovered.append(run.id)
            log.warning("sync run %s marked failed: %s", run.id, run.error)
    return recovered


def _running(session: DbSession, course_id: int, source: str) -> SyncRun | None:
    return session.scalar(
        select(SyncRun).where(
            SyncRun.course_id == course_id, SyncRun.source == source, SyncRun.status == RUNNING
        )
    )


def start_run(
    session: DbSession,
    course: Course,
    source: str,
    trigger: str = "cli",
    timeout: timedelta = DEFAULT_RUN_TIMEOUT,
) -> SyncRun:
    """Insert a "running" row for a run that starts now (committed); RunConflict if one runs."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    course_id = course.id
    recover_abandoned(session, course_id, source, timeout)
    session.commit()
    now = utcnow()
    run = SyncRun(
        course_id=course_id,
        source=source,
        status=RUNNING,
        trigger=trigger,
        queued_at=now,
        started_at=now,
        worker=worker_id(),
        counts={},
        requests=0,
    )
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        other = _running(session, course_id, source)
        since = f", started {other.started_at:%Y-%m-%d %H:%M:%S} UTC" if other else ""
        by = f" by {other.worker}" if other and other.worker else ""
        raise RunConflict(
            f"another {source} sync of course {course_id} is running "
            f"(run {other.id if other else '?'}{since}{by})"
        ) from None
    return run


def _fail(
    session: DbSession,
    run_id: int,
    error: str | LazyText | Explained,
    requests_made: int,
    counts: dict[str, Any],
) -> None:
    run = session.get(SyncRun, run_id)
    if run is None:  # the course was deleted meanwhile
        return
    run.status = FAILED
    run.finished_at = utcnow()
    run.record_error(error)
    run.requests = requests_made
    run.counts = counts
    session.commit()


def execute_run(
    session: DbSession, run_id: int, should_stop: Callable[[], bool] | None = None
) -> SyncRun:
    """Run a "running" row's sync and record its outcome (committed). Never raises for a failed
    sync: the row says what happened."""
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id}")
    course = session.get(Course, run.course_id)
    runner = RUNNERS.get(run.source)
    source = run.source
    log.info("sync run %s: %s sync of course %s starting", run_id, source, run.course_id)
    try:
        if course is None:
            raise SyncError(N_("course %(id)s no longer exists"), id=run.course_id)
        if runner is None:
            raise SyncError(N_("the %(source)s source cannot sync yet (not built)"), source=source)
        counts, requests_made = runner(session, course, should_stop=should_stop, **http_options())
        if source in SCORE_SOURCES:
            counts["score_snapshots"] = snapshot_scores(session, course, utcnow())
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status = SUCCEEDED
        run.finished_at = utcnow()
        run.counts = counts
        run.requests = requests_made
        run.record_error(None)
        # What a sync brings (roster, scores, submissions, progress) is the summaries' input;
        # not the activity (their fingerprints see the run's finished_at).
        summaries_changed(session, [course.id])
        session.commit()
    except SyncError as exc:
        session.rollback()
        _fail(session, run_id, exc, exc.requests_made, exc.counts)
    except Exception as exc:
        log.exception("sync run %s failed unexpectedly", run_id)
        session.rollback()
        unexpected = lazy_gettext(
            "unexpected error: %(kind)s: %(error)s", kind=type(exc).__name__, error=str(exc)
        )
        _fail(session, run_id, unexpected, 0, {})
    except BaseException:  # KeyboardInterrupt, SystemExit: say so, then let it go on
        session.rollback()
        stopped = lazy_gettext("interrupted: the process was stopped; nothing was saved")
        _fail(session, run_id, stopped, 0, {})
        raise
    run = session.get(SyncRun, run_id)
    assert run is not None
    log.info(
        "sync run %s: %s sync of course %s %s%s",
        run_id,
        source,
        run.course_id,
        run.status,
        f": {run.error}" if run.error else "",
    )
    return run


def run_now(
    session: DbSession,
    course: Course,
    source: str,
    trigger: str = "cli",
    should_stop: Callable[[], bool] | None = None,
) -> SyncRun:
    """Run a sync now in this process (RunConflict if one of the same course and source runs)."""
    run = start_run(session, course, source, trigger)
    return execute_run(session, run.id, should_stop)


def run_queued(
    session: DbSession,
    should_stop: Callable[[], bool] | None = None,
    timeout: timedelta = DEFAULT_RUN_TIMEOUT,
) -> list[SyncRun]:
    """Run the queued rows, oldest first, until none is left (or the process is stopping).

    Each row is claimed by an atomic queued → running update, so two schedulers never run the
    same row; a row whose course and source already has a run in progress waits for later.
    """
    done: list[SyncRun] = []
    tried: set[int] = set()
    while not (should_stop and should_stop()):
        query = select(SyncRun.id, SyncRun.course_id, SyncRun.source).where(
            SyncRun.status == QUEUED
        )
        if tried:
            query = query.where(SyncRun.id.not_in(tried))
        row = session.execute(query.order_by(SyncRun.queued_at, SyncRun.id).limit(1)).first()
        if row is None:
            break
        run_id, course_id, source = row
        tried.add(run_id)
        recover_abandoned(session, course_id, source, timeout)
        session.commit()
        try:
            claimed = session.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id, SyncRun.status == QUEUED)
                .values(status=RUNNING, started_at=utcnow(), worker=worker_id())
                .execution_options(synchronize_session=False)
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # a run of this course and source is in progress: later
            continue
        if rowcount(claimed) != 1:
            continue  # another scheduler took it
        session.expire_all()
        done.append(execute_run(session, run_id, should_stop))
    return done
