"""Authorization by course role, with the role shapes real LMSs send, and the session token."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.launch.identity import Viewer, issue_token
from lti_tool.models import Course, Enrollment
from lti_tool.people.roles import course_role
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTITUTION, LEARNER, MEMBERSHIP, SYSTEM, FakePlatform

TA_SUB = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"

# (LMS, who, roles claim as that LMS sends it, expected course role)
REAL_SHAPES = [
    (
        "canvas",
        "teacher",
        [MEMBERSHIP + "Instructor", INSTITUTION + "Instructor", SYSTEM + "User"],
        "staff",
    ),
    ("canvas", "TA", [MEMBERSHIP + "Instructor", TA_SUB, SYSTEM + "User"], "staff"),
    (
        "canvas",
        "student who teaches elsewhere",
        [
            MEMBERSHIP + "Learner",
            INSTITUTION + "Instructor",
            INSTITUTION + "Student",
            SYSTEM + "User",
        ],
        "learner",
    ),
    ("canvas", "designer", [MEMBERSHIP + "ContentDeveloper", SYSTEM + "User"], "staff"),
    ("canvas", "observer", [MEMBERSHIP + "Mentor", SYSTEM + "User"], "observer"),
    (
        "canvas",
        "test student",
        [MEMBERSHIP + "Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"],
        "learner",
    ),
    (
        "openedx",
        "instructor",
        [
            SYSTEM + "None",
            INSTITUTION + "None",
            MEMBERSHIP + "Administrator",
            MEMBERSHIP + "Instructor",
        ],
        "staff",
    ),
    (
        "openedx",
        "staff",
        [SYSTEM + "None", INSTITUTION + "None", MEMBERSHIP + "Instructor"],
        "staff",
    ),
    (
        "openedx",
        "student",
        [SYSTEM + "None", INSTITUTION + "None", MEMBERSHIP + "Learner"],
        "learner",
    ),
    (
        "openedx",
        "community TA",
        [SYSTEM + "None", INSTITUTION + "None", MEMBERSHIP + "Learner", TA_SUB],
        "learner",
    ),
    ("moodle", "teacher", [MEMBERSHIP + "Instructor"], "staff"),
    (
        "moodle",
        "site admin",
        [INSTITUTION + "Administrator", MEMBERSHIP + "Instructor", SYSTEM + "Administrator"],
        "staff",
    ),
    ("moodle", "student", [MEMBERSHIP + "Learner"], "learner"),
    ("any", "institution admin only", [INSTITUTION + "Administrator", SYSTEM + "SysAdmin"], "none"),
]


@pytest.mark.parametrize(
    ("lms", "who", "roles", "expected"), REAL_SHAPES, ids=[f"{r[0]}-{r[1]}" for r in REAL_SHAPES]
)
def test_real_lms_role_shapes(lms: str, who: str, roles: list[str], expected: str) -> None:
    assert course_role(roles).role == expected


@pytest.mark.parametrize(
    ("lms", "who", "roles", "expected"), REAL_SHAPES, ids=[f"{r[0]}-{r[1]}" for r in REAL_SHAPES]
)
def test_real_lms_role_shapes_land_on_right_page(
    lms: str, who: str, roles: list[str], expected: str, client: FlaskClient, platform: FakePlatform
) -> None:
    response = platform.launch(client, roles=roles)
    if expected == "staff":
        assert response.status_code == 303 and "/courses/1/?t=" in response.headers["Location"]
    elif expected == "learner":
        assert response.status_code == 303 and "/courses/1/me?t=" in response.headers["Location"]
    else:
        assert response.status_code == 403
        assert "does not give access" in response.get_data(as_text=True)


def test_test_student_is_left_out_of_counts(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    test_user = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"
    assert platform.launch(client, roles=LEARNER, sub="real").status_code == 303
    assert (
        platform.launch(
            client, roles=[MEMBERSHIP + "Learner", test_user], sub="test-student"
        ).status_code
        == 303
    )
    staff = platform.launch(client, sub="teacher")
    page = client.get(staff.headers["Location"]).get_data(as_text=True)
    assert 'id="count-learners">1<' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 3


def test_openedx_one_client_per_block_same_course(app: Flask, client: FlaskClient) -> None:
    issuer = "https://courses.openedx.example"
    ctx = {"id": "course-v1:EdX+DemoX+2026", "title": "edX Demo"}
    block_a = FakePlatform(
        issuer=issuer, client_id="block-a-client", deployment_id="1", name="Open edX"
    )
    block_a.register(app)
    with app.app_context():  # a second block: another registration of the same platform
        from lti_tool.models import LtiDeployment, LtiRegistration, Platform

        plat = db.session.scalar(select(Platform))
        reg = LtiRegistration(
            platform_id=plat.id,
            issuer=issuer,
            client_id="block-b-client",
            auth_login_url=issuer + "/auth",
            auth_token_url=issuer + "/token",
            jwks={"keys": [block_a.jwk]},
        )
        db.session.add(reg)
        db.session.flush()
        db.session.add(LtiDeployment(registration_id=reg.id, deployment_id="1"))
        db.session.commit()
    block_b = FakePlatform(
        issuer=issuer, client_id="block-b-client", deployment_id="1", name="Open edX"
    )
    for block in (block_a, block_b):
        response = block.launch(client, **{CLAIM + "context": ctx})
        assert response.status_code == 303
    with app.app_context():
        courses = list(db.session.scalars(select(Course)))
        assert len(courses) == 1 and courses[0].lms_course_id == "course-v1:EdX+DemoX+2026"


def _launch_url(
    platform: FakePlatform,
    client: FlaskClient,
    roles: list[str],
    sub: str,
    context_id: str = "course-ctx-1",
) -> str:
    ctx = {"id": context_id, "title": context_id}
    response = platform.launch(client, roles=roles, sub=sub, **{CLAIM + "context": ctx})
    assert response.status_code == 303
    return response.headers["Location"]


def test_learner_cannot_open_staff_pages(client: FlaskClient, platform: FakePlatform) -> None:
    me = _launch_url(platform, client, LEARNER, "student-1")
    token = me.split("t=")[1]
    response = client.get(f"/courses/1/?t={token}")
    assert response.status_code == 403
    assert "for the course&#39;s staff" in response.get_data(as_text=True)
    # Even with only the cookie the launch set.
    assert client.get("/courses/1/").status_code == 403


def test_staff_of_one_course_cannot_open_another(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    first = _launch_url(platform, client, [MEMBERSHIP + "Instructor"], "t1", "course-a")
    _launch_url(platform, client, LEARNER, "s1", "course-b")
    token_a = first.split("t=")[1]
    staff_browser = https_client(app)  # only course A's token, no cookies
    assert staff_browser.get(f"/courses/1/?t={token_a}").status_code == 200
    for path in ("/courses/2/", "/courses/2/me"):
        response = staff_browser.get(f"{path}?t={token_a}")
        assert response.status_code == 403
        assert "Open the tool from this course" in response.get_data(as_text=True)


def test_token_in_authorization_header_works_without_cookies(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token = _launch_url(platform, client, [MEMBERSHIP + "Instructor"], "t1").split("t=")[1]
    cookieless = app.test_client()
    assert cookieless.get("/courses/1/", base_url="https://tool.test").status_code == 403
    response = cookieless.get(
        "/courses/1/", base_url="https://tool.test", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    # Links on the page carry a fresh token so that navigation works without cookies.
    assert "/courses/1/me?t=" in response.get_data(as_text=True)


def test_forged_and_expired_tokens_are_refused(app: Flask, client: FlaskClient) -> None:
    with app.test_request_context():
        token = issue_token(Viewer(person_id=1, course_id=1, role="staff", platform_id=1))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get(f"/courses/1/?t={forged}").status_code == 403
    app.config["SESSION_TOKEN_MAX_AGE"] = 1
    time.sleep(2)
    assert client.get(f"/courses/1/?t={token}").status_code == 403


def test_security_headers_on_course_pages(client: FlaskClient, platform: FakePlatform) -> None:
    page = client.get(_launch_url(platform, client, [MEMBERSHIP + "Instructor"], "t1"))
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'self' https://lms.example.edu" in csp
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in page.get_data(as_text=True)  # no inline scripts
