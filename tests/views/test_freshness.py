"""The overview's data freshness: each source's last sync, its last failure, "Sync now" per source
for the sources that can sync the course, and clear refusals for the others."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, DataSource, SyncRun
from tests.helpers.platform import FakePlatform, session_token


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html))


def _runs(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            (r.source, r.status, r.trigger)
            for r in db.session.scalars(select(SyncRun).order_by(SyncRun.id))
        ]


def test_canvas_source_can_be_synced_from_the_overview(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    t = session_token(platform.launch(client))
    html = _flat(client.get(f"/courses/1/?t={t}").get_data(as_text=True))
    assert "<td>Canvas API</td>" not in html  # not connected, never run: not listed
    refused = client.post("/courses/1/sync", data={"t": t, "source": "canvas"})
    assert refused.status_code == 400 and "Canvas API" in refused.get_data(as_text=True)
    assert client.post("/courses/1/sync", data={"t": t, "source": "ftp"}).status_code == 400
    with app.app_context():
        course = db.session.get(Course, 1)
        course.lms_course_id = "101"
        db.session.add(
            DataSource(
                platform_id=course.platform_id, kind="canvas", location="https://canvas.test"
            )
        )
        at = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
        db.session.add(
            SyncRun(
                course_id=1,
                source="canvas",
                status="failed",
                queued_at=at,
                finished_at=at,
                error="HTTP 401 from https://canvas.test: the token was refused",
            )
        )
        db.session.commit()
    html = _flat(client.get(f"/courses/1/?t={t}").get_data(as_text=True))
    assert (
        '<td>Canvas API</td><td>not synced yet <br><span class="error">the last try failed '
        "(2026-03-09 07:00 UTC): HTTP 401 from https://canvas.test: the token was refused</span>"
    ) in html
    assert 'name="source" value="canvas"' in html
    response = client.post("/courses/1/sync", data={"t": t, "source": "canvas"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#freshness")
    assert _runs(app)[-1] == ("canvas", "queued", "page")
    html = _flat(client.get(f"/courses/1/?t={t}").get_data(as_text=True))
    assert "a sync is queued" in html and 'name="source" value="canvas"' not in html
