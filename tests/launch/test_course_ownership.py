"""A course belongs to one platform: no launch claims another platform's course or one that
arrived with no platform; data without a platform is refused while several exist; courses that
stand alone are attached by an administrator (or to the first platform an administrator
registers), never to a platform that registered itself."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.api.tokens import create_token
from lti_tool.extensions import db
from lti_tool.models import ActivityBlock, AdminAudit, Course, PersonIdentity, Platform
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTRUCTOR, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, event, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "Demo", "label": COURSE}}


def other_platform() -> FakePlatform:
    return FakePlatform(
        issuer="https://intruder.example.org",
        client_id="client-b",
        name="Intruder",
        key_file="other_platform_key.pem",
    )


def ingest(runner: FlaskCliRunner, path: Path, *extra: str) -> object:
    return runner.invoke(args=["ingest", "tracking-logs", str(path), *extra])


def learners_seen(app: Flask, platform: FakePlatform) -> tuple[str, int]:
    """Launch as the platform's instructor into COURSE; the learners page and its course id."""
    client = https_client(app)
    launched = platform.launch(client, roles=INSTRUCTOR, sub="teacher-b", **CONTEXT)
    page = follow(client, launched)
    course_id = int(launched.headers["Location"].split("/courses/")[1].split("/")[0])
    learners = client.get(
        launched.headers["Location"].replace(
            f"/courses/{course_id}/?", f"/courses/{course_id}/learners?"
        )
    )
    assert page.status_code == 200 and learners.status_code == 200
    return learners.get_data(as_text=True), course_id


def test_a_launch_from_another_platform_never_reaches_a_platforms_course(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00", user=7, username="learner7")])
    assert ingest(runner, log, "--platform", platform.name).exit_code == 0
    intruder = other_platform()
    intruder.register(app)
    html, course_id = learners_seen(app, intruder)
    assert "learner7" not in html
    with app.app_context():
        owned = db.session.get(Course, 1)
        theirs = db.session.get(Course, course_id)
        assert owned is not None and theirs is not None and course_id != 1
        assert owned.platform_id != theirs.platform_id  # each platform its own course
        activity = select(func.count()).select_from(ActivityBlock)
        assert db.session.scalar(activity.where(ActivityBlock.course_id == course_id)) == 0


def test_logs_of_no_platform_are_never_claimed_by_a_launch(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00", user=7, username="learner7")])
    assert ingest(runner, log).exit_code == 0  # no platform yet: the course stands alone
    intruder = other_platform()
    intruder.register(app)  # registered without the CLI's first-platform attachment
    html, course_id = learners_seen(app, intruder)
    assert "learner7" not in html
    # Even a learner of the intruder that names the logged username gets nothing.
    client = https_client(app)
    mine = intruder.launch(client, roles=LEARNER, sub="x", preferred_username="learner7", **CONTEXT)
    assert "No activity recorded yet" in follow(client, mine).get_data(as_text=True)
    with app.app_context():
        alone = db.session.scalar(select(Course).where(Course.platform_id.is_(None)))
        assert alone is not None and alone.id != course_id
        assert set(
            db.session.scalars(
                select(PersonIdentity.platform_id).where(PersonIdentity.kind == "openedx_user_id")
            )
        ) == {None}


def test_data_without_a_platform_is_refused_while_several_exist(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00")])
    assert ingest(runner, log).exit_code == 0  # one platform: the logs are its
    other_platform().register(app)
    again = write(tmp_path / "u.log", [event("2026-03-03 10:00:00")])
    refused = ingest(runner, again)
    assert refused.exit_code == 2
    assert "--platform" in refused.output and "Intruder" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActivityBlock)) == 1


def test_events_from_an_unbound_token_for_a_course_of_no_platform_are_refused(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")])).exit_code == 0
    FakePlatform().register(app)
    other_platform().register(app)
    with app.app_context():
        token = create_token(db.session, "lab", "events:write").token
        db.session.commit()
    client = app.test_client()
    sent = client.post(
        "/api/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        json={"user": "u", "t": 1767261600000, "type": "log", "exp": "x", "course": COURSE},
    )
    body = json.dumps(sent.json)
    assert "belongs to no platform" in body and "--bind-platform" in body, body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActivityBlock)) == 1


def test_the_first_platform_an_administrator_registers_gets_the_courses_that_stood_alone(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00", user=7, username="learner7")])
    assert ingest(runner, log).exit_code == 0
    # A platform that registered itself comes first: it gets nothing, now or later.
    with app.app_context():
        db.session.add(
            Platform(
                name="Self",
                issuer="https://self.example",
                frame_origins=[],
                registered_by="dynamic",
                approved=True,
            )
        )
        db.session.commit()
    assert ingest(runner, write(tmp_path / "u.log", [event("2026-03-03 10:00:00")])).exit_code == 0
    refused = runner.invoke(args=["course", "attach", "--course", COURSE, "--platform", "Self"])
    assert refused.exit_code == 1 and "registered itself" in refused.output
    lms = FakePlatform()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [lms.jwk]}), encoding="utf-8")
    added = runner.invoke(
        args=[
            "platform",
            "add",
            "--name",
            lms.name,
            "--issuer",
            lms.issuer,
            "--client-id",
            lms.client_id,
            "--deployment-id",
            lms.deployment_id,
            "--auth-login-url",
            lms.auth_url,
            "--auth-token-url",
            lms.issuer + "/token",
            "--jwks-file",
            str(jwks),
        ]
    )
    assert added.exit_code == 0, added.output
    assert "1 courses that arrived before any platform was registered now belong" in added.output
    client = https_client(app)
    mine = lms.launch(client, roles=LEARNER, sub="s7", preferred_username="learner7", **CONTEXT)
    assert "No activity recorded yet" not in follow(client, mine).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course)) == 1
        assert set(db.session.scalars(select(PersonIdentity.platform_id))) == {
            db.session.scalar(select(Platform.id).where(Platform.name == lms.name))
        }


def test_an_administrator_attaches_a_course_once_and_it_never_moves(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00", user=7, username="learner7")])
    assert ingest(runner, log).exit_code == 0
    lms = FakePlatform()
    lms.register(app)
    other_platform().register(app)
    # The platform knew learner7 already (a launch into another course): one person after.
    client = https_client(app)
    other_course = {CLAIM + "context": {"id": "elsewhere", "title": "Elsewhere"}}
    assert (
        lms.launch(
            client, roles=LEARNER, sub="s7", preferred_username="learner7", **other_course
        ).status_code
        == 303
    )
    done = runner.invoke(args=["course", "attach", "--course", COURSE, "--platform", lms.name])
    assert done.exit_code == 0, done.output
    assert "1 learners joined" in done.output
    moved = runner.invoke(args=["course", "attach", "--course", COURSE, "--platform", "Intruder"])
    assert moved.exit_code == 1 and "never moves" in moved.output
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(PersonIdentity.__table__)
                .where(PersonIdentity.platform_id.is_(None))
            )
            == 0
        )
        owners = set(db.session.scalars(select(PersonIdentity.person_id)))
        assert len(owners) == 1
        rows = list(
            db.session.scalars(select(AdminAudit).where(AdminAudit.action == "course_attached"))
        )
        assert len(rows) == 1 and rows[0].actor == "cli" and rows[0].course_id is not None


def test_the_admin_area_attaches_a_course_that_stood_alone(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from tests.helpers.admin import add_admin, post, sign_in

    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00", user=7, username="learner7")])
    assert ingest(runner, log).exit_code == 0
    lms = FakePlatform()
    lms.register(app)
    intruder = other_platform()
    intruder.register(app)
    with app.app_context():
        selfmade = db.session.scalar(select(Platform).where(Platform.name == "Intruder"))
        assert selfmade is not None
        selfmade.registered_by = "dynamic"  # it registered itself: never offered
        db.session.commit()
        lms_id = db.session.scalar(select(Platform.id).where(Platform.name == lms.name))
        selfmade_id = selfmade.id
    add_admin(app)
    client = app.test_client()
    assert sign_in(client).status_code == 303
    page = client.get("/admin/courses").get_data(as_text=True)
    assert f'<option value="{lms_id}">{lms.name}</option>' in page
    assert ">Intruder</option>" not in page
    refused = post(client, "/admin/courses/1/attach", {"platform": str(selfmade_id)})
    assert refused.status_code == 400 and "registered itself" in refused.get_data(as_text=True)
    done = post(client, "/admin/courses/1/attach", {"platform": str(lms_id)})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Course, 1).platform_id == lms_id
        row = db.session.scalar(select(AdminAudit).where(AdminAudit.action == "course_attached"))
        assert row is not None and row.actor == "root@example.edu" and row.course_id == 1
