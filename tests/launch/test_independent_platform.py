"""Launches built and signed by an independent LTI 1.3 platform: the PyPI package lti1p3platform.

Nothing here shares code with tests/helpers/platform.py: the login initiation URL, the checks of the
tool's OIDC auth request (nonce, state, redirect_uri, client_id), the claims, the JWT header (kid)
and the signature all come from lti1p3platform; this module only supplies the glue it asks for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from lti1p3platform.ltiplatform import JWKS, LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.lti.keys import generate_private_key_pem
from lti_tool.models import Course, LtiDeployment, LtiRegistration, Platform
from tests.helpers.platform import follow

ISSUER = "https://independent-lms.test"
AUTH_URL = ISSUER + "/oidc/auth"
CLIENT_ID = "independent-client"
DEPLOYMENT_ID = "independent-deployment"
LAUNCH_URL = "https://tool.test/lti/launch"
LOGIN_URL = "https://tool.test/lti/login"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
COURSE_TITLE = "Independent Platform 101"


class IndependentPlatformConf(LTI1P3PlatformConfAbstract):
    """The platform's one registration of the tool: its URLs, ids, key pair and the tool's keys."""

    def init_platform_config(self, **kwargs: Any) -> None:
        private_pem: str = kwargs["private_key"]
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.registration = (
            Registration()
            .set_iss(ISSUER)
            .set_client_id(CLIENT_ID)
            .set_deployment_id(DEPLOYMENT_ID)
            .set_launch_url(LAUNCH_URL)
            .set_oidc_login_url(LOGIN_URL)
            .set_platform_private_key(private_pem)
            .set_platform_public_key(public_pem.decode())
            .set_tool_key_set(kwargs["tool_jwks"])
        )

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self.registration


class QueryRequest(Request):
    """lti1p3platform's request adapter over the URL the tool redirected the browser to."""

    def build_metadata(self, request: Any) -> TRequest:
        url = urlsplit(str(request))
        return {
            "method": "GET",
            "form_data": {},
            "get_data": dict(parse_qsl(url.query)),
            "headers": {},
            "content_type": None,
            "path": url.path,
            "json": None,
        }


class OIDCLogin(OIDCLoginAbstract):
    """Third-party login initiation; "redirecting" hands back the preflight URL."""

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["resource_link_id"]

    def get_redirect(self, url: str) -> str:
        return url


class MessageLaunch(LTIAdvantageMessageLaunchAbstract):
    """The launch; "rendering the form" hands back its fields (id_token, state, launch_url)."""

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


@pytest.fixture
def independent(app: Flask, client: FlaskClient) -> IndependentPlatformConf:
    """lti1p3platform configured for the tool, and registered in the tool's database."""
    tool_jwks: JWKS = client.get("/lti/jwks").get_json()
    conf = IndependentPlatformConf(private_key=generate_private_key_pem(), tool_jwks=tool_jwks)
    registration = conf.get_registration()
    [jwk] = registration.get_jwks()
    assert jwk["kid"] and jwk["kid"] == registration.get_kid()  # the kid of the JWT header
    with app.app_context():
        platform = Platform(name="Independent LMS", issuer=ISSUER, frame_origins=[ISSUER])
        db.session.add(platform)
        db.session.flush()
        row = LtiRegistration(
            platform_id=platform.id,
            issuer=ISSUER,
            client_id=CLIENT_ID,
            auth_login_url=AUTH_URL,
            auth_token_url=ISSUER + "/oidc/token",
            jwks={"keys": [jwk]},
        )
        db.session.add(row)
        db.session.flush()
        db.session.add(LtiDeployment(registration_id=row.id, deployment_id=DEPLOYMENT_ID))
        db.session.commit()
    return conf


def signed_launch(
    client: FlaskClient, conf: IndependentPlatformConf, user_id: str, role: str
) -> dict[str, Any]:
    """Login initiation and launch as lti1p3platform makes them; returns the form fields."""
    oidc = OIDCLogin(None, conf)
    oidc.set_lti_message_hint(resource_link_id="independent-link-1")
    preflight = oidc.initiate_login(user_id)
    assert preflight.startswith(LOGIN_URL + "?")
    answer = client.get(preflight)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    redirect = answer.headers["Location"]
    assert redirect.startswith(AUTH_URL + "?")

    launch = MessageLaunch(QueryRequest(redirect), conf)
    launch.set_user_data(user_id, [MEMBERSHIP + role], "Indy Pendent", "indy@example.edu")
    launch.set_resource_link_claim("independent-link-1", title="Analytics")
    launch.set_launch_context_claim(
        "independent-course-1", [COURSE_OFFERING], COURSE_TITLE, "IND101"
    )
    form: dict[str, Any] = launch.lti_launch()
    assert form["launch_url"] == LAUNCH_URL
    return form


def post_launch(client: FlaskClient, form: dict[str, Any]) -> Any:
    """The browser's auto-submitted launch form."""
    data = {"id_token": form["id_token"], "state": form["state"]}
    return client.post(urlsplit(form["launch_url"]).path, data=data)


@pytest.mark.parametrize(
    ("role", "page", "text"),
    [("Instructor", "/?t=", "Course staff"), ("Learner", "/me?", "My progress")],
    ids=["instructor", "student"],
)
def test_independent_platform_launch_lands_on_role_page(
    app: Flask,
    client: FlaskClient,
    independent: IndependentPlatformConf,
    role: str,
    page: str,
    text: str,
) -> None:
    response = post_launch(client, signed_launch(client, independent, "indy-" + role, role))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None and course.title == COURSE_TITLE
        assert course.lti_context_id == "independent-course-1"
    assert response.headers["Location"].startswith(f"/courses/{course.id}{page}")
    landing = follow(client, response)
    assert landing.status_code == 200
    html = landing.get_data(as_text=True)
    assert text in html
    if role == "Instructor":
        assert COURSE_TITLE in html


def test_independent_platform_id_token_replay_is_refused(
    client: FlaskClient, independent: IndependentPlatformConf
) -> None:
    form = signed_launch(client, independent, "indy-replay", "Instructor")
    assert post_launch(client, form).status_code == 303
    again = post_launch(client, form)
    assert again.status_code == 401
    assert "already used" in again.get_data(as_text=True)
