"""LTI Dynamic Registration against fake Canvas- and Moodle-shaped platforms (HTTP boundary)."""

from __future__ import annotations

import json
from typing import Any

import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import LtiRegistration, Platform
from tests.lti_platform import FakePlatform

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def platform_config(base: str, product: str, issuer: str | None = None) -> dict[str, Any]:
    return {
        "issuer": issuer or base,
        "authorization_endpoint": f"{base}/api/lti/authorize_redirect",
        "token_endpoint": f"{base}/login/oauth2/token",
        "jwks_uri": f"{base}/api/lti/security/jwks",
        "registration_endpoint": f"{base}/api/lti/registrations",
        "scopes_supported": ["openid", NRPS],
        "https://purl.imsglobal.org/spec/lti-platform-configuration": {
            "product_family_code": product,
            "version": "1.0",
            "messages_supported": [
                {"type": "LtiResourceLinkRequest"},
                {"type": "LtiDeepLinkingRequest"},
            ],
        },
    }


def fake_lms(
    base: str,
    product: str,
    client_id: str,
    deployment: str,
    issuer: str | None = None,
    registration_status: int = 200,
) -> None:
    config_url = f"{base}/api/lti/security/openid-configuration"
    responses.get(
        config_url,
        json=platform_config(base, product, issuer),
        match=[responses.matchers.header_matcher({"Authorization": "Bearer reg-token"})],
    )
    responses.post(
        f"{base}/api/lti/registrations",
        status=registration_status,
        json={"client_id": client_id, TOOL_CONFIG: {"deployment_id": deployment}},
    )


def start(client: FlaskClient, base: str) -> Any:
    return client.get(
        "/lti/register",
        query_string={
            "openid_configuration": f"{base}/api/lti/security/openid-configuration",
            "registration_token": "reg-token",
        },
    )


@responses.activate
def test_canvas_shaped_registration_then_a_launch(app: Flask, client: FlaskClient) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "10000000000123", "42:abcdef")
    page = start(client, base)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'data-close-message="org.imsglobal.lti.close"' in html and "10000000000123" in html
    sent = json.loads(responses.calls[1].request.body)
    assert responses.calls[1].request.headers["Authorization"] == "Bearer reg-token"
    assert sent["initiate_login_uri"] == "https://tool.test/lti/login"
    assert sent["redirect_uris"] == ["https://tool.test/lti/launch"]
    assert sent["jwks_uri"] == "https://tool.test/lti/jwks" and sent["scope"] == NRPS
    messages = {m["type"]: m["placements"] for m in sent[TOOL_CONFIG]["messages"]}
    assert messages == {
        "LtiResourceLinkRequest": ["course_navigation"],
        "LtiDeepLinkingRequest": ["link_selection"],
    }
    assert sent[TOOL_CONFIG]["custom_parameters"]["canvas_course_id"] == "$Canvas.course.id"
    with app.app_context():
        reg = db.session.scalar(select(LtiRegistration))
        assert (reg.issuer, reg.client_id, reg.jwks_url) == (
            base,
            "10000000000123",
            f"{base}/api/lti/security/jwks",
        )
        assert [d.deployment_id for d in reg.deployments] == ["42:abcdef"]
        assert reg.platform.frame_origins == [base]
        assert reg.platform.lms == "canvas"  # its OpenID configuration says so
    # The platform can now launch the tool.
    lms = FakePlatform(issuer=base, client_id="10000000000123", deployment_id="42:abcdef")
    lms.auth_url = f"{base}/api/lti/authorize_redirect"
    responses.get(f"{base}/api/lti/security/jwks", json={"keys": [lms.jwk]})
    assert lms.launch(client).status_code == 303


@responses.activate
def test_moodle_shaped_registration(app: Flask, client: FlaskClient) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "7")
    assert start(client, base).status_code == 200
    sent = json.loads(responses.calls[1].request.body)
    messages = {m["type"]: m["placements"] for m in sent[TOOL_CONFIG]["messages"]}
    assert messages["LtiDeepLinkingRequest"] == ["ContentArea"]
    assert sent[TOOL_CONFIG]["custom_parameters"] == {}
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert platform.name == "moodle moodle.college.test"
        assert platform.lms == "moodle"


@responses.activate
def test_issuer_that_does_not_match_the_url_is_refused(app: Flask, client: FlaskClient) -> None:
    base = "https://evil.test"
    fake_lms(base, "canvas", "1", "1", issuer="https://canvas.instructure.com")
    page = start(client, base)
    assert page.status_code == 400
    assert "does not match the URL it was fetched from" in page.get_data(as_text=True)
    assert len(responses.calls) == 1  # nothing was posted to the registration endpoint
    with app.app_context():
        assert db.session.scalar(select(Platform)) is None


@responses.activate
def test_expired_registration_token_is_explained(app: Flask, client: FlaskClient) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "1", "1", registration_status=401)
    page = start(client, base)
    assert page.status_code == 400
    assert "refused the registration token (it may have expired)" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Platform)) is None


def test_dynamic_registration_closed_unless_the_host_is_allowed(
    app: Flask, client: FlaskClient
) -> None:
    app.config["DYNAMIC_REGISTRATION_HOSTS"] = "university.test"
    page = start(client, "https://moodle.other.test")
    assert page.status_code == 400 and "DYNAMIC_REGISTRATION_HOSTS" in page.get_data(as_text=True)
    app.config["DYNAMIC_REGISTRATION_HOSTS"] = ""
    assert start(client, "https://canvas.university.test").status_code == 400
