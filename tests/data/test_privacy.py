"""Access and deletion requests: every row about a learner, found from the foreign keys."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.data.privacy import person_references
from lti_tool.extensions import db
from lti_tool.models import PersonIdentity
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform
from tests.helpers.tracking_logs import COURSE, VIDEO, event, ingest, write


def _learner_everywhere(
    runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    """learner7 in logs (events, video, rollups), launched (identity, enrollment); plus peer8."""
    video = {"id": VIDEO, "code": "html5", "duration": 60}
    ingest(
        runner,
        write(
            tmp_path / "t.log",
            [
                event("2026-03-02 10:00:00"),
                event(
                    "2026-03-02 10:05:00",
                    "play_video",
                    source="browser",
                    payload={**video, "currentTime": 0},
                ),
                event(
                    "2026-03-02 10:06:00",
                    "pause_video",
                    source="browser",
                    payload={**video, "currentTime": 60},
                ),
                event("2026-03-02 10:00:00", user=8, username="peer8"),
                event("2026-03-02 10:09:00", user=8, username="peer8"),
            ],
        ),
    )
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    assert (
        platform.launch(
            client, roles=LEARNER, sub="s7", preferred_username="learner7", **context
        ).status_code
        == 303
    )


def _rows_about(person_id: int) -> dict[str, int]:
    return {
        table.name: db.session.scalar(
            select(func.count()).select_from(table).where(table.c[column] == person_id)
        )
        for table, column in person_references()
    }


def test_delete_learner_leaves_no_row_anywhere(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    _learner_everywhere(runner, client, platform, tmp_path)
    with app.app_context():
        target = db.session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.kind == "openedx_username", PersonIdentity.value == "learner7"
            )
        )
        peer = db.session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.kind == "openedx_username", PersonIdentity.value == "peer8"
            )
        )
        before = _rows_about(target)
        assert sum(before.values()) > 0 and before["person_identity"] == 3
        peer_before = _rows_about(peer)
    dry = runner.invoke(args=["data", "delete-learner", "--identity", "lti_sub=s7"])
    assert dry.exit_code == 0 and "add --yes" in dry.output
    done = runner.invoke(args=["data", "delete-learner", "--identity", "lti_sub=s7", "--yes"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert all(count == 0 for count in _rows_about(target).values()), _rows_about(target)
        assert _rows_about(peer) == peer_before  # nobody else loses anything
    rows = json.loads(runner.invoke(args=["report", "time-spent", "--course", COURSE]).output)
    assert {r["learner"] for r in rows} == {"peer8"}


def test_export_learner_has_identities_enrollment_and_activity(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    _learner_everywhere(runner, client, platform, tmp_path)
    result = runner.invoke(
        args=["data", "export-learner", "--identity", "openedx_username=learner7"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["person"]["email"] == "sam@example.edu"
    assert {(i["kind"], i["value"]) for i in data["person_identity"]} == {
        ("lti_sub", "s7"),
        ("openedx_user_id", "7"),
        ("openedx_username", "learner7"),
    }
    assert len(data["enrollment"]) == 1 and data["learner_day"]
    # The day's events, packed in one block, are exported readable.
    [block] = data["activity_block"]
    assert block["data"]["name"] == ["/courses/x/courseware", "play_video", "pause_video"]
    assert "peer8" not in result.output
    unknown = runner.invoke(args=["data", "export-learner", "--identity", "lti_sub=nobody"])
    assert unknown.exit_code == 1 and "nobody is known as lti_sub=nobody" in unknown.output


def test_privacy_page_is_linked_from_every_page(
    client: FlaskClient, platform: FakePlatform
) -> None:
    page = client.get(platform.launch(client).headers["Location"]).get_data(as_text=True)
    assert 'href="/privacy"' in page or 'href="/privacy?t=' in page
    privacy = client.get("/privacy").get_data(as_text=True)
    assert "What the tool collects" in privacy and "Who sees it" in privacy
