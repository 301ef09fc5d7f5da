"""LTI Dynamic Registration (used by Canvas and Moodle): the platform registers the tool itself.

The administrator pastes `TOOL_BASE_URL/lti/register` into the LMS; the LMS opens it with
`openid_configuration` and `registration_token`; the tool fetches and checks the platform's
configuration, posts its own, stores the platform, registration and deployment, and asks the
LMS to close the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import platforms
from lti_tool.launch.canvas_config import NRPS_SCOPE
from lti_tool.models import LtiRegistration, Platform

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)


class RegistrationRefused(Exception):
    """Dynamic registration cannot go on; the message says why, in words."""


@dataclass
class Registered:
    """What a successful registration stored."""

    platform: Platform
    registration: LtiRegistration
    deployment_id: str | None


def host_allowed(url: str, allowed: list[str] | None) -> bool:
    """Is the LMS's host on the allow-list (None: every host is allowed)?"""
    if allowed is None:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == entry or host.endswith("." + entry) for entry in allowed)


def fetch_platform_configuration(
    url: str, token: str | None, http: requests.Session
) -> dict[str, Any]:
    """GET the platform's OpenID configuration and check it names itself truthfully."""
    if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).netloc:
        raise RegistrationRefused("openid_configuration is not a URL")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = http.get(url, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise RegistrationRefused(f"could not fetch the platform configuration ({exc})") from exc
    if response.status_code != 200:
        raise RegistrationRefused(
            f"the platform configuration answered HTTP {response.status_code}"
        )
    try:
        config = response.json()
    except ValueError as exc:
        raise RegistrationRefused("the platform configuration is not JSON") from exc
    if not isinstance(config, dict):
        raise RegistrationRefused("the platform configuration is not a JSON object")
    missing = [key for key in REQUIRED if not isinstance(config.get(key), str)]
    if missing:
        raise RegistrationRefused("the platform configuration lacks " + ", ".join(missing))
    # The issuer must be the host we fetched its configuration from: otherwise any site could
    # register in the name of another LMS.
    if urlsplit(config["issuer"]).hostname != urlsplit(url).hostname:
        raise RegistrationRefused(
            f"the configuration's issuer {config['issuer']!r} does not match the URL it was "
            f"fetched from ({urlsplit(url).hostname})"
        )
    return config


def tool_configuration(
    base_url: str, title: str, platform_config: dict[str, Any]
) -> dict[str, Any]:
    """The client registration the tool posts: login, launch, keys, messages, claims, scopes."""
    base = base_url.rstrip("/")
    launch = base + "/lti/launch"
    product = (platform_config.get(PLATFORM_CONFIG) or {}).get("product_family_code", "")
    custom: dict[str, str] = {}
    navigation, picker = ["course_navigation"], ["link_selection"]
    if product == "canvas":
        custom = {
            "canvas_course_id": "$Canvas.course.id",
            "canvas_user_id": "$Canvas.user.id",
            "canvas_api_domain": "$Canvas.api.domain",
        }
    elif product == "moodle":
        navigation, picker = [], ["ContentArea"]
    scopes = [NRPS_SCOPE] if NRPS_SCOPE in (platform_config.get("scopes_supported") or []) else []
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": base + "/lti/login",
        "redirect_uris": [launch],
        "client_name": title,
        "jwks_uri": base + "/lti/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIG: {
            "domain": urlsplit(base).netloc,
            "target_link_uri": launch,
            "custom_parameters": custom,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {
                    "type": "LtiResourceLinkRequest",
                    "target_link_uri": launch,
                    "label": title,
                    "placements": navigation,
                },
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": launch,
                    "label": title,
                    "placements": picker,
                },
            ],
        },
    }


def register_with_platform(
    platform_config: dict[str, Any], body: dict[str, Any], token: str | None, http: requests.Session
) -> dict[str, Any]:
    """POST the tool's configuration to the platform's registration endpoint."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = http.post(
            platform_config["registration_endpoint"], json=body, headers=headers, timeout=10
        )
    except requests.RequestException as exc:
        raise RegistrationRefused(f"could not reach the registration endpoint ({exc})") from exc
    if response.status_code in (401, 403):
        raise RegistrationRefused(
            "the platform refused the registration token (it may have expired): start the "
            "registration again from the LMS"
        )
    if response.status_code not in (200, 201):
        raise RegistrationRefused(f"the platform answered HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise RegistrationRefused("the platform's answer is not JSON") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("client_id"), str):
        raise RegistrationRefused("the platform's answer has no client_id")
    return answer


def store_registration(
    session: Session, platform_config: dict[str, Any], answer: dict[str, Any], config_url: str
) -> Registered:
    """Create or extend the platform, its registration and deployment; the caller commits."""
    issuer = platform_config["issuer"]
    client_id = answer["client_id"]
    existing = session.scalar(
        select(LtiRegistration).where(
            LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id
        )
    )
    product = (platform_config.get(PLATFORM_CONFIG) or {}).get("product_family_code") or "LMS"
    host = urlsplit(issuer).hostname or issuer
    origins = sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in (issuer, config_url)})
    if existing is not None:
        platform, registration = existing.platform, existing
    else:
        same_issuer = list(session.scalars(select(Platform).where(Platform.issuer == issuer)))
        # Hosted Canvas shares one issuer between institutions: one platform per registration.
        if len(same_issuer) == 1 and product != "canvas":
            platform = same_issuer[0]
        else:
            name = f"{product} {host}"
            if platforms.platform_named(session, name) is not None:
                name = f"{name} ({client_id})"
            platform = platforms.add_platform(session, name, issuer)
        registration = platforms.add_registration(session, platform, client_id)
    # Canvas and Moodle name themselves in their OpenID configuration (Open edX does not
    # offer dynamic registration); a platform an administrator marked stays as marked.
    if product in ("canvas", "moodle") and platform.lms == "other":
        platform.lms = product
    registration.auth_login_url = platform_config["authorization_endpoint"]
    registration.auth_token_url = platform_config["token_endpoint"]
    registration.auth_audience = platform_config.get("authorization_server")
    registration.jwks_url, registration.jwks = platform_config["jwks_uri"], None
    platform.frame_origins = sorted(set(platform.frame_origins or []) | set(origins))
    session.flush()
    deployment_id = (answer.get(TOOL_CONFIG) or {}).get("deployment_id")
    if deployment_id:
        platforms.add_deployments(session, registration, [str(deployment_id)])
    return Registered(platform, registration, str(deployment_id) if deployment_id else None)
