"""Open edX before lti-consumer-xblock 11.1: course roles sent as institution/system roles only.

The launches and rosters below are shaped exactly as lti-consumer-xblock v10.0.1 to v11.0.1
build them (lti_consumer/lti_1p3/constants.py `LTI_1P3_ROLE_MAP` and
`LTI_1P3_CONTEXT_ROLE_MAP`, consumer.py's claims): `sub` is the user's LTI external id (a UUID),
the deployment is "1", the context id and label are the course key, the title is
"<course name> - <org>", roles carry no membership role, and `preferred_username` comes only
when the course shares it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.launch import records
from lti_tool.models import Course, Enrollment, LtiDeployment, Platform
from lti_tool.people.roles import course_role
from lti_tool.sync.nrps import apply_roster
from tests.helpers.admin import add_admin, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTITUTION, MEMBERSHIP, SYSTEM, FakePlatform

LMS = "https://lms.example.com"
CLIENT_ID = "3f2a9c1e-6b7d-4e8f-a012-3456789abcde"
COURSE_KEY = "course-v1:ExampleU+CS101+2025_T1"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
# LTI_1P3_ROLE_MAP of lti-consumer-xblock v10.0.0 … v11.0.1 (the launch's roles claim).
OLD_OPENEDX_ROLES = {
    "staff": [SYSTEM + "Administrator", INSTITUTION + "Instructor"],
    "instructor": [INSTITUTION + "Instructor"],
    "student": [INSTITUTION + "Student"],
    "guest": [INSTITUTION + "Student"],
}
SUBS = {
    "staff": "a2b4c6d8-1111-4c2d-8e9f-0a1b2c3d4e5f",
    "instructor": "0d6f3b1c-2222-4a5b-9c8d-7e6f5a4b3c2d",
    "student": "5f0c1e9a-3b7d-4e2a-9c61-2d8e4f7a0b13",
    "guest": "9e8d7c6b-4444-4f3e-8d2c-1b0a9f8e7d6c",
}


def openedx_claims(platform: FakePlatform, nonce: str, who: str, username: bool) -> dict[str, Any]:
    """A v10.0.1 LtiResourceLinkRequest body, as lti-consumer-xblock builds it."""
    now = int(time.time())
    body: dict[str, Any] = {
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        "iss": platform.issuer,
        "aud": platform.client_id,
        "azp": platform.client_id,
        CLAIM + "deployment_id": "1",
        CLAIM + "target_link_uri": "https://tool.test/lti/launch",
        "sub": SUBS[who],
        # The code builds a set: the order is arbitrary, so send it reversed.
        CLAIM + "roles": list(reversed(OLD_OPENEDX_ROLES[who])),
        CLAIM + "resource_link": {
            "id": "block-v1:ExampleU+CS101+2025_T1+type@lti_consumer+block@7a1c2f9e3b5d4c6e"
        },
        CLAIM + "context": {
            "id": COURSE_KEY,
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            "title": "Intro to CS - ExampleU",
            "label": COURSE_KEY,
        },
        CLAIM + "launch_presentation": {"document_target": "iframe"},
        CLAIM + "tool_platform": {
            "guid": "c819ec8e-eb4d-5a04-973a-0d0114177675",
            "name": "Example University",
        },
        NRPS: {
            "context_memberships_url": LMS + "/api/lti_consumer/v1/lti/42/memberships",
            "service_versions": ["2.0"],
        },
        "nonce": nonce,
        "iat": now,
        "exp": now + 3600,
    }
    if username:
        body["preferred_username"] = f"jdoe_{who}"
    return body


def launch(client: FlaskClient, platform: FakePlatform, who: str, username: bool = True) -> Any:
    """The real flow: OIDC login, then the signed v10-shaped launch."""
    auth = platform.login(client, login_hint=SUBS[who])
    token = platform.sign(openedx_claims(platform, auth["nonce"], who, username))
    return client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})


def register(app: Flask, runner: FlaskCliRunner, lms: str) -> FakePlatform:
    """Register the platform with `flask platform add --lms …`, as an administrator would."""
    platform = FakePlatform(issuer=LMS, client_id=CLIENT_ID, deployment_id="1", name="Example")
    jwks = app.instance_path + "/platform-jwks.json"
    os.makedirs(app.instance_path, exist_ok=True)
    with open(jwks, "w", encoding="utf-8") as handle:
        json.dump({"keys": [platform.jwk]}, handle)
    platform.auth_url = LMS + "/api/lti_consumer/v1/launch/"
    result = runner.invoke(
        args=[
            "platform",
            "add",
            "--name",
            "Example",
            "--issuer",
            LMS,
            "--client-id",
            CLIENT_ID,
            "--auth-login-url",
            platform.auth_url,
            "--auth-token-url",
            LMS + "/api/lti_consumer/v1/token/42",
            "--jwks-file",
            jwks,
            "--deployment-id",
            "1",
            "--lms",
            lms,
        ]
    )
    assert result.exit_code == 0, result.output
    return platform


def row_counts(app: Flask) -> dict[str, int]:
    """Rows per table, but the launch's own state (nonces) and the refusal log."""
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
            for table in db.metadata.sorted_tables
            if table.name not in ("lti_store", "launch_error")
        }


@pytest.mark.parametrize(
    ("who", "page"),
    [
        ("staff", "/courses/1/"),
        ("instructor", "/courses/1/"),
        ("student", "/courses/1/me"),
        ("guest", "/courses/1/me"),
    ],
)
def test_old_openedx_launches_reach_their_pages_on_a_platform_marked_openedx(
    app: Flask, runner: FlaskCliRunner, who: str, page: str
) -> None:
    platform = register(app, runner, "openedx")
    client = https_client(app)
    response = launch(client, platform, who)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].startswith(page + "?t=")
    assert client.get(response.headers["Location"]).status_code == 200
    with app.app_context():
        enrollment = db.session.scalar(select(Enrollment))
        assert enrollment is not None
        assert enrollment.course_role == ("learner" if who in ("student", "guest") else "staff")
        course = db.session.scalar(select(Course))
        assert course is not None and course.lms_course_id == COURSE_KEY


def test_old_openedx_staff_never_earn_the_administrators_link(
    app: Flask, runner: FlaskCliRunner
) -> None:
    platform = register(app, runner, "openedx")
    with app.app_context():
        for deployment in db.session.scalars(select(LtiDeployment)):
            deployment.admin_launch_enabled = True  # switched on by a local administrator
        db.session.commit()
    response = launch(https_client(app), platform, "staff")
    # Straight to the course: system/person#Administrator is every old Open edX course staff's.
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].startswith("/courses/1/?t=")
    assert "/admin/enter" not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["staff", "instructor", "student"])
def test_the_same_launch_on_a_canvas_platform_is_refused_and_writes_nothing(
    app: Flask, runner: FlaskCliRunner, who: str
) -> None:
    platform = register(app, runner, "canvas")
    client = https_client(app)
    client.get("/lti/jwks")  # the tool's key exists, as once the LMS has fetched it
    before = row_counts(app)
    response = launch(client, platform, who)
    html = response.get_data(as_text=True)
    assert response.status_code == 403, html
    assert "does not give access" in html
    assert "flask platform set-lms --platform" in html and "openedx" in html
    assert row_counts(app) == before  # no course, person, identity or enrollment


def test_set_lms_lets_the_next_launch_in_and_platform_list_says_it(
    app: Flask, runner: FlaskCliRunner
) -> None:
    platform = register(app, runner, "other")
    assert launch(https_client(app), platform, "staff").status_code == 403
    assert "lms=other" in runner.invoke(args=["platform", "list"]).output
    result = runner.invoke(args=["platform", "set-lms", "--platform", "Example", "openedx"])
    assert result.exit_code == 0, result.output
    assert "lms=openedx" in runner.invoke(args=["platform", "list"]).output
    assert launch(https_client(app), platform, "staff").status_code == 303
    bad = runner.invoke(args=["platform", "set-lms", "--platform", "Example", "blackboard"])
    assert bad.exit_code == 2


def test_membership_roles_win_over_the_old_map_and_other_lms_stay_strict() -> None:
    # lti-consumer-xblock 11.1+: membership roles are read as on any LMS.
    new_student = [SYSTEM + "None", INSTITUTION + "None", MEMBERSHIP + "Learner"]
    assert course_role(new_student, "openedx").role == "learner"
    # A community TA who is a student stays a learner.
    ta = [MEMBERSHIP + "Learner", MEMBERSHIP + "Instructor#TeachingAssistant"]
    assert course_role(ta, "openedx").role == "learner"
    for roles, expected in [
        (OLD_OPENEDX_ROLES["staff"], "staff"),
        (OLD_OPENEDX_ROLES["instructor"], "staff"),
        (OLD_OPENEDX_ROLES["student"], "learner"),
        ([INSTITUTION + "Learner"], "learner"),
        ([INSTITUTION + "Administrator"], "none"),
    ]:
        assert course_role(roles, "openedx").role == expected
        assert course_role(roles, "canvas").role == "none"
        assert course_role(roles).role == "none"


def test_old_openedx_nrps_members_get_their_course_roles(app: Flask) -> None:
    """v10 rosters: LTI_1P3_CONTEXT_ROLE_MAP (staff → Administrator), and no roles at all for
    users whose only access role is unmapped; members with institution roles only are read
    through the old launch map, as their launches are."""
    platform = FakePlatform(issuer=LMS, client_id=CLIENT_ID, deployment_id="1", name="Example")
    platform.register(app)
    members = [
        {"status": "Active", "user_id": SUBS["student"], "roles": [MEMBERSHIP + "Learner"]},
        {
            "status": "Active",
            "user_id": SUBS["staff"],
            "roles": [MEMBERSHIP + "Learner", MEMBERSHIP + "Administrator"],
        },
        {"status": "Active", "user_id": SUBS["instructor"], "roles": [INSTITUTION + "Instructor"]},
        {"status": "Active", "user_id": SUBS["guest"], "roles": []},
    ]
    with app.app_context():
        row = db.session.scalar(select(Platform))
        assert row is not None
        row.lms = "openedx"
        course = records.upsert_course(row.id, {CLAIM + "context": {"id": COURSE_KEY}})
        assert course is not None
        apply_roster(db.session, course, members)
        db.session.commit()
        roles = {e.person_id: e.course_role for e in db.session.scalars(select(Enrollment))}
        by_sub = {
            sub: roles[records.upsert_person(row.id, {"sub": sub}).id] for sub in SUBS.values()
        }
    assert by_sub == {
        SUBS["student"]: "learner",
        SUBS["staff"]: "staff",
        SUBS["instructor"]: "staff",
        SUBS["guest"]: "none",
    }


def test_administrators_mark_the_lms_on_the_platform_forms(app: Flask, client: FlaskClient) -> None:
    add_admin(app)
    sign_in(client)
    lms = FakePlatform(issuer=LMS, client_id=CLIENT_ID, deployment_id="1", name="Example")
    form = {
        "name": "Open edX",
        "issuer": LMS,
        "lms": "openedx",
        "client_id": CLIENT_ID,
        "auth_login_url": LMS + "/api/lti_consumer/v1/launch/",
        "auth_token_url": LMS + "/api/lti_consumer/v1/token/42",
        "jwks": json.dumps({"keys": [lms.jwk]}),
        "deployment_ids": "1",
    }
    assert post(client, "/admin/platforms/new", form, "/admin/platforms/new").status_code == 303
    with app.app_context():
        row = db.session.scalar(select(Platform))
        assert row is not None and row.lms == "openedx"
        platform_id = row.id
    page = client.get(f"/admin/platforms/{platform_id}").get_data(as_text=True)
    assert '<option value="openedx" selected>Open edX</option>' in page
    edit = {"name": "Open edX", "issuer": LMS, "lms": "moodle", "enabled": "on"}
    url = f"/admin/platforms/{platform_id}"
    assert post(client, url, edit, url).status_code == 303
    bad = post(client, url, {**edit, "lms": "blackboard"}, url)
    assert bad.status_code == 400 and "LMS: " in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Platform, platform_id).lms == "moodle"
