"""Every administrative action leaves one audit row saying who did what (issue 13, item 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import AdminAudit, DataSource, ToolKey
from tests.helpers.admin import ROOT, add_admin, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import FakePlatform
from tests.helpers.tracking_logs import COURSE, event, write


def audited(app: Flask, act: Callable[[], Any]) -> AdminAudit:
    """Run an action; it must add exactly one audit row, which is returned."""
    with app.app_context():
        before = db.session.scalar(select(AdminAudit.id).order_by(AdminAudit.id.desc()))
    act()
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AdminAudit).where(AdminAudit.id > (before or 0)).order_by(AdminAudit.id)
            )
        )
        assert len(rows) == 1, [(r.action, r.target) for r in rows]
        db.session.expunge(rows[0])
        return rows[0]


def test_every_admin_area_action_is_audited_with_who_and_what(app: Flask, tmp_path: Path) -> None:
    add_admin(app)
    client = https_client(app)
    row = audited(app, lambda: sign_in(client))
    assert (row.action, row.actor, row.remote_addr) == ("sign_in", ROOT, "127.0.0.1")

    lms = FakePlatform()
    form = {
        "name": "Canvas",
        "issuer": lms.issuer,
        "lms": "canvas",
        "client_id": lms.client_id,
        "auth_login_url": lms.auth_url,
        "auth_token_url": lms.issuer + "/token",
        "jwks": json.dumps({"keys": [lms.jwk]}),
        "deployment_ids": lms.deployment_id,
    }

    def expect(action: str, target_has: str, url: str, data: dict[str, str], status: int) -> int:
        response: list[Any] = []
        row = audited(app, lambda: response.append(post(client, url, data)))
        assert response[0].status_code == status, response[0].get_data(as_text=True)[:500]
        assert (row.action, row.actor) == (action, ROOT)
        assert target_has in row.target, row.target
        return row.platform_id or 0

    platform_id = expect("platform_added", "platform Canvas", "/admin/platforms/new", form, 303)
    edit = {"name": "Canvas", "issuer": lms.issuer, "lms": "canvas", "enabled": "on"}
    url = f"/admin/platforms/{platform_id}"
    expect("platform_changed", "platform State U", url, {**edit, "name": "State U"}, 303)
    expect(
        "lms_changed", "platform State U", url, {**edit, "name": "State U", "lms": "moodle"}, 303
    )
    disabled = {"name": "State U", "issuer": lms.issuer, "lms": "moodle"}
    expect("platform_disabled", "platform State U", url, disabled, 303)
    expect(
        "registration_added",
        "client id second",
        f"{url}/registrations",
        {**form, "client_id": "second", "deployment_ids": "9"},
        303,
    )
    source = {"platform": str(platform_id), "kind": "canvas", "location": "https://u.test"}
    expect("source_added", "Canvas API", "/admin/sources", {**source, "secret": "tok-1"}, 303)
    with app.app_context():
        source_id = db.session.scalar(select(DataSource.id))
    changed = expect(
        "source_changed",
        "Canvas API",
        f"/admin/sources/{source_id}",
        {"location": "https://v.test", "secret": "tok-2", "enabled": "on"},
        303,
    )
    assert changed == platform_id
    with app.app_context():
        details = db.session.scalar(
            select(AdminAudit.details).where(AdminAudit.action == "source_changed")
        )
    assert details["location"] == {"from": "https://u.test", "to": "https://v.test"}
    assert "tok-2" not in json.dumps(details)  # never a secret
    expect("source_tested", "Canvas API", f"/admin/sources/{source_id}/test", {}, 200)
    expect("key_rotated", "new signing key", "/admin/keys/rotate", {}, 303)
    with app.app_context():
        old = db.session.scalar(select(ToolKey).where(ToolKey.active.is_(False)))
        assert old is not None
        old_id, old_kid = old.id, old.kid
    expect("key_retired", old_kid, f"/admin/keys/{old_id}/retire", {}, 303)
    made = expect(
        "token_created",
        "token lab",
        "/admin/tokens",
        {"name": "lab", "scope": "events:write", "course": "", "platform": str(platform_id)},
        201,
    )
    assert made == platform_id
    row = audited(app, lambda: post(client, "/admin/logout"))
    assert (row.action, row.actor) == ("sign_out", ROOT)


def test_every_command_line_action_is_audited_as_the_cli(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    def run(*args: str) -> AdminAudit:
        result: list[Any] = []
        row = audited(app, lambda: result.append(runner.invoke(args=list(args))))
        assert result[0].exit_code == 0, result[0].output
        assert (row.actor, row.remote_addr) == ("cli", "local")
        return row

    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00")])
    assert runner.invoke(args=["ingest", "tracking-logs", str(log)]).exit_code == 0
    password = tmp_path / "pw"
    password.write_text("a long enough password for tests", encoding="utf-8")
    assert run("admin", "create", "ops@example.edu", "--password-file", str(password)).action == (
        "admin_created"
    )
    assert run("platform", "set-lms", "--platform", platform.name, "openedx").action == (
        "lms_changed"
    )
    assert run("keys", "rotate").action == "key_rotated"
    row = run("data", "purge", "--course", COURSE)
    assert row.action == "purge" and row.course_id is not None
    with app.app_context():
        kid = db.session.scalar(select(ToolKey.kid).where(ToolKey.active.is_(False)))
    assert kid is not None
    assert run("keys", "retire", "--kid", kid).action == "key_retired"
    made = run("tokens", "create", "--name", "r", "--scope", "reports:read", "--all-platforms")
    assert made.action == "token_created"
    invite = run("platform", "invite", "--lms", "canvas")
    assert invite.action == "platform_invited"


def test_a_deleted_learner_is_audited(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00")])
    assert runner.invoke(args=["ingest", "tracking-logs", str(log)]).exit_code == 0
    result: list[Any] = []
    row = audited(
        app,
        lambda: result.append(
            runner.invoke(
                args=["data", "delete-learner", "--identity", "openedx_user_id=7", "--yes"]
            )
        ),
    )
    assert result[0].exit_code == 0, result[0].output
    assert (row.action, row.actor) == ("learner_deleted", "cli")
