"""Course events: staff add, edit and delete their own on the overview; LMS due dates are
read-only; events are markers on the weekly charts, escaped everywhere."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import course_settings
from lti_tool.models import Course, CourseEvent, CourseSettings, Section
from tests.helpers.platform import CLAIM, FakePlatform, session_token
from tests.helpers.tracking_logs import COURSE, event, ingest, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
EVIL = '"><img src=x onerror=alert(1)>'


def _events(app: Flask) -> list[tuple[str, str, str, datetime]]:
    with app.app_context():
        rows = db.session.scalars(select(CourseEvent).order_by(CourseEvent.id))
        return [(r.source, r.kind, r.title, r.at) for r in rows]


def _figure(html: str, name: str) -> dict:
    block = re.search(rf'data-target="chart-{name}">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block
    return json.loads(block)


def test_staff_add_edit_and_delete_their_events(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    t = session_token(platform.launch(client, **CONTEXT))
    with app.app_context():
        course = db.session.get(Course, 1)
        course_settings.save(db.session, course, course_settings.Settings(time_zone="Europe/Paris"))
        db.session.commit()
    response = client.post(
        "/courses/1/events",
        data={"t": t, "title": "Midterm", "kind": "exam", "at": "2026-03-05T14:00"},
    )
    assert response.status_code == 303 and "#events" in response.headers["Location"]
    # 14:00 in Paris (UTC+1 in March, before the change of clocks) is 13:00 UTC
    assert _events(app) == [("staff", "exam", "Midterm", datetime(2026, 3, 5, 13, tzinfo=UTC))]
    html = client.get(f"/courses/1/?t={t}").get_data(as_text=True)
    assert "<td>2026-03-05 14:00</td><td>Midterm</td>" in html
    for chart in ("weekly-activity", "weekly-time"):
        layout = _figure(html, chart)["layout"]
        assert [s["x0"] for s in layout["shapes"]] == ["2026-03-05"]
        assert [a["text"] for a in layout["annotations"]] == ["Midterm"]
    with app.app_context():
        event_id = db.session.scalar(select(CourseEvent.id))
    client.post(
        f"/courses/1/events/{event_id}",
        data={"t": t, "title": "Midterm exam", "kind": "exam", "at": "2026-03-06T09:30"},
    )
    assert _events(app) == [
        ("staff", "exam", "Midterm exam", datetime(2026, 3, 6, 8, 30, tzinfo=UTC))
    ]
    client.post(f"/courses/1/events/{event_id}/delete", data={"t": t})
    assert _events(app) == []


def test_lms_events_are_read_only(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    t = session_token(platform.launch(client, **CONTEXT))
    at = datetime(2026, 3, 13, 22, 59, tzinfo=UTC)
    with app.app_context():
        row = CourseEvent(
            course_id=1, source="canvas", lms_id="77", kind="due", title="HW 2", at=at
        )
        db.session.add(row)
        db.session.commit()
        event_id = row.id
    html = client.get(f"/courses/1/?t={t}").get_data(as_text=True)
    assert "HW 2" in html and "read-only (change it in the LMS)" in html
    assert f"/courses/1/events/{event_id}/delete" not in html
    edit = client.post(
        f"/courses/1/events/{event_id}",
        data={"t": t, "title": "changed", "kind": "due", "at": "2026-03-20T10:00"},
    )
    assert edit.status_code == 403 and "comes from the LMS" in edit.get_data(as_text=True)
    assert client.post(f"/courses/1/events/{event_id}/delete", data={"t": t}).status_code == 403
    assert _events(app) == [("canvas", "due", "HW 2", at)]
    assert client.post("/courses/1/events/999/delete", data={"t": t}).status_code == 404


def test_bad_event_input_is_explained_and_nothing_saved(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    t = session_token(platform.launch(client, **CONTEXT))
    cases = {
        "An event needs a title.": {"title": "  ", "kind": "exam", "at": "2026-03-05T14:00"},
        "is not a date and time": {"title": "x", "kind": "exam", "at": "next friday"},
        "Unknown kind": {"title": "x", "kind": "party", "at": "2026-03-05T14:00"},
        "years 1970 to 2200": {"title": "x", "kind": "exam", "at": "0001-01-01T00:30"},
    }
    for message, form in cases.items():
        response = client.post("/courses/1/events", data={"t": t, **form})
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'id="event-error"' in page and message in page
    assert _events(app) == []
    # without the token in the form (the cookie alone) nothing is added
    form = {"title": "x", "kind": "exam", "at": "2026-03-05T14:00"}
    assert client.post("/courses/1/events", data=form).status_code == 403
    assert _events(app) == []


def test_event_titles_are_escaped_in_markup_and_figures(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    t = session_token(platform.launch(client, **CONTEXT))
    client.post(
        "/courses/1/events", data={"t": t, "title": EVIL, "kind": "other", "at": "2026-03-04T10:00"}
    )
    html = client.get(f"/courses/1/?t={t}").get_data(as_text=True)
    assert EVIL not in html and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    notes = _figure(html, "weekly-activity")["layout"]["annotations"]
    assert notes[0]["text"] == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"


def test_lms_due_dates_are_named_in_the_page_language(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    # The syncs store the LMS's names only; "… due" is the page's, in the viewer's language.
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    t = session_token(platform.launch(client, **CONTEXT))
    at = datetime(2026, 3, 4, 22, 59, tzinfo=UTC)
    with app.app_context():
        section = Section(course_id=1, lms_section_id="9", name="Lab B")
        db.session.add(section)
        db.session.flush()
        db.session.add_all(
            [
                CourseEvent(course_id=1, source="canvas", lms_id="77", title="HW 2", at=at),
                CourseEvent(
                    course_id=1,
                    source="canvas",
                    lms_id="77:section:9",
                    title="HW 2",
                    section_name="Lab B",
                    section_id=section.id,
                    at=at,
                ),
                CourseEvent(course_id=1, source="canvas", lms_id="78", title="", at=at),
                CourseEvent(course_id=1, source="openedx", lms_id="b@x", title="", at=at),
            ]
        )
        db.session.commit()
    expected = {
        "en": ["HW 2 due", "HW 2 due (Lab B)", "Assignment 78 due", "Graded subsection due"],
        "es": ["HW 2 vence", "HW 2 vence (Lab B)", "Tarea 78 vence", "Subsección calificada vence"],
        "nb": [
            "Frist: HW 2",
            "Frist: HW 2 (Lab B)",
            "Frist: Innlevering 78",
            "Frist: Vurdert underseksjon",
        ],
    }
    for language, titles in expected.items():
        with app.app_context():
            row = db.session.get(CourseSettings, 1) or CourseSettings(course_id=1)
            row.language = language
            db.session.add(row)
            db.session.commit()
        html = client.get(f"/courses/1/?t={t}").get_data(as_text=True)
        table = html[html.index('id="table-events"') :]
        table = table[: table.index("</table>")]
        listed = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", table)
        assert sorted(listed) == sorted(titles), language
        markers = [
            m
            for d in _figure(html, "weekly-activity")["data"]
            for m in d.get("customdata") or []
            if d.get("yaxis") == "y9"
        ]
        assert sorted(m[0] for m in markers) == sorted(titles), language
        if language != "en":
            assert " due" not in " ".join(listed) and "Assignment 78" not in html
