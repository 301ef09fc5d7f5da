"""The scheduler process (`flask scheduler run`): an APScheduler 3.x BlockingScheduler in UTC.

Its jobs are the table JOBS at the end of this module (stable ids, re-added at every start with
replace_existing):

- ``sync-courses``: queues a sync of every course each source finds (NRPS: a memberships URL;
  Canvas and Open edX: a configured source), every SYNC_INTERVAL_MINUTES (default 60);
- ``queued-runs``: runs the queued sync_run rows ("Sync now", and the ones above), every
  SCHEDULER_QUEUE_SECONDS (default 15);
- ``ingest-logs``: ingests the new tracking logs of the platforms' log folders, every
  LOG_INGEST_INTERVAL_MINUTES (default 1440);
- ``retention``: applies the courses' retention periods and those of the audit log and refused
  launches, every RETENTION_INTERVAL_MINUTES (default 1440);
- ``refresh-summaries``: writes the learner summaries that event-API and xAPI batches and
  launches marked stale (lti_tool.kpis.learner_summary.refresh_stale), every
  SUMMARY_REFRESH_SECONDS (default 10), so that those small writes do not rewrite a course in
  their own request.

An accidental second scheduler does nothing twice:

- on PostgreSQL a session-level advisory lock, held on a dedicated connection for the process's
  lifetime, lets one scheduler work while any other stands by (and takes over when it stops);
- every job run first claims its time slot in ``job_slot`` (unique on job and slot start), so two
  schedulers that both run (SQLite, or SCHEDULER_ADVISORY_LOCK=0 behind a transaction-pooling
  proxy) still run each slot once. Slots are aligned on the epoch, so "the 10:00 slot" means the
  same to every process, and at start each job runs at once for the current slot, which is how a
  scheduler that was down catches up.

SIGTERM or SIGINT stops it cleanly: no new job starts, a running sync stops before its next
request without writing anything, and the process exits 0.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from lti_tool.activity.sql import dialect_insert
from lti_tool.config import setting
from lti_tool.data.retention import run_retention
from lti_tool.extensions import db
from lti_tool.jobs.queue import COURSE_FINDERS, queue_run
from lti_tool.jobs.runs import run_queued, worker_id
from lti_tool.kpis import learner_summary
from lti_tool.models import JobSlot
from lti_tool.models.sync import SUCCEEDED
from lti_tool.models.types import DbSession, rowcount, utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.tracking_logs.folders import ingest_log_folders

log = logging.getLogger(__name__)

JOB_SYNC_COURSES = "sync-courses"
JOB_QUEUED_RUNS = "queued-runs"
JOB_INGEST_LOGS = "ingest-logs"
JOB_RETENTION = "retention"
JOB_REFRESH_SUMMARIES = "refresh-summaries"
#: The advisory lock's key: "lti_schd" as a 64-bit integer.
LOCK_KEY = int.from_bytes(b"lti_schd", "big")
#: How long claimed job slots are kept.
SLOT_KEEP = timedelta(days=3)


@dataclass(frozen=True)
class Settings:
    """What the scheduler needs to know, in seconds."""

    sync_interval: float = 3600.0
    queue_interval: float = 15.0
    log_interval: float = 86400.0
    retention_interval: float = 86400.0
    summary_interval: float = 10.0
    lock_retry: float = 10.0
    advisory_lock: bool = True
    shutdown_grace: float = 20.0
    run_timeout: timedelta = timedelta(hours=2)

    @classmethod
    def from_app(cls, app: Flask) -> Settings:
        """SYNC_INTERVAL_MINUTES (may be fractional), SCHEDULER_QUEUE_SECONDS,
        SUMMARY_REFRESH_SECONDS, SCHEDULER_LOCK_RETRY_SECONDS, SCHEDULER_ADVISORY_LOCK (0 turns
        it off), SCHEDULER_SHUTDOWN_SECONDS, SYNC_RUN_TIMEOUT_MINUTES: app config, else
        environment."""
        with app.app_context():
            return cls._read()

    @classmethod
    def _read(cls) -> Settings:
        settings = cls(
            sync_interval=float(setting("SYNC_INTERVAL_MINUTES", "60")) * 60,
            queue_interval=float(setting("SCHEDULER_QUEUE_SECONDS", "15")),
            log_interval=float(setting("LOG_INGEST_INTERVAL_MINUTES", "1440")) * 60,
            retention_interval=float(setting("RETENTION_INTERVAL_MINUTES", "1440")) * 60,
            summary_interval=float(setting("SUMMARY_REFRESH_SECONDS", "10")),
            lock_retry=float(setting("SCHEDULER_LOCK_RETRY_SECONDS", "10")),
            advisory_lock=setting("SCHEDULER_ADVISORY_LOCK", "1").lower()
            not in ("0", "false", "no", "off"),
            shutdown_grace=float(setting("SCHEDULER_SHUTDOWN_SECONDS", "20")),
            run_timeout=timedelta(minutes=float(setting("SYNC_RUN_TIMEOUT_MINUTES", "120"))),
        )
        for name in (
            "sync_interval",
            "queue_interval",
            "log_interval",
            "retention_interval",
            "summary_interval",
            "lock_retry",
        ):
            if getattr(settings, name) <= 0:
                raise ValueError(f"the scheduler's {name.replace('_', ' ')} must be positive")
        return settings


def slot_start(now: datetime, seconds: float) -> datetime:
    """The start of the time slot of length `seconds` holding `now` (slots aligned on the epoch)."""
    return datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, UTC)


def misfire_grace(seconds: float) -> int:
    """Half the interval: late enough to survive a busy moment, early enough to stay in the slot."""
    return max(1, int(seconds // 2))


class AlignedIntervalTrigger(IntervalTrigger):
    """An interval trigger that always fires on the slot boundaries counted from start_date.

    APScheduler's own adds the interval to the previous fire time, so a first run at start
    ("catch up now") would shift every later run off the boundaries.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The next aligned boundary after now and after the previous run (no catch-up runs)."""
        after = now
        if previous_fire_time is not None:
            after = max(now, previous_fire_time + timedelta(microseconds=1))
        fire_time: datetime | None = super().get_next_fire_time(None, after)
        return fire_time


def claim_slot(session: DbSession, job: str, slot: datetime, worker: str) -> bool:
    """Claim a job's slot (committed); False when another scheduler claimed it first."""
    insert = dialect_insert(session, JobSlot.__table__).values(
        job=job, slot_start=slot, claimed_by=worker, claimed_at=utcnow()
    )
    result = session.execute(insert.on_conflict_do_nothing(index_elements=["job", "slot_start"]))
    session.commit()
    return rowcount(result) == 1


def finish_slot(session: DbSession, job: str, slot: datetime, outcome: str) -> None:
    """Record how a claimed slot ended (committed)."""
    session.execute(
        update(JobSlot)
        .where(JobSlot.job == job, JobSlot.slot_start == slot)
        .values(finished_at=utcnow(), outcome=outcome[:2000])
    )
    session.commit()


def prune_slots(session: DbSession, before: datetime) -> int:
    """Forget slots claimed before `before`; the caller commits."""
    result = session.execute(delete(JobSlot).where(JobSlot.claimed_at < before))
    return rowcount(result) or 0


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own (not from the pool).

    A transaction-level lock would be gone at the first commit; this one lasts as long as the
    connection, and PostgreSQL releases it if the process dies.
    """

    def __init__(self, url: URL, key: int, name: str) -> None:
        self.key = key
        self.engine: Engine = create_engine(
            url, poolclass=NullPool, connect_args={"application_name": name[:63]}
        )
        self.conn: Connection | None = None

    def _connection(self) -> Connection:
        if self.conn is None:
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except SQLAlchemyError:
                pass
            self.conn = None

    def try_acquire(self) -> bool:
        """Take the lock if free (never waits)."""
        try:
            got = bool(
                self._connection().scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            )
        except SQLAlchemyError:
            self._drop()
            raise
        return got

    def _lock_rows(self, mine: bool) -> Any:
        sql = text(
            "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
            "AND (l.pid = pg_backend_pid() OR NOT :mine)"
        )
        params = {"hi": self.key >> 32, "lo": self.key & 0xFFFFFFFF, "mine": mine}
        return self._connection().execute(sql, params)

    def holder(self) -> str:
        """Who holds the lock, for the log."""
        try:
            row = self._lock_rows(mine=False).first()
        except SQLAlchemyError:
            self._drop()
            return "unknown"
        if row is None:
            return "nobody now"
        return f"{row.application_name or 'a session'} (backend pid {row.pid}, {row.client_addr})"

    def still_held(self) -> bool:
        """True while this connection is alive and holds the lock."""
        try:
            return self._lock_rows(mine=True).first() is not None
        except SQLAlchemyError:
            self._drop()
            return False

    def release(self) -> None:
        """Let go of the lock and the connection."""
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except SQLAlchemyError:
                pass
        self._drop()
        self.engine.dispose()


class SchedulerProcess:
    """One `flask scheduler run`: take the lock (or stand by), add the jobs, block until told to
    stop."""

    def __init__(self, app: Flask, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings.from_app(app)
        self.worker = worker_id()
        self.stopping = threading.Event()
        self.exit_code = 0
        self.lock: AdvisoryLock | None = None
        self._signalled: int | None = None
        self._main_done = threading.Event()
        self._active = 0
        self._idle = threading.Condition()
        self.scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    # --- process life -------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        watcher = threading.Thread(target=self._watch_signals, name="signal-watcher", daemon=True)
        watcher.start()
        try:
            with self.app.app_context():
                url = db.engine.url
            if url.get_backend_name() == "postgresql" and self.settings.advisory_lock:
                self.lock = AdvisoryLock(url, LOCK_KEY, f"lti_tool scheduler {self.worker}")
                if not self._wait_for_lock():
                    log.info("scheduler %s: stopped while standing by", self.worker)
                    return self.exit_code
            elif url.get_backend_name() == "postgresql":
                log.warning(
                    "scheduler %s: advisory lock turned off (SCHEDULER_ADVISORY_LOCK=0); only "
                    "the job slots keep a second scheduler from repeating work",
                    self.worker,
                )
            else:
                log.info(
                    "scheduler %s: %s has no advisory locks; the job slots keep a second "
                    "scheduler from running a slot twice",
                    self.worker,
                    url.get_backend_name(),
                )
            self._add_jobs()
            if self.stopping.is_set():
                return self.exit_code
            log.info(
                "scheduler %s started: %s (UTC)",
                self.worker,
                ", ".join(f"{job} every {_seconds(every)} s" for job, every, _ in self._jobs()),
            )
            self.scheduler.start()  # blocks until shutdown
            self._wait_for_jobs()
            log.info("scheduler %s stopped", self.worker)
            return self.exit_code
        finally:
            self._main_done.set()
            if self.lock is not None:
                self.lock.release()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Only a flag: locks, logging and threads are not safe inside a signal handler.
        self._signalled = signum

    def _watch_signals(self) -> None:
        while not self._main_done.is_set():
            if self._signalled is not None:
                log.info(
                    "scheduler %s: %s received, shutting down",
                    self.worker,
                    signal.Signals(self._signalled).name,
                )
                self.request_stop()
                return
            time.sleep(0.1)

    def request_stop(self) -> None:
        """Stop starting jobs, ask a running sync to stop, and shut the scheduler down."""
        self.stopping.set()
        threading.Thread(target=self._shutdown_scheduler, name="shutdown", daemon=True).start()

    def _shutdown_scheduler(self) -> None:
        # The scheduler may be between "lock taken" and "started": wait for it to be running.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self._main_done.is_set():
            if self.scheduler.state == STATE_RUNNING:
                try:
                    self.scheduler.shutdown(wait=False)
                except Exception:  # already stopped meanwhile
                    log.debug("scheduler already stopped", exc_info=True)
                return
            time.sleep(0.05)

    def _wait_for_lock(self) -> bool:
        assert self.lock is not None
        announced = False
        while not self.stopping.is_set():
            try:
                if self.lock.try_acquire():
                    log.info("scheduler %s: took the scheduler lock", self.worker)
                    return True
            except SQLAlchemyError as exc:
                log.warning("scheduler %s: cannot take the lock: %s", self.worker, exc)
            else:
                if not announced:
                    log.warning(
                        "scheduler %s: another scheduler holds the lock (%s); standing by, "
                        "trying again every %s s",
                        self.worker,
                        self.lock.holder(),
                        _seconds(self.settings.lock_retry),
                    )
                    announced = True
            self.stopping.wait(self.settings.lock_retry)
        return False

    def _wait_for_jobs(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_grace
        with self._idle:
            while self._active and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            busy = self._active
        if busy:
            log.warning(
                "scheduler %s: a job is still running after %s s; leaving it (its run will be "
                "found abandoned and marked failed; nothing it fetched is saved)",
                self.worker,
                _seconds(self.settings.shutdown_grace),
            )
            if self.lock is not None:
                self.lock.release()
            logging.shutdown()
            os._exit(self.exit_code)

    # --- jobs -----------------------------------------------------------------------------

    def _jobs(self) -> tuple[tuple[str, float, Callable[[], tuple[str, bool]]], ...]:
        """The job table with this process's intervals and bound bodies."""
        return tuple(
            (job.id, getattr(self.settings, job.every), job.body.__get__(self)) for job in JOBS
        )

    def _add_jobs(self) -> None:
        now = utcnow()
        for job_id, interval, body in self._jobs():
            self.scheduler.add_job(
                self._run_job,
                AlignedIntervalTrigger(
                    seconds=interval, start_date=slot_start(now, interval), timezone=UTC
                ),
                args=(job_id, interval, body),
                id=job_id,
                name=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=misfire_grace(interval),
                next_run_time=now,  # the current slot at once: catch-up after downtime
            )

    def _run_job(self, job_id: str, interval: float, body: Callable[[], tuple[str, bool]]) -> None:
        if self.stopping.is_set():
            return
        with self._idle:
            self._active += 1
        try:
            with self.app.app_context():
                try:
                    self._run_slot(job_id, interval, body)
                finally:
                    db.session.remove()
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _run_slot(self, job_id: str, interval: float, body: Callable[[], tuple[str, bool]]) -> None:
        if self.lock is not None and not self.lock.still_held():
            log.error(
                "scheduler %s: lost the scheduler lock (database connection gone?); stopping so "
                "that a supervisor restarts it",
                self.worker,
            )
            self.exit_code = 1
            self.request_stop()
            return
        slot = slot_start(utcnow(), interval)
        try:
            claimed = claim_slot(db.session, job_id, slot, self.worker)
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.error("job %s slot %s: cannot claim it: %s", job_id, slot.isoformat(), exc)
            return
        if not claimed:
            log.debug(
                "job %s slot %s: already claimed by another scheduler", job_id, slot.isoformat()
            )
            return
        try:
            outcome, notable = body()
        except Exception as exc:
            db.session.rollback()
            log.exception("job %s slot %s failed", job_id, slot.isoformat())
            outcome, notable = f"failed: {type(exc).__name__}: {exc}", True
        try:
            finish_slot(db.session, job_id, slot, outcome)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("job %s slot %s: cannot record its outcome", job_id, slot.isoformat())
        log.log(
            logging.INFO if notable else logging.DEBUG,
            "job %s slot %s ran by %s: %s",
            job_id,
            slot.isoformat(),
            self.worker,
            outcome,
        )

    def _sync_courses(self) -> tuple[str, bool]:
        session = db.session
        queued = []
        for source, find in COURSE_FINDERS.items():
            course_ids = find(session)
            for course_id in course_ids:
                queue_run(session, course_id, source, trigger="schedule")
            if course_ids:
                queued.append(f"{len(course_ids)} from {source}")
        prune_slots(session, utcnow() - SLOT_KEEP)
        session.commit()
        return "queued syncs: " + (", ".join(queued) or "none"), True

    def _ingest_logs(self) -> tuple[str, bool]:
        outcome = ingest_log_folders(db.session, workers=0)
        return outcome, outcome != "no log folders configured"

    def _retention(self) -> tuple[str, bool]:
        config = self.app.config
        outcome = run_retention(
            db.session,
            config.get("AUDIT_RETENTION_DAYS"),
            config.get("LAUNCH_ERROR_RETENTION_DAYS"),
        )
        return outcome, True

    def _refresh_summaries(self) -> tuple[str, bool]:
        refreshed = learner_summary.refresh_stale(db.session, pseudonym_key())
        if not refreshed:
            return "no stale summaries", False
        return f"refreshed the learner summaries of {refreshed} courses", True

    def _queued_runs(self) -> tuple[str, bool]:
        runs = run_queued(
            db.session, should_stop=self.stopping.is_set, timeout=self.settings.run_timeout
        )
        if not runs:
            return "no queued runs", False
        ok = sum(1 for run in runs if run.status == SUCCEEDED)
        return f"ran {len(runs)} queued runs: {ok} succeeded, {len(runs) - ok} failed", True


@dataclass(frozen=True)
class Job:
    """One line of the job table: its id, the Settings field holding its interval (seconds) and
    its body, which returns (outcome for job_slot and the log, whether to log it at INFO)."""

    id: str
    every: str
    body: Callable[[SchedulerProcess], tuple[str, bool]]


#: The scheduler's jobs, in the order they are added (and run at start).
JOBS: tuple[Job, ...] = (
    Job(JOB_SYNC_COURSES, "sync_interval", SchedulerProcess._sync_courses),
    Job(JOB_QUEUED_RUNS, "queue_interval", SchedulerProcess._queued_runs),
    Job(JOB_INGEST_LOGS, "log_interval", SchedulerProcess._ingest_logs),
    Job(JOB_RETENTION, "retention_interval", SchedulerProcess._retention),
    Job(JOB_REFRESH_SUMMARIES, "summary_interval", SchedulerProcess._refresh_summaries),
)


def _seconds(value: float) -> str:
    return f"{value:g}"


def configure_logging(app: Flask) -> None:
    """Log to stderr unless logging is set up already (production's JSON logs are)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=str(app.config.get("LOG_LEVEL", "INFO")).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    # APScheduler says "Running job …" and "executed successfully" every few seconds.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
