"""`flask scheduler run`: jobs, time slots, the advisory lock, SIGTERM — as real processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from lti_tool import create_app
from lti_tool.config import TestingConfig
from lti_tool.extensions import db
from lti_tool.jobs.scheduler import (
    JOB_INGEST_LOGS,
    JOB_QUEUED_RUNS,
    JOB_REFRESH_SUMMARIES,
    JOB_RETENTION,
    JOB_SYNC_COURSES,
    SchedulerProcess,
    Settings,
    claim_slot,
    misfire_grace,
    slot_start,
)
from lti_tool.lti import keys
from lti_tool.models import Course, CourseSettings, JobSlot, Platform, SyncRun
from tests.helpers.database import PG_URL
from tests.helpers.fake_nrps import ROSTER, FakeNrps
from tests.helpers.platform import FakePlatform
from tests.helpers.processes import production_env

ROOT = Path(__file__).resolve().parents[2]
RAN = re.compile(r"job (\S+) slot (\S+) ran by (\S+): (.*)$")
needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")


def test_slots_are_aligned_and_claimed_once(app: Flask) -> None:
    at = datetime(2026, 11, 22, 10, 59, 59, 900000, tzinfo=UTC)
    assert slot_start(at, 3600) == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert slot_start(at, 15) == datetime(2026, 11, 22, 10, 59, 45, tzinfo=UTC)
    assert slot_start(at + timedelta(seconds=0.1), 3600) == datetime(2026, 11, 22, 11, tzinfo=UTC)
    assert misfire_grace(3600) == 1800 and misfire_grace(15) == 7 and misfire_grace(1) == 1
    with app.app_context():
        slot = slot_start(at, 3600)
        assert claim_slot(db.session, JOB_SYNC_COURSES, slot, "a:1") is True
        assert claim_slot(db.session, JOB_SYNC_COURSES, slot, "b:2") is False
        assert claim_slot(db.session, JOB_QUEUED_RUNS, slot, "b:2") is True
        rows = list(db.session.scalars(select(JobSlot).order_by(JobSlot.id)))
        assert [(r.job, r.claimed_by) for r in rows] == [
            (JOB_SYNC_COURSES, "a:1"),
            (JOB_QUEUED_RUNS, "b:2"),
        ]


def test_jobs_have_stable_ids_and_safe_defaults(app: Flask) -> None:
    app.config.update(
        SYNC_INTERVAL_MINUTES="30", SCHEDULER_QUEUE_SECONDS="10", LOG_INGEST_INTERVAL_MINUTES="1440"
    )
    process = SchedulerProcess(app)
    process._add_jobs()
    process._add_jobs()  # re-added at every start: replaced, not doubled
    jobs = {job.id: job for job in process.scheduler.get_jobs()}
    assert set(jobs) == {
        JOB_SYNC_COURSES,
        JOB_QUEUED_RUNS,
        JOB_INGEST_LOGS,
        JOB_RETENTION,
        JOB_REFRESH_SUMMARIES,
    }
    for job_id, seconds in (
        (JOB_SYNC_COURSES, 1800),
        (JOB_QUEUED_RUNS, 10),
        (JOB_INGEST_LOGS, 86400),
        (JOB_RETENTION, 86400),
        (JOB_REFRESH_SUMMARIES, 10),  # SUMMARY_REFRESH_SECONDS' default
    ):
        job = jobs[job_id]
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == seconds // 2
        assert job.trigger.interval == timedelta(seconds=seconds)
        assert str(job.trigger.timezone) == "UTC"
        # Slots aligned on the epoch: every scheduler means the same instants.
        assert job.trigger.start_date.timestamp() % seconds == 0
    assert str(process.scheduler.timezone) == "UTC"
    # After the catch-up run at start (any instant), runs come back onto the boundaries.
    trigger = jobs[JOB_QUEUED_RUNS].trigger
    # Instants after the trigger's start (which is about now): a fixed date would go stale.
    base = trigger.start_date + timedelta(days=1)
    odd = base + timedelta(seconds=3.3)
    boundary = base + timedelta(seconds=10)
    assert trigger.get_next_fire_time(odd, odd) == boundary
    assert trigger.get_next_fire_time(boundary, boundary) == boundary + timedelta(seconds=10)
    late = boundary + timedelta(seconds=25)  # a busy moment: the next boundary after now
    assert trigger.get_next_fire_time(boundary, late) == boundary + timedelta(seconds=30)


def test_settings_from_config_or_environment(
    app: Flask, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_app(app) == Settings()  # hourly sync, 15-second queue checks
    monkeypatch.setenv("SYNC_INTERVAL_MINUTES", "0.5")
    monkeypatch.setenv("SCHEDULER_ADVISORY_LOCK", "off")
    settings = Settings.from_app(app)
    assert settings.sync_interval == 30 and settings.advisory_lock is False
    app.config["SYNC_INTERVAL_MINUTES"] = "0"  # the app's config wins over the environment
    with pytest.raises(ValueError, match="sync interval must be positive"):
        Settings.from_app(app)
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 1 and "sync interval must be positive" in result.output


def test_sync_courses_job_queues_each_course_once(app: Flask, platform: FakePlatform) -> None:
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add_all(
            [
                Course(
                    platform_id=platform_id,
                    lti_context_id="with-nrps",
                    nrps_memberships_url="https://lms.example.edu/nrps/1",
                    nrps_client_id=platform.client_id,
                ),
                Course(platform_id=platform_id, lti_context_id="without-nrps"),
            ]
        )
        db.session.commit()
    process = SchedulerProcess(app)
    with app.app_context():
        assert process._sync_courses() == ("queued syncs: 1 from nrps", True)
        process._sync_courses()  # still queued: not queued twice
        queued = list(db.session.scalars(select(SyncRun)))
        assert [(r.status, r.trigger, r.source) for r in queued] == [("queued", "schedule", "nrps")]


def test_a_course_asks_about_itself_alone(app: Flask, platform: FakePlatform) -> None:
    # A page asks whether a source can sync its course: the answer for that course, read for
    # it alone (the scheduler's list stays every course's).
    from lti_tool.jobs import queue

    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        courses = [
            Course(
                platform_id=platform_id,
                lti_context_id=f"with-nrps-{n}",
                nrps_memberships_url=f"https://lms.example.edu/nrps/{n}",
                nrps_client_id=platform.client_id,
            )
            for n in range(3)
        ]
        without = Course(platform_id=platform_id, lti_context_id="without-nrps")
        db.session.add_all([*courses, without])
        db.session.commit()
        ids = [course.id for course in courses]
        assert queue.courses_to_sync(db.session, "nrps") == ids
        assert queue.can_sync(db.session, ids[1], "nrps")
        assert not queue.can_sync(db.session, without.id, "nrps")
        assert not queue.can_sync(db.session, ids[1], "canvas")
        assert queue.COURSE_FINDERS["nrps"](db.session, ids[1]) == [ids[1]]
        assert queue.COURSE_FINDERS["nrps"](db.session, without.id) == []


def test_a_page_reads_its_sources_and_runs_once_as_they_were_asked_one_by_one(
    app: Flask, platform: FakePlatform
) -> None:
    # The overview's sync panel: which sources can sync the course (one read for the three,
    # each course finder's answer) and per source its latest, pending and last successful run
    # (one read, models.sync.last_succeeded's answer).
    from lti_tool.jobs import queue
    from lti_tool.models import DataSource
    from lti_tool.models.sync import SOURCES, last_succeeded

    at = datetime(2026, 3, 2, 8, tzinfo=UTC)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add(
            DataSource(platform_id=platform_id, kind="canvas", location="https://c.test")
        )
        roster = Course(
            platform_id=platform_id,
            lti_context_id="nrps",
            nrps_memberships_url="https://lms.example.edu/nrps/1",
            nrps_client_id=platform.client_id,
        )
        canvas = Course(platform_id=platform_id, lti_context_id="canvas", lms_course_id="7")
        neither = Course(platform_id=platform_id, lti_context_id="neither")
        db.session.add_all([roster, canvas, neither])
        db.session.flush()

        def ran(course: Course, source: str, status: str, hours: int, done: int | None) -> None:
            finished = at + timedelta(hours=done) if done is not None else None
            queued = at + timedelta(hours=hours)
            db.session.add(
                SyncRun(
                    course_id=course.id,
                    source=source,
                    status=status,
                    queued_at=queued,
                    finished_at=finished,
                )
            )

        # nrps: two successes (the later finished last though queued first), then a failure.
        ran(roster, "nrps", "succeeded", 0, 5)
        ran(roster, "nrps", "succeeded", 1, 2)
        ran(roster, "nrps", "failed", 3, 4)
        # canvas: a success, then one running and one queued behind it.
        ran(canvas, "canvas", "succeeded", 0, 1)
        ran(canvas, "canvas", "running", 2, None)
        ran(canvas, "canvas", "queued", 3, None)
        db.session.commit()
        for course in (roster, canvas, neither):
            able = {s for s in SOURCES if course.id in queue.COURSE_FINDERS[s](db.session)}
            assert queue.able_sources(db.session, course.id) == able
            runs = queue.runs_by_source(db.session, course.id)
            for source in SOURCES:
                latest = db.session.scalar(
                    select(SyncRun)
                    .where(SyncRun.course_id == course.id, SyncRun.source == source)
                    .order_by(SyncRun.queued_at.desc(), SyncRun.id.desc())
                    .limit(1)
                )
                assert runs[source].latest is latest
                assert runs[source].succeeded is last_succeeded(db.session, course.id, source)
        assert queue.able_sources(db.session, roster.id) == {"nrps"}
        assert queue.able_sources(db.session, canvas.id) == {"canvas"}
        nrps = queue.runs_by_source(db.session, roster.id)["nrps"]
        assert (nrps.latest.status, nrps.pending) == ("failed", None)  # type: ignore[union-attr]
        assert nrps.succeeded.finished_at == at + timedelta(hours=5)  # type: ignore[union-attr]
        on_canvas = queue.runs_by_source(db.session, canvas.id)["canvas"]
        assert on_canvas.pending.status == "running"  # type: ignore[union-attr]
        assert on_canvas.latest.status == "queued"  # type: ignore[union-attr]
        assert queue.runs_by_source(db.session, neither.id) == {
            source: queue.SourceRuns(None, None, None) for source in SOURCES
        }


# --- real processes -------------------------------------------------------------------------


@pytest.fixture
def seeded(database: str) -> Iterator[tuple[str, FakeNrps]]:
    """The schema, a platform served by a fake NRPS, and a course with its memberships URL."""
    nrps = FakeNrps(client_id="client-1", members=[dict(m) for m in ROSTER]).start()
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database})
    lms = FakePlatform(issuer=nrps.origin, client_id="client-1")
    with app.app_context():
        db.create_all()
    lms.register(app)
    with app.app_context():
        nrps.tool_jwks = keys.jwks()
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add(
            Course(
                platform_id=platform_id,
                lti_context_id="course-ctx-1",
                nrps_memberships_url=nrps.memberships_url,
                nrps_client_id="client-1",
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    yield database, nrps
    nrps.stop()


class Scheduler:
    """One `flask scheduler run` process, its log in a file."""

    def __init__(self, database: str, log: Path, **settings: str) -> None:
        env = production_env(
            database,
            log.parent,
            SECRET_KEY="scheduler-test",
            # The tool's key is stored encrypted: the scheduler needs the same data key.
            DATA_ENCRYPTION_KEY=TestingConfig.DATA_ENCRYPTION_KEY,
            LOG_JSON="0",
            LOG_LEVEL="DEBUG",
            # A 3-second sync interval and 1-second queue checks: many slots in a few seconds.
            SYNC_INTERVAL_MINUTES="0.05",
            SCHEDULER_QUEUE_SECONDS="1",
            SCHEDULER_LOCK_RETRY_SECONDS="0.5",
            SYNC_RETRY_DELAYS="0,0",
        )
        env.update(settings)  # a test's own settings over these
        self.log = log
        self._file: IO[str] = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "scheduler", "run"],
            env=env,
            cwd=ROOT,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the log:\n{self.text()}")
            time.sleep(0.1)

    def terminate(self, within: float = 5.0) -> int:
        """SIGTERM; the exit code, which must come within `within` seconds."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"no exit {within} s after SIGTERM:\n{self.text()}") from None
        finally:
            self._file.close()
        assert time.monotonic() - started < within
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._file.close()

    def ran(self) -> list[tuple[str, str, str]]:
        """(job, slot, worker) of every slot this process ran, from its log."""
        found = []
        for line in self.text().splitlines():
            match = RAN.search(line)
            if match:
                found.append((match[1], match[2], match[3]))
        return found


def slot_rows(database: str) -> list[tuple[str, str, str]]:
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        rows = [
            (r.job, r.slot_start.astimezone(UTC).isoformat(), r.claimed_by)
            for r in db.session.scalars(select(JobSlot))
        ]
        db.engine.dispose()
    return rows


def sync_runs(database: str) -> list[tuple[str, str | None]]:
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        rows = [(r.status, r.error) for r in db.session.scalars(select(SyncRun))]
        db.engine.dispose()
    return rows


def assert_each_slot_once(database: str, *schedulers: Scheduler) -> list[tuple[str, str, str]]:
    ran = [entry for s in schedulers for entry in s.ran()]
    twice = {k: n for k, n in Counter((job, slot) for job, slot, _ in ran).items() if n > 1}
    assert not twice, f"slots run more than once: {twice}"
    assert sorted(ran) == sorted(slot_rows(database))
    jobs = Counter(job for job, _, _ in ran)
    assert jobs[JOB_SYNC_COURSES] >= 3 and jobs[JOB_QUEUED_RUNS] >= 6, jobs
    return ran


def assert_runs_ok(database: str) -> tuple[int, int]:
    """Runs succeeded, except one a SIGTERM stopped mid-way (which wrote nothing) and one queued
    just before the end (left for the next scheduler). Returns (succeeded, started)."""
    runs = sync_runs(database)
    succeeded = [r for r in runs if r[0] == "succeeded"]
    stopped = [r for r in runs if r[0] == "failed" and (r[1] or "").startswith("stopped: ")]
    queued = [r for r in runs if r[0] == "queued"]
    assert len(succeeded) >= 2 and len(stopped) <= 1 and len(queued) <= 1, runs
    assert len(succeeded) + len(stopped) + len(queued) == len(runs), runs
    return len(succeeded), len(succeeded) + len(stopped)


@needs_pg
def test_second_scheduler_stands_by_on_the_advisory_lock_then_takes_over(
    seeded: tuple[str, FakeNrps], tmp_path: Path
) -> None:
    database, nrps = seeded
    first = Scheduler(database, tmp_path / "first.log")
    second = third = None
    try:
        first.wait_for("started")
        time.sleep(1.3)  # a different start time, mid-slot
        second = Scheduler(database, tmp_path / "second.log")
        second.wait_for("another scheduler holds the lock")
        assert "lti_tool scheduler" in second.text()  # it says who holds it
        third = Scheduler(database, tmp_path / "third.log")
        third.wait_for("standing by")
        assert third.terminate() == 0  # SIGTERM while standing by

        time.sleep(8)
        assert second.ran() == []  # nothing while the first one works
        assert first.terminate() == 0
        assert "SIGTERM received" in first.text() and "stopped" in first.text()
        second.wait_for("took the scheduler lock", timeout=5)
        time.sleep(4)
        assert second.ran(), second.text()  # it carried on where the first stopped
        assert second.terminate() == 0
    finally:
        for proc in (first, second, third):
            if proc is not None:
                proc.kill()
    assert_each_slot_once(database, first, second)
    succeeded, started = assert_runs_ok(database)
    assert succeeded <= nrps.count("POST /token") <= started  # one token per run


@needs_pg
def test_a_scheduler_that_loses_its_lock_stops(
    seeded: tuple[str, FakeNrps], tmp_path: Path
) -> None:
    database, _ = seeded
    scheduler = Scheduler(database, tmp_path / "scheduler.log")
    try:
        scheduler.wait_for("started")
        admin = create_engine(database, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'lti_tool scheduler%'"
                )
            )
        admin.dispose()
        assert killed == 1
        code = scheduler.proc.wait(timeout=10)
    finally:
        scheduler.kill()
    assert code == 1  # a supervisor restarts it, and it waits for the lock again
    assert "lost the scheduler lock" in scheduler.text()


def test_two_schedulers_without_the_lock_still_run_each_slot_once(
    seeded: tuple[str, FakeNrps], tmp_path: Path
) -> None:
    """SQLite, or PostgreSQL with SCHEDULER_ADVISORY_LOCK=0: the job_slot rows alone decide."""
    database, _ = seeded
    first = Scheduler(database, tmp_path / "first.log", SCHEDULER_ADVISORY_LOCK="0")
    second = None
    try:
        first.wait_for("started")
        time.sleep(1.3)
        second = Scheduler(database, tmp_path / "second.log", SCHEDULER_ADVISORY_LOCK="0")
        second.wait_for("started")
        time.sleep(8)
        assert first.terminate() == 0
        assert second.terminate() == 0
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.kill()
    assert_each_slot_once(database, first, second)
    # Both worked the same slots: one ran each, the other found it claimed.
    assert "already claimed by another scheduler" in first.text() + second.text()
    assert_runs_ok(database)


def test_sigterm_exits_cleanly(seeded: tuple[str, FakeNrps], tmp_path: Path) -> None:
    database, _ = seeded
    scheduler = Scheduler(database, tmp_path / "scheduler.log", SYNC_INTERVAL_MINUTES="60")
    try:
        scheduler.wait_for(f"job {JOB_SYNC_COURSES} slot")  # the catch-up run at start
        assert scheduler.terminate(within=5) == 0
    finally:
        scheduler.kill()
    log = scheduler.text()
    assert "SIGTERM received, shutting down" in log and "stopped" in log
    assert "Traceback" not in log


def test_sigterm_during_a_slow_sync_stops_it_without_writing(
    seeded: tuple[str, FakeNrps], tmp_path: Path
) -> None:
    database, nrps = seeded
    nrps.fail = {2: "slow"}
    nrps.slow_seconds = 3
    scheduler = Scheduler(
        database, tmp_path / "scheduler.log", SYNC_INTERVAL_MINUTES="60", SYNC_HTTP_TIMEOUT="1"
    )
    try:
        nrps.wait_for("GET /mod/lti/services.php/CourseSection/2/bindings/3/memberships?page=2")
        assert scheduler.terminate(within=5) == 0
    finally:
        scheduler.kill()
    [(status, error)] = sync_runs(database)
    assert status == "failed" and error.startswith("stopped: the process is shutting down"), error


def test_the_retention_job_applies_course_settings_once_per_slot(
    app: Flask, platform: FakePlatform
) -> None:
    with app.app_context():
        course = Course(platform_id=db.session.scalar(select(Platform.id)), lti_context_id="c")
        db.session.add(course)
        db.session.flush()
        db.session.add(CourseSettings(course_id=course.id, retention_days=30))
        db.session.commit()
    process = SchedulerProcess(app)
    with app.app_context():
        process._run_slot(JOB_RETENTION, 86400, process._retention)
        process._run_slot(JOB_RETENTION, 86400, process._retention)  # same slot: nothing twice
        [slot] = db.session.scalars(select(JobSlot).where(JobSlot.job == JOB_RETENTION))
        assert slot.outcome.startswith("retention: 1 courses with a retention period")
