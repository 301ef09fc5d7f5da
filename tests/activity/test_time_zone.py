"""Days and weeks in the course's time zone: the rollups count the course's calendar days.

Times below: New York is UTC-5 in early March 2026 (daylight saving time starts on March 8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, CourseSettings
from tests.helpers.classes import GOOD
from tests.helpers.platform import FakePlatform, session_token
from tests.helpers.tracking_logs import event, write

KEY = "course-ctx-1"  # the fake platform's context id: logs and launches meet in one course
EVENTS = [
    "2026-03-02 04:30:00",  # Sunday 1 March, 23:30 in New York; Monday 2 March in UTC
    "2026-03-03 03:00:00",  # Monday 2 March, 22:00 in New York
    "2026-03-03 03:10:00",  # 22:10
    "2026-03-03 04:50:00",  # 23:50
    "2026-03-03 05:05:00",  # Tuesday 3 March, 00:05 in New York: its 15-minute gap is Tuesday's
]


def report(runner: FlaskCliRunner, name: str) -> list[dict[str, Any]]:
    result = runner.invoke(args=["report", name, "--course", KEY])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def days(runner: FlaskCliRunner) -> list[tuple[str, float, int]]:
    return [(r["day"], r["seconds"], r["events"]) for r in report(runner, "time-spent")]


def weeks(runner: FlaskCliRunner) -> list[tuple[str, int]]:
    return [
        (r["week_start"], r["count"])
        for r in report(runner, "weekly-activity")
        if r["label"] == "ACTIVE"
    ]


def ingest(runner: FlaskCliRunner, tmp_path: Path) -> None:
    log = write(tmp_path / "tracking.log", [event(at, course=KEY) for at in EVENTS])
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--json"])
    assert result.exit_code == 0, result.output


def launched_course(app: Flask, client: FlaskClient, platform: FakePlatform) -> str:
    """A staff launch (the course exists at the platform); returns the session token."""
    return session_token(platform.launch(client))


def test_utc_days_by_default(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    launched_course(app, client, platform)
    ingest(runner, tmp_path)
    # UTC: Monday 2 March holds one event; Tuesday 3 March four, with gaps of 10 min, 1 h 40
    # (over the cutoff) and 15 min: 600 + 900 s. The first gap (22 h 30) is over the cutoff.
    assert days(runner) == [("2026-03-02", 0.0, 1), ("2026-03-03", 1500.0, 4)]
    assert weeks(runner) == [("2026-03-02", 1)]


def test_new_york_days_and_weeks_after_the_setting_changes(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    t = launched_course(app, client, platform)
    ingest(runner, tmp_path)
    saved = client.post(
        "/courses/1/settings", data={**GOOD, "time_zone": "America/New_York", "t": t}
    )
    assert saved.status_code == 303
    # Sunday 1 March: one event; Monday 2 March: 22:00, 22:10, 23:50 (a 10-minute gap, then
    # 1 h 40 over the cutoff); Tuesday 3 March: 00:05, whose 15-minute gap reaches back to
    # Monday 23:50 and belongs to Tuesday, the day of the event that ends it.
    assert days(runner) == [
        ("2026-03-01", 0.0, 1),
        ("2026-03-02", 600.0, 3),
        ("2026-03-03", 900.0, 1),
    ]
    # Sunday 1 March is in the ISO week that starts on Monday 23 February.
    assert weeks(runner) == [("2026-02-23", 1), ("2026-03-02", 1)]
    # Back to UTC: the days are the UTC ones again.
    client.post("/courses/1/settings", data={**GOOD, "time_zone": "UTC", "t": t})
    assert days(runner) == [("2026-03-02", 0.0, 1), ("2026-03-03", 1500.0, 4)]


def test_an_ingest_after_the_setting_counts_new_york_days(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    launched_course(app, client, platform)
    with app.app_context():
        course = db.session.scalar(select(Course))
        db.session.add(CourseSettings(course_id=course.id, time_zone="America/New_York"))
        db.session.commit()
    ingest(runner, tmp_path)
    assert [d for d, _s, _e in days(runner)] == ["2026-03-01", "2026-03-02", "2026-03-03"]
