"""Log folders: registered with `flask sources add-log-folder`, ingested by the nightly job."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.jobs.scheduler import JOB_INGEST_LOGS, SchedulerProcess
from lti_tool.models import ActivityBlock, Course, DataSource, JobSlot, Person
from lti_tool.tracking_logs.folders import ingest_log_folders
from tests.helpers.platform import FakePlatform
from tests.helpers.tracking_logs import COURSE, event, write


@pytest.fixture(autouse=True)
def _log_folder_roots(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Log folders may only be added under LOG_FOLDER_ROOTS: the tests' folders are in tmp_path."""
    if "app" in request.fixturenames:
        # /nonexistent too: a missing folder under a root is refused for being missing.
        request.getfixturevalue("app").config["LOG_FOLDER_ROOTS"] = f"{tmp_path},/nonexistent"


def events_stored(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.coalesce(func.sum(ActivityBlock.events), 0))) or 0


def add_folder(runner: FlaskCliRunner, path: Path | str, platform: str = "Example LMS") -> str:
    result = runner.invoke(args=["sources", "add-log-folder", "--platform", platform, str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_folder_is_registered_once_and_listed(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    assert "added" in add_folder(runner, folder)
    assert "already there" in add_folder(runner, folder)
    listed = json.loads(runner.invoke(args=["sources", "list", "--json"]).output)
    assert [(s["platform"], s["kind"], s["location"]) for s in listed] == [
        ("Example LMS", "log_folder", str(folder.resolve()))
    ]
    assert listed[0]["has_secret"] is False


@pytest.mark.parametrize(
    ("path", "why"),
    [("relative/logs", "not an absolute path"), ("/nonexistent/logs", "does not exist")],
)
def test_a_bad_folder_is_refused_with_the_reason(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, path: str, why: str
) -> None:
    result = runner.invoke(args=["sources", "add-log-folder", "--platform", "Example LMS", path])
    assert result.exit_code != 0
    assert why in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(DataSource.id))) == 0


def test_an_unknown_platform_is_refused(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["sources", "add-log-folder", "--platform", "Nope", str(tmp_path)])
    assert result.exit_code != 0
    assert "no platform named 'Nope'" in result.output


def test_the_nightly_job_ingests_new_logs_once_and_then_only_what_is_new(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    write(folder / "tracking.log", [event("2026-03-02 10:00:00"), event("2026-03-02 10:10:00")])
    add_folder(runner, folder)
    process = SchedulerProcess(app)
    with app.app_context():
        process._run_slot(JOB_INGEST_LOGS, 86400, process._ingest_logs)
        # A second scheduler (or a restart) in the same slot does nothing.
        process._run_slot(JOB_INGEST_LOGS, 86400, process._ingest_logs)
        [slot] = db.session.scalars(select(JobSlot).where(JobSlot.job == JOB_INGEST_LOGS))
        assert slot.outcome.endswith(
            "2 events ingested from 1 files (0 unchanged, 0 lines skipped)"
        )
        # The learners and course belong to the folder's platform.
        course = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
        assert course is not None and course.platform_id is not None
    assert events_stored(app) == 2

    # logrotate: the old file gzipped under a new name, a new file started.
    (folder / "tracking.log.1.gz").write_bytes(
        gzip.compress((folder / "tracking.log").read_bytes())
    )
    write(folder / "tracking.log", [event("2026-03-03 09:00:00"), event("2026-03-03 09:05:00")])
    with app.app_context():
        outcome = ingest_log_folders(db.session)
        assert "2 events ingested from 2 files (1 unchanged" in outcome
        assert db.session.scalar(select(func.count(Person.id))) == 1
    assert events_stored(app) == 4


def test_a_broken_folder_is_reported_and_the_others_still_ingested(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    write(good / "a.log", [event("2026-03-02 10:00:00")])
    add_folder(runner, bad)
    add_folder(runner, good)
    bad.rmdir()
    bad.write_text("a file where the folder was")
    with app.app_context():
        outcome = ingest_log_folders(db.session)
        row = db.session.scalar(select(DataSource).where(DataSource.location == str(bad)))
        assert row.last_check == f"{bad} is not a folder"
    assert f"{bad} is not a folder" in outcome and "1 events ingested" in outcome
    assert events_stored(app) == 1


def test_a_folder_that_disappeared_is_reported(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    add_folder(runner, folder)
    folder.rmdir()
    with app.app_context():
        assert ingest_log_folders(db.session) == f"{folder}: {folder} does not exist"
