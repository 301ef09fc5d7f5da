"""The Enrollment page (issue 18, item 1): enrolled today by mode, the change over 7 days, before
and after the course's start, the daily chart with its table, the section filter and the CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.kpis import enrollment as enrollment_kpi
from lti_tool.models import Course, CourseSettings, EnrollmentChange
from lti_tool.views import cache
from lti_tool.views import enrollment as enrollment_views
from tests.helpers.platform import LEARNER, FakePlatform, session_token

ACTIVATED = "edx.course.enrollment.activated"
DEACTIVATED = "edx.course.enrollment.deactivated"
TODAY = datetime.now(UTC).date()


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html))


def _at(days_ago: int) -> float:
    """Noon UTC some days ago (the course's days are UTC here)."""
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def history(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """Ada enrolled 20 days ago (audit); Fay too, and left 10 days ago; Bob enrolled 10 days ago
    (verified); Cy 3 days ago (audit). The course started 12 days ago."""
    with app.app_context():
        for letter, days_ago, name, mode in (
            ("A", 20, ACTIVATED, "audit"),
            ("F", 20, ACTIVATED, "audit"),
            ("F", 10, DEACTIVATED, "audit"),
            ("B", 10, ACTIVATED, "verified"),
            ("C", 3, ACTIVATED, "audit"),
        ):
            db.session.add(
                EnrollmentChange(
                    course_id=1, person_id=seeded[letter], time=_at(days_ago), name=name, mode=mode
                )
            )
        settings = db.session.get(CourseSettings, 1) or CourseSettings(course_id=1)
        settings.starts_on = TODAY - timedelta(days=12)
        db.session.add(settings)
        db.session.commit()
    return seeded


def test_the_page_shows_today_the_week_the_start_and_every_day(
    client: FlaskClient, history: dict[str, Any]
) -> None:
    html = _flat(client.get(f"/courses/1/enrollment?t={history['t']}").get_data(as_text=True))
    # Today: Ada, Bob and Cy enrolled; Fay left: ever enrolled 4.
    assert 'id="enrolled-today">3<' in html
    assert 'id="ever-enrolled">4<' in html
    # 7 days ago Ada and Bob were enrolled: +1 (Cy).
    assert 'id="change-7-days">+1<' in html
    # Per mode: audit has Ada and Cy, and Fay in its history; verified Bob.
    assert (
        '<tr><th scope="row">All modes</th><td>3</td><td>+1</td><td>4</td></tr>'
        '<tr><th scope="row">Audit</th><td>2</td><td>+1</td><td>3</td></tr>'
        '<tr><th scope="row">Verified</th><td>1</td><td>0</td><td>1</td></tr>'
    ) in html
    # Before the start (12 days ago): Ada and Fay; after: Bob and Cy.
    # Dates in sentences and headings as the page's language writes them (Nov 23, 2026).
    start = formats.day(TODAY - timedelta(days=12), "en")
    assert f"1 enrolled before the course started on {start} and 2 on or after" in html
    assert (
        f'<th scope="row">Before {start}</th><td>1</td><td>2</td></tr>'
        f'<tr><th scope="row">On or after {start}</th><td>2</td><td>2</td>'
    ) in html
    # The chart: all modes and each mode, a point a day from the first enrollment to today.
    figure = json.loads(re.search(r'data-target="chart-enrollment">(.*?)</script>', html)[1])
    assert [t["name"] for t in figure["data"]] == ["All modes", "Audit", "Verified"]
    assert len(figure["data"][0]["x"]) == 21 and figure["data"][0]["x"][-1] == TODAY.isoformat()
    assert figure["data"][0]["y"][0] == 2 and figure["data"][0]["y"][-1] == 3
    # Its table, the latest day first: all, audit, verified, ever enrolled.
    assert (
        f'<tr><th scope="row">{formats.day(TODAY, "en")}</th><td>3</td><td>2</td><td>1</td>'
        "<td>4</td>" in html
    )
    assert "Enrollment</a>" in html  # the tab


def test_a_section_counts_its_members_also_those_who_left(
    client: FlaskClient, history: dict[str, Any]
) -> None:
    # Sec 1 is Ada, Bob and Fay (who left).
    html = _flat(
        client.get(f"/courses/1/enrollment?t={history['t']}&section=Sec+1").get_data(as_text=True)
    )
    assert 'id="chosen-section">Sec 1<' in html
    assert 'id="enrolled-today">2<' in html and 'id="ever-enrolled">3<' in html


def test_the_csv_is_the_report(client: FlaskClient, history: dict[str, Any]) -> None:
    response = client.get(f"/courses/1/enrollment.csv?t={history['t']}&section=Sec+1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["course", "date", "mode", "count", "cumulative_count"]
    today = {
        r["mode"]: (r["count"], r["cumulative_count"])
        for r in rows
        if r["date"] == TODAY.isoformat()
    }
    assert today == {"all": ("2", "3"), "audit": ("1", "2"), "verified": ("1", "1")}


def test_without_history_the_page_says_where_it_comes_from(
    client: FlaskClient, seeded: dict[str, Any]
) -> None:
    html = client.get(f"/courses/1/enrollment?t={seeded['t']}").get_data(as_text=True)
    assert 'id="no-enrollment"' in html and "Open edX API" in html
    assert 'id="chart-enrollment"' not in html


def test_learners_are_refused(client: FlaskClient, platform: FakePlatform) -> None:
    token = session_token(platform.launch(client, roles=LEARNER, sub="s-1"))
    assert client.get(f"/courses/1/enrollment?t={token}").status_code == 403
    assert client.get(f"/courses/1/enrollment.csv?t={token}").status_code == 403


def test_the_course_is_counted_once_per_change_and_counted_on_to_each_day(
    app: Flask,
    client: FlaskClient,
    history: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counting every learner's history is the page's cost at 100,000 learners (0.8 s): the page
    # summary counts it when the data change, and the page counts it on to its day.
    # (Noted: each count's people, None for the whole course.)
    counted: list[object] = []
    real, tally_of = enrollment_kpi.enrollments, enrollment_kpi.tally_of

    def counting(*args: Any, **kwargs: Any) -> Any:
        counted.append(args[4] if len(args) > 4 else kwargs.get("people"))
        return tally_of(*args, **kwargs)

    monkeypatch.setattr(enrollment_kpi, "tally_of", counting)
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    now = datetime.now(UTC)
    monkeypatch.setattr(enrollment_views, "utcnow", lambda: now)
    page = f"/courses/1/enrollment?t={history['t']}"
    assert client.get(page).status_code == 200
    clock[0] += cache.CACHE_SECONDS + 1
    assert client.get(page).status_code == 200
    assert counted == [None]  # once, by the page summary
    now += timedelta(days=1)
    assert client.get(page).status_code == 200
    assert counted == [None]  # the next day: not counted again
    with app.app_context():
        course = db.session.get(Course, 1)
        assert course is not None
        day = now.date()
        found = enrollment_views._enrollments(course, None, day)
        assert counted == [None]
        assert found == real(db.session, course, None, day)
        # A section's history is counted for it (the summary keeps the whole course's).
        found = enrollment_views._enrollments(course, {1}, day)
        assert counted == [None, None, {1}]
        assert found == real(db.session, course, {1}, day)
