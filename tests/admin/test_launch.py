"""Administration by LMS launch: off by default, for one deployment only, never wider."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.extensions import db
from lti_tool.models import LtiDeployment
from tests.helpers.admin import add_admin, deployment_row, estate, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTITUTION, MEMBERSHIP, SYSTEM, FakePlatform

ADMIN_INSTRUCTOR = [INSTITUTION + "Administrator", MEMBERSHIP + "Instructor"]


def _admin_link(response: object) -> str:
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r'href="(/admin/enter\?ticket=[^"]+)"', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


def test_admin_by_launch_only_when_switched_on_and_only_for_that_deployment(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    other = FakePlatform(
        issuer="https://other.example.edu",
        client_id="client-2",
        name="Other LMS",
        key_file="other_platform_key.pem",
    )
    other.register(app)
    estate(app, platform.name, "aaa")
    theirs = estate(app, other.name, "bbb")

    # Off by default: an institution administrator gets the course like any instructor.
    lms_admin = https_client(app)
    off = platform.launch(lms_admin, roles=ADMIN_INSTRUCTOR, sub="dean")
    assert off.status_code == 303 and off.headers["Location"].startswith("/courses/")

    # A local administrator switches it on for this deployment (on the platform's page).
    add_admin(app)
    sign_in(client)
    mine = deployment_row(app, platform.name)
    page = "/admin/platforms"
    switched = post(
        client, f"/admin/deployments/{mine}", {"enabled": "on", "admin_launch_enabled": "on"}, page
    )
    assert switched.status_code == 303
    with app.app_context():
        assert db.session.get(LtiDeployment, mine).admin_launch_enabled

    on = platform.launch(lms_admin, roles=ADMIN_INSTRUCTOR, sub="dean")
    assert on.status_code == 200
    text = on.get_data(as_text=True)
    assert "Continue to the course" in text and 'target="_blank"' in text
    link = _admin_link(on)

    # A course Administrator (membership role) or a plain instructor is not an LMS admin.
    for roles in ([MEMBERSHIP + "Administrator"], [MEMBERSHIP + "Instructor"]):
        plain = platform.launch(https_client(app), roles=roles, sub="teacher")
        assert plain.status_code == 303, roles
    # The other platform's deployment is not switched on.
    elsewhere = other.launch(https_client(app), roles=ADMIN_INSTRUCTOR, sub="dean")
    assert elsewhere.status_code == 303

    # The link opens the admin area in a new (top-level) window, limited to this deployment.
    window = https_client(app)
    entered = window.get(link)
    assert entered.status_code == 303 and entered.headers["Location"] == "/admin/"
    dashboard = window.get("/admin/").get_data(as_text=True)
    assert "You administer one deployment" in dashboard and "(by launch)" in dashboard
    courses = window.get("/admin/courses").get_data(as_text=True)
    assert "Course aaa" in courses and "bbb" not in courses
    # Data sources are the whole tool's administrators' (they were the platform's before).
    assert window.get("/admin/sources").status_code == 403
    assert window.get(f"/admin/sources/{theirs['source']}").status_code == 403
    assert window.get(f"/admin/platforms/{theirs['platform']}").status_code == 404
    assert window.get("/admin/keys").status_code == 403
    assert post(window, f"/admin/deployments/{mine}", {"enabled": "on"}).status_code == 403
    # The link works once.
    assert https_client(app).get(link).status_code == 403
    assert https_client(app).get("/admin/enter?ticket=forged").status_code == 403

    # An account-level launch (no course) of an administrator gets only the link.
    no_course = platform.launch(
        https_client(app),
        roles=[SYSTEM + "SysAdmin"],
        sub="root",
        mutate=lambda body: body.pop(CLAIM + "context"),
    )
    assert no_course.status_code == 200
    assert "Continue to the course" not in no_course.get_data(as_text=True)
    assert _admin_link(no_course)

    # Switched off again: the launch's admin session ends at its next request.
    post(client, f"/admin/deployments/{mine}", {"enabled": "on"}, "/admin/platforms")
    assert window.get("/admin/").status_code == 303
    assert platform.launch(lms_admin, roles=ADMIN_INSTRUCTOR, sub="dean").status_code == 303


def test_launch_access_switched_on_the_command_line(
    app: Flask, platform: FakePlatform, runner: FlaskCliRunner
) -> None:
    on = runner.invoke(
        args=["admin", "launch-access", "on", "--deployment", platform.deployment_id]
    )
    assert on.exit_code == 0 and "on for deployment deployment-1 of Example LMS" in on.output
    launched = platform.launch(https_client(app), roles=ADMIN_INSTRUCTOR, sub="dean")
    assert launched.status_code == 200 and _admin_link(launched)
    off = runner.invoke(
        args=["admin", "launch-access", "off", "--deployment", platform.deployment_id]
    )
    assert off.exit_code == 0
    assert platform.launch(https_client(app), roles=ADMIN_INSTRUCTOR, sub="dean").status_code == 303
    unknown = runner.invoke(args=["admin", "launch-access", "on", "--deployment", "nope"])
    assert unknown.exit_code == 1 and "no deployment 'nope'" in unknown.output
