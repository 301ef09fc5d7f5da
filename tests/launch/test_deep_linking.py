"""Deep linking: an instructor places the dashboard; the response JWT verifies with our JWKS."""

from __future__ import annotations

import html
import re
from typing import Any

import jwt
from flask.testing import FlaskClient
from jwcrypto.jwk import JWK

from tests.helpers.platform import CLAIM, LEARNER, FakePlatform

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
RETURN_URL = "https://lms.example.edu/deep_links/return"


def deep_link_request(body: dict[str, Any]) -> None:
    body[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
    body.pop(CLAIM + "resource_link")
    body[DL + "deep_linking_settings"] = {
        "deep_link_return_url": RETURN_URL,
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "data": "opaque-platform-data",
    }


def verify(client: FlaskClient, token: str) -> dict[str, Any]:
    """Check the JWT against the tool's published JWKS, as a platform would."""
    keys = {k["kid"]: k for k in client.get("/lti/jwks").get_json()["keys"]}
    kid = jwt.get_unverified_header(token)["kid"]
    public = JWK(**keys[kid]).export_to_pem()
    return jwt.decode(token, public, algorithms=["RS256"], audience="https://lms.example.edu")


def test_deep_linking_response_verifies_and_carries_required_claims(
    client: FlaskClient, platform: FakePlatform
) -> None:
    response = platform.launch(client, mutate=deep_link_request)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert "<script>" not in page  # plain forms, no inline script
    forms = re.findall(
        r'<form method="post" action="([^"]+)".*?name="JWT" value="([^"]+)"', page, re.S
    )
    assert [html.unescape(action) for action, _ in forms] == [RETURN_URL, RETURN_URL]
    claims = [verify(client, token) for _, token in forms]
    for body in claims:
        assert body["iss"] == platform.client_id and body["aud"] == [platform.issuer]
        assert body[CLAIM + "deployment_id"] == platform.deployment_id
        assert body[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
        assert body[CLAIM + "version"] == "1.3.0"
        assert body[DL + "data"] == "opaque-platform-data"
        assert body["exp"] > body["iat"] and body["nonce"]
    items = [body[DL + "content_items"][0] for body in claims]
    assert [(i["type"], i["url"], i["custom"]) for i in items] == [
        ("ltiResourceLink", "https://tool.test/lti/launch", {"view": "dashboard"}),
        ("ltiResourceLink", "https://tool.test/lti/launch", {"view": "progress"}),
    ]


def test_learners_cannot_place_the_tool(client: FlaskClient, platform: FakePlatform) -> None:
    response = platform.launch(client, roles=LEARNER, mutate=deep_link_request)
    assert response.status_code == 403
    assert "Only course staff can place the tool" in response.get_data(as_text=True)


def test_placed_progress_link_opens_the_student_view_for_staff(
    client: FlaskClient, platform: FakePlatform
) -> None:
    response = platform.launch(client, **{CLAIM + "custom": {"view": "progress"}})
    assert response.status_code == 303 and "/courses/1/me?t=" in response.headers["Location"]
