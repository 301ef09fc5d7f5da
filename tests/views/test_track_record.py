"""The at-risk track record page: the finished course's weeks, precision and recall, how far
ahead the flag came, the CSV; staff only; a course without an outcome says what to set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from lti_tool.kpis import course_settings
from lti_tool.models import Course
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from tests.helpers.finished_course import build_finished_course
from tests.helpers.platform import LEARNER, FakePlatform, launch_token, session_token


@pytest.fixture
def staff(app: Flask, client: FlaskClient, platform: FakePlatform) -> dict[str, Any]:
    token = session_token(platform.launch(client))
    with app.app_context():
        people = build_finished_course(db.session.get(Course, 1))
        return {"t": token, **{k: v.id for k, v in people.items() if k != "course"}}


def _cells(html: str) -> list[list[str]]:
    body = re.search(r'<table id="table-risk-backtest".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, "no week table"
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def test_the_page_shows_each_weeks_precision_and_recall(
    client: FlaskClient, staff: dict[str, Any]
) -> None:
    html = client.get(f"/courses/1/at-risk/track-record?t={staff['t']}").get_data(as_text=True)
    assert _cells(html) == [
        ["Week 1 (Jan 5, 2026)", "2", "1", "4", "50 %", "25 %", "no"],
        ["Week 2 (Jan 12, 2026)", "3", "3", "4", "100 %", "75 %", "no"],
        ["Week 3 (Jan 19, 2026)", "4", "4", "4", "100 %", "100 %", "yes"],
    ]
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "4 of the 6 learners whose outcome is known" in summary
    assert "precision 100 %" in summary and "recall 100 %" in summary
    # P2, P3, P5 and P6 were flagged, 0 to 2 weeks before the last week: median 1.
    assert "4 of the 4 learners who turned out badly were flagged at some point" in summary
    assert "a median of 1 week before the last week judged (from 0 to 2)" in summary
    assert "Scores count from Week 3" in summary
    assert 'id="chart-risk-backtest"' in html and 'data-target="chart-risk-backtest"' in html
    assert "<script>" not in html  # the figure is a JSON data block (CSP)


def test_the_csv_is_the_risk_backtest_report(client: FlaskClient, staff: dict[str, Any]) -> None:
    response = client.get(f"/courses/1/at-risk/track-record.csv?t={staff['t']}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert (
        lines[0] == "course,week_start,flagged,flagged_with_outcome,with_outcome,precision,recall"
    )
    assert lines[1].endswith(",2026-01-05,2,1,4,0.5,0.25")


def test_a_course_without_an_outcome_says_what_to_set(
    app: Flask, client: FlaskClient, staff: dict[str, Any]
) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        course_settings.save(db.session, course, course_settings.Settings())
        db.session.commit()
    html = client.get(f"/courses/1/at-risk/track-record?t={staff['t']}").get_data(as_text=True)
    assert 'id="no-track-record"' in html and "Set the course end, or a pass mark" in html
    assert "table-risk-backtest" not in html


def test_settings_link_to_the_track_record_and_take_the_course_end(
    client: FlaskClient, staff: dict[str, Any]
) -> None:
    html = client.get(f"/courses/1/settings?t={staff['t']}").get_data(as_text=True)
    # (The token in links is issued again for each page: its signature's time may differ.)
    assert "/courses/1/at-risk/track-record?t=" in html
    assert 'name="ends_on" value="2026-01-25"' in html


def test_a_learner_cannot_open_the_track_record(
    client: FlaskClient, platform: FakePlatform, staff: dict[str, Any]
) -> None:
    token = launch_token(client, platform, LEARNER, "learner-9")
    assert client.get(f"/courses/1/at-risk/track-record?t={token}").status_code == 403
    assert client.get(f"/courses/1/at-risk/track-record.csv?t={token}").status_code == 403
