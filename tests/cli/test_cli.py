"""The `flask platform` and `flask keys` commands, including their error paths."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import LtiDeployment, LtiRegistration, Platform, ToolKey
from tests.helpers.platform import FakePlatform

CANVAS = [
    "--issuer",
    "https://canvas.instructure.com",
    "--auth-login-url",
    "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--auth-token-url",
    "https://university.instructure.com/login/oauth2/token",
    "--jwks-url",
    "https://sso.canvaslms.com/api/lti/security/jwks",
]


def add(runner: FlaskCliRunner, *args: str):
    return runner.invoke(args=["platform", "add", *args])


def test_add_platform_then_second_client_and_list(app: Flask, runner: FlaskCliRunner) -> None:
    result = add(
        runner,
        "--name",
        "State U Canvas",
        "--client-id",
        "10000000000001",
        *CANVAS,
        "--deployment-id",
        "dep-a",
        "--deployment-id",
        "dep-b",
        "--frame-origin",
        "https://stateu.instructure.com",
    )
    assert result.exit_code == 0, result.output
    assert "added platform 'State U Canvas'" in result.output
    result = add(
        runner,
        "--name",
        "State U Canvas",
        "--client-id",
        "10000000000002",
        *CANVAS,
        "--deployment-id",
        "dep-c",
    )
    assert result.exit_code == 0, result.output
    assert "registration 10000000000002" in result.output
    listed = runner.invoke(args=["platform", "list", "--json"])
    data = json.loads(listed.output)
    assert len(data) == 1
    assert data[0]["frame_origins"] == ["https://stateu.instructure.com"]
    assert [(r["client_id"], r["deployment_ids"]) for r in data[0]["registrations"]] == [
        ("10000000000001", ["dep-a", "dep-b"]),
        ("10000000000002", ["dep-c"]),
    ]
    text = runner.invoke(args=["platform", "list"]).output
    assert "State U Canvas" in text and "client 10000000000002: deployments dep-c" in text


def test_another_institution_on_hosted_canvas_shares_the_issuer(runner: FlaskCliRunner) -> None:
    assert (
        add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d").exit_code
        == 0
    )
    result = add(runner, "--name", "B", "--client-id", "2", *CANVAS, "--deployment-id", "d")
    assert result.exit_code == 0, result.output


def test_duplicate_registration_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    assert (
        add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d").exit_code
        == 0
    )
    again = add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d")
    assert again.exit_code == 1 and "nothing to add" in again.output
    other = add(runner, "--name", "B", "--client-id", "1", *CANVAS, "--deployment-id", "d")
    assert other.exit_code == 1 and "already registered to platform 'A'" in other.output
    with app.app_context():
        assert len(list(db.session.scalars(select(LtiRegistration)))) == 1


def test_existing_client_gains_a_deployment(app: Flask, runner: FlaskCliRunner) -> None:
    assert (
        add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d1").exit_code
        == 0
    )
    result = add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d2")
    assert result.exit_code == 0 and "deployment d2" in result.output
    with app.app_context():
        assert sorted(d.deployment_id for d in db.session.scalars(select(LtiDeployment))) == [
            "d1",
            "d2",
        ]


def test_issuer_mismatch_for_existing_name_is_refused(runner: FlaskCliRunner) -> None:
    assert (
        add(runner, "--name", "A", "--client-id", "1", *CANVAS, "--deployment-id", "d").exit_code
        == 0
    )
    result = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "2",
        "--issuer",
        "https://other.example",
        *CANVAS[2:],
        "--deployment-id",
        "d",
    )
    assert result.exit_code == 1 and "has issuer 'https://canvas.instructure.com'" in result.output


def test_bad_urls_and_files_are_refused(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    bad_url = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        "--issuer",
        "https://x.example",
        "--auth-login-url",
        "not a url",
        "--auth-token-url",
        "https://x.example/t",
        "--jwks-url",
        "https://x.example/k",
        "--deployment-id",
        "d",
    )
    assert bad_url.exit_code == 2 and "'not a url' is not an http(s) URL" in bad_url.output
    both = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        *CANVAS,
        "--jwks-file",
        "x.json",
        "--deployment-id",
        "d",
    )
    assert both.exit_code == 2 and "exactly one of --jwks-url or --jwks-file" in both.output
    missing = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        *CANVAS[:6],
        "--jwks-file",
        str(tmp_path / "nope.json"),
        "--deployment-id",
        "d",
    )
    assert missing.exit_code == 2 and "cannot read" in missing.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    result = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        *CANVAS[:6],
        "--jwks-file",
        str(garbage),
        "--deployment-id",
        "d",
    )
    assert result.exit_code == 2 and "is not JSON" in result.output
    not_jwks = tmp_path / "list.json"
    not_jwks.write_text('{"keys": [{"kty": "EC"}]}')
    result = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        *CANVAS[:6],
        "--jwks-file",
        str(not_jwks),
        "--deployment-id",
        "d",
    )
    assert result.exit_code == 2 and "is not a JWKS" in result.output
    origin = add(
        runner,
        "--name",
        "A",
        "--client-id",
        "1",
        *CANVAS,
        "--deployment-id",
        "d",
        "--frame-origin",
        "https://lms.example/path",
    )
    assert origin.exit_code == 2 and "is not an origin" in origin.output
    no_deploy = add(runner, "--name", "A", "--client-id", "1", *CANVAS)
    assert no_deploy.exit_code == 2 and "--deployment-id" in no_deploy.output
    with app.app_context():
        assert db.session.scalar(select(Platform)) is None


def test_platform_added_from_jwks_file_can_launch(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, tmp_path: Path
) -> None:
    lms = FakePlatform(issuer="https://moodle.example.edu", client_id="abc")
    keyfile = tmp_path / "jwks.json"
    keyfile.write_text(json.dumps({"keys": [lms.jwk]}))
    result = add(
        runner,
        "--name",
        "Moodle",
        "--issuer",
        lms.issuer,
        "--client-id",
        "abc",
        "--auth-login-url",
        lms.auth_url,
        "--auth-token-url",
        lms.issuer + "/mod/lti/token.php",
        "--jwks-file",
        str(keyfile),
        "--deployment-id",
        lms.deployment_id,
    )
    assert result.exit_code == 0, result.output
    assert lms.launch(client).status_code == 303


def test_keys_rotate_keeps_old_key_in_jwks_until_retired(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    with app.app_context():  # a kid that starts with "-" must not read as an option
        db.session.add(ToolKey(kid="-dash-kid", private_key_pem="x", public_jwk={}, active=False))
        db.session.commit()
    assert runner.invoke(args=["keys", "retire", "--kid", "-dash-kid"]).exit_code == 0
    first = client.get("/lti/jwks").get_json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and "d" not in first[0]
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0 and "new active key" in rotated.output
    second = client.get("/lti/jwks").get_json()["keys"]
    assert second[0]["kid"] == first[0]["kid"] and len(second) == 2
    listing = runner.invoke(args=["keys", "list"]).output
    assert f"{first[0]['kid']}  published" in listing
    refused = runner.invoke(args=["keys", "retire", "--kid", second[1]["kid"]])
    assert refused.exit_code == 1 and "active key cannot be retired" in refused.output
    unknown = runner.invoke(args=["keys", "retire", "--kid", "nope"])
    assert unknown.exit_code == 1 and "no tool key" in unknown.output
    assert runner.invoke(args=["keys", "retire", "--kid", first[0]["kid"]]).exit_code == 0
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] == [second[1]["kid"]]
    with app.app_context():
        assert db.session.scalar(select(ToolKey).where(ToolKey.active)).kid == second[1]["kid"]


def test_canvas_config_reflects_tool_base_url(app: Flask, client: FlaskClient) -> None:
    app.config["TOOL_BASE_URL"] = "https://analytics.university.edu"
    config = client.get("/lti/config/canvas.json").get_json()
    assert config["oidc_initiation_url"] == "https://analytics.university.edu/lti/login"
    assert config["target_link_uri"] == "https://analytics.university.edu/lti/launch"
    assert config["public_jwk_url"] == "https://analytics.university.edu/lti/jwks"
    ext = config["extensions"][0]
    assert ext["privacy_level"] == "public" and ext["domain"] == "analytics.university.edu"
    placements = {p["placement"]: p["message_type"] for p in ext["settings"]["placements"]}
    assert placements == {
        "course_navigation": "LtiResourceLinkRequest",
        "link_selection": "LtiDeepLinkingRequest",
    }
    assert config["scopes"] == [
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    ]
    assert config["custom_fields"] == {
        "canvas_course_id": "$Canvas.course.id",
        "canvas_user_id": "$Canvas.user.id",
        "canvas_api_domain": "$Canvas.api.domain",
    }


def test_platform_errors_lists_refused_launches(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    assert "no refused launches" in runner.invoke(args=["platform", "errors"]).output
    client.post("/lti/login", data={"iss": "https://stranger.example", "login_hint": "x"})
    text = runner.invoke(args=["platform", "errors"]).output
    assert "403  login   https://stranger.example  The platform that sent this launch" in text
    data = json.loads(runner.invoke(args=["platform", "errors", "--json"]).output)
    assert data[0]["status"] == 403 and data[0]["stage"] == "login"


def test_sync_run_offers_exactly_the_sources_that_can_run(runner: FlaskCliRunner) -> None:
    """`flask sync run --source` takes its choices from SOURCES (so that start-up need not load
    the LMS clients): they must be the sources with a runner and a course finder."""
    from lti_tool.jobs.queue import COURSE_FINDERS
    from lti_tool.jobs.runs import RUNNERS
    from lti_tool.models.sync import SOURCES

    assert set(SOURCES) == set(RUNNERS) == set(COURSE_FINDERS)
    result = runner.invoke(args=["sync", "run", "--course", "x", "--source", "moodle"])
    assert result.exit_code == 2 and "'canvas', 'nrps', 'openedx'" in result.output


def test_report_help_lists_every_report_with_what_it_holds(runner: FlaskCliRunner) -> None:
    from lti_tool.kpis.reports import REPORTS

    result = runner.invoke(args=["report", "--help"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, report in REPORTS.items():
        assert any(line.split() == [name, *report.about.split()] for line in lines), name


def test_platform_add_warns_when_the_lms_could_not_frame_the_tool(runner: FlaskCliRunner) -> None:
    framed = add(
        runner,
        "--name",
        "Framed",
        "--client-id",
        "c-1",
        *CANVAS,
        "--deployment-id",
        "d",
        "--frame-origin",
        "https://canvas.instructure.com",
    )
    assert framed.exit_code == 0, framed.output
    assert "warning" not in framed.stderr
    local = ["--issuer", "http://127.0.0.1:8081", *CANVAS[2:]]
    unframed = add(runner, "--name", "Local", "--client-id", "c-2", *local, "--deployment-id", "d")
    assert unframed.exit_code == 0, unframed.output
    assert "added platform 'Local'" in unframed.stdout
    assert "warning: no --frame-origin" in unframed.stderr
    assert "is plain http" in unframed.stderr
