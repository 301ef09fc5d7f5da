"""The settings page: validation (the privacy floor never below 5), saving, data-source state, and
the pages and KPIs honouring the settings."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import course_settings, learners
from lti_tool.models import Course, CourseSettings, SyncRun
from lti_tool.models.course import STUDENT_VIEWS
from tests.helpers.classes import GOOD, NOW, build_class
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow, session_token
from tests.helpers.tracking_logs import COURSE, class_log, ingest


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


def test_defaults_and_source_state(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    t = session_token(platform.launch(client))
    html = _flat(client.get(f"/courses/1/settings?t={t}").get_data(as_text=True))
    assert 'name="time_zone" value="UTC"' in html
    assert 'name="time_cutoff_minutes" min="1" max="240" value="30"' in html
    assert 'name="privacy_floor" min="5" value="5"' in html
    assert html.count('name="student_views"') == 6 and html.count(" checked>") == 6
    assert "<td>Roster (LTI Names and Roles)</td><td>never run</td><td>never</td>" in html
    with app.app_context():
        done = datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
        db.session.add(
            SyncRun(
                course_id=1, source="nrps", status="succeeded", finished_at=done, queued_at=done
            )
        )
        later = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
        db.session.add(
            SyncRun(
                course_id=1,
                source="nrps",
                status="failed",
                finished_at=later,
                queued_at=later,
                error="the LMS answered 401",
            )
        )
        db.session.commit()
    html = _flat(client.get(f"/courses/1/settings?t={t}").get_data(as_text=True))
    assert (
        "<td>Roster (LTI Names and Roles)</td><td>failed 2026-03-10 08:30 UTC: the LMS "
        "answered 401</td><td>2026-03-09 08:30 UTC</td>"
    ) in html
    assert 'id="no-sources"' in html


def test_saving_valid_settings(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    t = session_token(platform.launch(client))
    response = client.post("/courses/1/settings", data={**GOOD, "t": t})
    assert response.status_code == 303 and "saved=1" in response.headers["Location"]
    with app.app_context():
        row = db.session.get(CourseSettings, 1)
        assert (row.time_zone, row.starts_on, row.time_cutoff_minutes, row.privacy_floor) == (
            "Europe/Paris",
            date(2026, 3, 2),
            5,
            6,
        )
        assert (row.risk_inactive_days, row.risk_time_percentile, row.risk_completion_behind) == (
            3,
            20,
            1,
        )
        assert row.risk_pass_mark == 55.5 and row.student_views == ["time", "videos"]
    html = client.get(f"/courses/1/settings?t={t}&saved=1").get_data(as_text=True)
    assert 'id="saved"' in html and 'value="Europe/Paris"' in html and 'value="55.5"' in html
    assert html.count(" checked>") == 2


def test_bad_settings_are_refused_with_reasons_and_nothing_saved(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    t = session_token(platform.launch(client))
    bad = {
        **GOOD,
        "t": t,
        "privacy_floor": "4",
        "time_zone": "Mars/Olympus_Mons",
        "time_cutoff_minutes": "0",
        "risk_pass_mark": "abc",
        "starts_on": "2026-02-30",
    }
    response = client.post("/courses/1/settings", data=bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The privacy floor cannot be below 5 (got 4)" in html
    assert "&#39;Mars/Olympus_Mons&#39; is not a time zone of the IANA database" in html
    assert "The time-spent cutoff must be between 1 and 240 (got 0)" in html
    assert "The pass mark is a percentage between 0 and 100" in html
    assert "&#39;2026-02-30&#39; is not a date" in html
    assert 'value="Mars/Olympus_Mons"' in html  # what was typed is kept
    assert 'aria-invalid="true" aria-describedby="error-privacy_floor"' in html
    with app.app_context():
        assert db.session.get(CourseSettings, 1) is None
    # the cookie alone cannot change settings: the form must carry the token
    assert client.post("/courses/1/settings", data=GOOD).status_code == 403


def test_a_stored_floor_below_five_still_reads_as_five(app: Flask) -> None:
    with app.app_context():
        course = Course(lti_context_id="c")
        db.session.add(course)
        db.session.flush()
        db.session.add(CourseSettings(course_id=course.id, privacy_floor=2, time_zone="Nope/Gone"))
        db.session.commit()
        loaded = course_settings.load(db.session, course)
        assert loaded.privacy_floor == 5 and loaded.time_zone == "UTC"


def test_student_page_honours_floor_cutoff_and_views(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    ingest(runner, class_log(tmp_path, 5))  # peers 1..5 work 2, 4, 6, 8, 10 minutes
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    staff = session_token(platform.launch(client, **context))

    def student() -> str:
        page = follow(
            client,
            platform.launch(client, roles=LEARNER, sub="s3", preferred_username="peer3", **context),
        )
        return re.sub(r">\s+<", "><", page.get_data(as_text=True))

    assert "<td>2026-03-02</td><td>0:06</td><td>1</td><td>0:06</td>" in student()
    form = {**GOOD, "time_zone": "UTC", "t": staff, "time_cutoff_minutes": "30"}
    form["student_views"] = ["time", "calendar"]
    assert (
        client.post("/courses/1/settings", data={**form, "privacy_floor": "6"}).status_code == 303
    )
    html = student()
    assert "hidden: fewer than 6 learners that week" in html  # 5 learners, floor 6
    # a 5-minute cutoff: peer3's single 6-minute gap no longer counts
    assert (
        client.post("/courses/1/settings", data={**form, "time_cutoff_minutes": "5"}).status_code
        == 303
    )
    assert "<td>2026-03-02</td><td>0:00</td><td>1</td>" in student()
    form["student_views"] = ["calendar"]
    assert client.post("/courses/1/settings", data=form).status_code == 303
    html = student()
    assert 'id="table-my-time"' not in html and 'data-target="chart-my-time"' not in html
    assert 'id="table-my-days"' in html
    form["student_views"] = []
    assert client.post("/courses/1/settings", data=form).status_code == 303
    assert 'id="table-my-days"' not in student()


def test_learners_kpi_uses_the_course_cutoff(app: Flask) -> None:
    with app.app_context():
        people = build_class()
        course = people["course"]
        course_settings.save(db.session, course, course_settings.Settings(time_cutoff_minutes=5))
        db.session.commit()
        rows = {r["learner"]: r for r in learners.learners(db.session, course, key=b"k", now=NOW)}
        # A: only gaps under 5 minutes count: minute 1 (300 s) and minute 0 (90 s)
        assert rows["uA"]["time_total"] == 390 and rows["uA"]["sessions"] == 14 - 8
        assert db.session.scalar(select(CourseSettings.time_cutoff_minutes)) == 5


def test_week_of_the_course() -> None:
    settings = course_settings.Settings(starts_on=date(2026, 3, 4))  # a Wednesday
    assert settings.week_number("2026-03-02") == 1  # the Monday of that week
    assert settings.week_number(date(2026, 3, 8)) == 1
    assert settings.week_number("2026-03-09") == 2
    assert settings.week_number("2026-02-23") == 0  # before the course
    assert course_settings.Settings().week_number("2026-03-09") is None


def test_overview_tables_name_the_course_week(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, class_log(tmp_path, 5))
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    staff = session_token(platform.launch(client, **context))
    form = {**GOOD, "t": staff, "starts_on": "2026-02-25"}
    assert client.post("/courses/1/settings", data=form).status_code == 303
    html = _flat(client.get(f"/courses/1/?t={staff}").get_data(as_text=True))
    assert "<td>2026-03-02 (week 2)</td><td>Active</td><td>5</td>" in html


def _counts(html: str, label: str) -> tuple[int, int]:
    """(high, watch) of the preview's "With these thresholds" or its "now"."""
    pattern = {
        "with": r"With these thresholds: (\d+) high, (\d+) watch",
        "now": r"\(now: (\d+) high, (\d+) watch\)",
    }[label]
    found = re.search(pattern, html)
    assert found, f"no {label} counts in the page"
    return int(found.group(1)), int(found.group(2))


def _levels(app: Flask) -> tuple[int, int]:
    """(high, watch) of the class as the `learners` report has it at NOW with saved settings."""
    with app.app_context():
        rows = learners.learners(db.session, db.session.get(Course, 1), key=b"k", now=NOW)
    levels = [r["risk_level"] for r in rows]
    return levels.count("high"), levels.count("watch")


def test_preview_shows_the_counts_saving_would_give_and_saves_nothing(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: Any
) -> None:
    # The pages count from the real today; the class's days are March 2026: count from NOW.
    monkeypatch.setattr(learners, "utcnow", lambda: NOW)
    t = seeded["t"]
    form = {
        "t": t,
        "time_zone": "UTC",
        "starts_on": "",
        "time_cutoff_minutes": "30",
        "privacy_floor": "5",
        "risk_inactive_days": "30",  # saved: 7
        "risk_time_percentile": "15",
        "risk_completion_behind": "1",
        "risk_pass_mark": "50",
        "student_views": ["time"],
    }
    before = _levels(app)
    # Saved (7 days): B, D, L high, C watch (high for inactivity, highly engaged the week
    # before). With 30 days: B high (a missing assignment and a score below the pass mark), D
    # high (no activity at all), L watch (completion behind), C not at risk.
    assert before == (3, 1)
    response = client.post("/courses/1/settings", data={**form, "preview": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _counts(html, "now") == before
    previewed = _counts(html, "with")
    assert previewed == (2, 1) != before
    assert "of 6 learners" in html and 'id="saved"' not in html
    assert 'name="risk_inactive_days" min="1" max="365" value="30"' in html  # as typed
    with app.app_context():  # nothing saved
        row = db.session.get(CourseSettings, 1)
        assert (row.risk_inactive_days, row.student_views) == (7, list(STUDENT_VIEWS))
    assert _levels(app) == before
    # Saving the same form gives what the preview said.
    saved = client.post("/courses/1/settings", data=form)
    assert saved.status_code == 303
    assert _levels(app) == previewed
    # A bad value in a preview: refused like a save, with no counts and nothing saved.
    bad = client.post(
        "/courses/1/settings", data={**form, "risk_inactive_days": "0", "preview": "1"}
    )
    assert bad.status_code == 400 and 'id="preview"' not in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CourseSettings, 1).risk_inactive_days == 30


def test_preview_of_a_new_time_zone_says_days_are_still_counted_in_the_saved_one(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    form = {**GOOD, "t": seeded["t"], "preview": "1"}
    html = client.post("/courses/1/settings", data=form).get_data(as_text=True)
    assert "days are still counted in UTC here" in html
    with app.app_context():
        assert db.session.get(CourseSettings, 1).time_zone == "UTC"
