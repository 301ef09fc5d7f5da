"""Dates on pages as the page's language writes them (due dates, sync times, the enrollment
page's days, admin timestamps), never the ISO form in Spanish and Norwegian; CSV stays ISO."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.activity.rollups import week_start
from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.lti import keys
from lti_tool.models import Assignment, Course, CourseSettings, SyncRun
from tests.helpers.admin import admin_client, estate
from tests.helpers.classes import build_class
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, launch_token, session_token
from tests.helpers.tracking_logs import COURSE, event, ingest, write
from tests.views.test_enrollment_page import TODAY, history  # noqa: F401 (a fixture)

ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _speak(app: Flask, language: str) -> None:
    with app.app_context():
        row = db.session.get(CourseSettings, 1) or CourseSettings(course_id=1)
        row.language = language
        db.session.add(row)
        db.session.commit()


def _table(html: str, table: str) -> str:
    body = html[html.index(f'id="{table}"') :]
    return body[: body.index("</table>")]


def test_the_enrollment_pages_days_in_norwegian_and_its_csv_in_iso(
    app: Flask,
    client: FlaskClient,
    history: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    _speak(app, "nb")
    html = client.get(f"/courses/1/enrollment?t={history['t']}").get_data(as_text=True)
    days = _table(html, "table-enrollment")
    assert f'<th scope="row">{formats.day(TODAY, "nb")}</th>' in days
    assert not ISO_DAY.search(days)
    csv = client.get(f"/courses/1/enrollment.csv?t={history['t']}").get_data(as_text=True)
    assert TODAY.isoformat() in csv


def test_a_learners_due_dates_in_spanish(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token = launch_token(client, platform, LEARNER, "learner-9")
    due = datetime(2026, 3, 13, 22, 59, tzinfo=UTC)
    with app.app_context():
        build_class(db.session.get(Course, 1))
        db.session.add(Assignment(course_id=1, lms_assignment_id="e", name="Essay", due_at=due))
        db.session.commit()
    _speak(app, "es")
    html = client.get(f"/courses/1/me?t={token}").get_data(as_text=True)
    work = _table(html, "table-my-due")
    assert f"<td>Essay</td><td>{formats.moment(due, 'es')}</td>" in work
    assert not ISO_DAY.search(work)


def test_admin_timestamps_in_norwegian(app: Flask, platform: FakePlatform) -> None:
    client = admin_client(app)
    course_id = estate(app, platform.name, "x")["course"]
    finished = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    with app.app_context():
        key = keys.active_key()
        key.created_at = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
        db.session.add(
            SyncRun(
                course_id=course_id,
                source="canvas",
                status="failed",
                error="boom",
                queued_at=finished - timedelta(minutes=1),
                finished_at=finished,
            )
        )
        db.session.commit()
    norwegian = {"Accept-Language": "nb"}
    page = client.get("/admin/keys", headers=norwegian).get_data(as_text=True)
    assert formats.moment(datetime(2026, 1, 5, 9, 15), "nb") + " UTC" in page
    assert "2026-01-05" not in page
    runs = client.get("/admin/sync", headers=norwegian).get_data(as_text=True)
    assert formats.moment(datetime(2026, 3, 2, 8, 30), "nb") + ": boom" in runs
    # The run's status (a code) in words too.
    assert "mislyktes " + formats.moment(datetime(2026, 3, 2, 8, 30), "nb") in runs
    assert "2026-03-02" not in runs


def test_the_week_in_progress_is_named_by_its_day_in_spanish(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    monday = datetime.combine(week_start(now.date()), datetime.min.time())
    stamps = [monday - timedelta(days=7, hours=-10), monday + timedelta(seconds=1)]
    ingest(runner, write(tmp_path / "t.log", [event(s.isoformat(sep=" ")) for s in stamps]))
    token = session_token(platform.launch(client, **{CLAIM + "context": {"id": COURSE}}))
    _speak(app, "es")
    html = client.get(f"/courses/1/?t={token}").get_data(as_text=True)
    note = re.search(r'<p class="muted partial-note">(.*?)</p>', html, re.S)
    assert note and f"(desde el {formats.day(monday.date(), 'es')})" in note[1]
    table = _table(html, "table-weekly-time")
    assert f"<td>{formats.day(monday.date(), 'es')} (hasta ahora)</td>" in table
    assert monday.date().isoformat() not in note[1] + table
