"""The staff "Sync now" button: queues one run for the scheduler; needs the token, not a cookie."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import SyncRun
from tests.helpers.platform import LEARNER, FakePlatform

NRPS = {
    "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
        "context_memberships_url": "https://lms.example.edu/api/memberships/course-ctx-1",
        "service_versions": ["2.0"],
    }
}


def test_sync_now_queues_one_run(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    location = platform.launch(client, **NRPS).headers["Location"]
    token = location.split("t=")[1]
    page = client.get(location).get_data(as_text=True)
    assert "not synced yet" in page and ">Sync now</button>" in page
    for _ in range(2):  # two clicks, one queued run
        response = client.post("/courses/1/sync", data={"t": token})
        assert response.status_code == 303
    with app.app_context():
        runs = list(db.session.scalars(select(SyncRun)))
        assert [(r.source, r.status, r.trigger) for r in runs] == [("nrps", "queued", "page")]
    page = client.get(location).get_data(as_text=True)
    assert "a sync is queued" in page


def test_sync_now_refuses_cookie_only_posts_and_learners(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.launch(client, **NRPS)  # the browser now holds the course's session cookie
    assert client.post("/courses/1/sync", data={}).status_code == 403  # a cross-site form post
    learner = platform.launch(client, roles=LEARNER, sub="s1", **NRPS).headers["Location"]
    refused = client.post("/courses/1/sync", data={"t": learner.split("t=")[1]})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(SyncRun)) is None


def test_course_without_roster_service_has_no_button(
    client: FlaskClient, platform: FakePlatform
) -> None:
    location = platform.launch(client).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "No roster service for this course yet" in page and "Sync now</button>" not in page
    assert client.post("/courses/1/sync", data={"t": location.split("t=")[1]}).status_code == 400
