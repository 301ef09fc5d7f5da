"""LTI Dynamic Registration from the LMS's side: its openid configuration, faked with
`responses` (`fake_lms`), and opening the tool's registration page as the LMS does (`start`)."""

from __future__ import annotations

from typing import Any

import responses
from flask.testing import FlaskClient

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CONFIG_PATH = "/api/lti/security/openid-configuration"


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
    **changes: Any,
) -> dict[str, Any]:
    config = {**platform_config(base, product, issuer), **changes}
    responses.get(
        base + CONFIG_PATH,
        json=config,
        match=[responses.matchers.header_matcher({"Authorization": "Bearer reg-token"})],
    )
    responses.post(
        config["registration_endpoint"],
        status=registration_status,
        json={"client_id": client_id, TOOL_CONFIG: {"deployment_id": deployment}},
    )
    return config


def start(client: FlaskClient, base: str, code: str | None = None, path: str = CONFIG_PATH) -> Any:
    """Open the registration page as the LMS does, appending its parameters to the pasted URL."""
    query = {"openid_configuration": base + path, "registration_token": "reg-token"}
    if code is not None:
        query["code"] = code
    return client.get("/lti/register", query_string=query)
