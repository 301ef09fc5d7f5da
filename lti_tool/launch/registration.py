"""LTI Dynamic Registration (used by Canvas and Moodle): the platform registers the tool itself.

The administrator pastes `TOOL_BASE_URL/lti/register` into the LMS (with `?code=…` when the
tool's administrator made an invitation); the LMS opens it with `openid_configuration` and
`registration_token`; the tool fetches and checks the platform's configuration, posts its own,
stores a new platform, registration and deployment, and asks the LMS to close the window. An
uninvited platform waits for an administrator's approval before it can launch the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from lti_tool import audit, platforms
from lti_tool.i18n.text import N_, lazy_gettext
from lti_tool.launch.canvas_config import NRPS_SCOPE
from lti_tool.launch.outbound import Fetcher, Refused, check_url
from lti_tool.models import LtiRegistration, Platform, RegistrationInvite
from lti_tool.models.types import DbSession

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
#: The endpoints the tool stores (or posts to): each must be on the issuer's host or allowed.
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
REQUIRED = ("issuer", *ENDPOINTS)


class RegistrationRefused(Refused):
    """Dynamic registration cannot go on; the message says why, in words."""


@dataclass
class Registered:
    """What a successful registration stored."""

    platform: Platform
    registration: LtiRegistration
    deployment_id: str | None


def host_allowed(url: str, allowed: list[str] | frozenset[str] | None) -> bool:
    """Is the URL's host on the allow-list, subdomains included (None: every host is)?"""
    if allowed is None:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == entry or host.endswith("." + entry) for entry in allowed)


def check_endpoints(
    config: dict[str, Any], config_url: str, fetcher: Fetcher, allowed_hosts: frozenset[str]
) -> None:
    """Refuse a configuration whose URLs are not https on the issuer's (or an allowed) host.

    The issuer must be the host the configuration came from, or both hosts allowed: otherwise
    any site could register in the name of another LMS, or have the tool fetch keys from, and
    send people to, wherever it likes.
    """
    issuer = config["issuer"]
    check_url(issuer, fetcher.policy, lazy_gettext("the configuration's issuer"))
    issuer_host = (urlsplit(issuer).hostname or "").lower()
    config_host = (urlsplit(config_url).hostname or "").lower()
    if config_host != issuer_host and not (
        host_allowed(config_url, allowed_hosts) and host_allowed(issuer, allowed_hosts)
    ):
        raise RegistrationRefused(
            N_(
                "the configuration's issuer %(issuer)r does not match the URL it was fetched "
                "from (%(host)s), and DYNAMIC_REGISTRATION_ENDPOINT_HOSTS does not allow both"
            ),
            issuer=issuer,
            host=config_host,
        )
    for key in ENDPOINTS:
        url = check_url(
            config[key], fetcher.policy, lazy_gettext("the platform's %(key)s", key=key)
        )
        host = (urlsplit(url).hostname or "").lower()
        if host != issuer_host and not host_allowed(url, allowed_hosts):
            raise RegistrationRefused(
                N_(
                    "the platform's %(key)s %(url)r is not on the issuer's host (%(host)s) nor "
                    "on a host DYNAMIC_REGISTRATION_ENDPOINT_HOSTS allows"
                ),
                key=key,
                url=url,
                host=issuer_host,
            )


def fetch_platform_configuration(
    url: str, token: str | None, fetcher: Fetcher, allowed_hosts: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """GET the platform's OpenID configuration and check it names itself truthfully."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise RegistrationRefused(N_("openid_configuration is not a URL"))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = fetcher.get(url, lazy_gettext("the platform configuration"), headers=headers)
    if answer.status != 200:
        raise RegistrationRefused(
            N_("the platform configuration answered HTTP %(status)s"), status=answer.status
        )
    try:
        config = answer.json()
    except ValueError as exc:
        raise RegistrationRefused(N_("the platform configuration is not JSON")) from exc
    if not isinstance(config, dict):
        raise RegistrationRefused(N_("the platform configuration is not a JSON object"))
    missing = [key for key in REQUIRED if not isinstance(config.get(key), str)]
    if missing:
        raise RegistrationRefused(
            N_("the platform configuration lacks %(fields)s"), fields=", ".join(missing)
        )
    check_endpoints(config, url, fetcher, allowed_hosts)
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
    platform_config: dict[str, Any], body: dict[str, Any], token: str | None, fetcher: Fetcher
) -> dict[str, Any]:
    """POST the tool's configuration to the platform's registration endpoint."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = fetcher.post(
        platform_config["registration_endpoint"],
        lazy_gettext("the registration endpoint"),
        json=body,
        headers=headers,
    )
    if response.status in (401, 403):
        raise RegistrationRefused(
            N_(
                "the platform refused the registration token (it may have expired): start the "
                "registration again from the LMS"
            )
        )
    if response.status not in (200, 201):
        raise RegistrationRefused(
            N_("the platform answered HTTP %(status)s"), status=response.status
        )
    try:
        answer = response.json()
    except ValueError as exc:
        raise RegistrationRefused(N_("the platform's answer is not JSON")) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("client_id"), str):
        raise RegistrationRefused(N_("the platform's answer has no client_id"))
    if len(answer["client_id"]) > 255:
        raise RegistrationRefused(N_("the platform's client_id is longer than 255 characters"))
    return answer


def _platform_for(
    session: DbSession,
    issuer: str,
    product: str,
    config_url: str,
    client_id: str,
    invite: RegistrationInvite | None,
) -> tuple[Platform, bool]:
    """(platform, created) for a new registration: a new one, unless invited to join one.

    An uninvited registration always makes its own platform, pending approval: joining an
    approved platform of the same issuer would let it skip the approval.
    """
    if invite is not None and product != "canvas":
        # Hosted Canvas shares one issuer between institutions: one platform per registration.
        same_issuer = list(session.scalars(select(Platform).where(Platform.issuer == issuer)))
        if len(same_issuer) == 1 and same_issuer[0].approved:
            return same_issuer[0], False
    name = f"{product} {urlsplit(config_url).hostname or issuer}"
    if platforms.platform_named(session, name) is not None:
        name = f"{name} ({client_id})"
    platform = platforms.add_platform(session, name[:200], issuer)
    platform.approved = invite is not None
    platform.registered_by = "invited" if invite is not None else "dynamic"
    return platform, True


def store_registration(
    session: DbSession,
    platform_config: dict[str, Any],
    answer: dict[str, Any],
    config_url: str,
    invite: RegistrationInvite | None = None,
) -> Registered:
    """Store the new registration, its platform and deployment; the caller commits.

    Never changes an existing registration: a client id the tool knows is refused.
    """
    issuer = platform_config["issuer"]
    client_id = answer["client_id"]
    existing = platforms.registration_taken(session, issuer, client_id)
    if existing is not None:
        raise RegistrationRefused(
            N_(
                "client id %(client)r of issuer %(issuer)r is already registered (platform "
                "%(platform)r); dynamic registration never changes a registration: an "
                "administrator of the tool can change it (flask platform add, or the platform's "
                "page in the admin area)"
            ),
            client=client_id,
            issuer=issuer,
            platform=existing.platform.name,
        )
    product = (platform_config.get(PLATFORM_CONFIG) or {}).get("product_family_code") or "LMS"
    product = str(product)[:40]
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in (issuer, config_url)}
    platform, created = _platform_for(session, issuer, product, config_url, client_id, invite)
    registration = platforms.add_registration(
        session,
        platform,
        client_id,
        auth_login_url=platform_config["authorization_endpoint"],
        auth_token_url=platform_config["token_endpoint"],
        auth_audience=platform_config.get("authorization_server"),
        jwks_url=platform_config["jwks_uri"],
        jwks=None,
    )
    if created:
        # The administrator's invitation says which LMS it is; otherwise Canvas and Moodle name
        # themselves in their OpenID configuration (Open edX does not offer dynamic
        # registration).
        if invite is not None and invite.lms:
            platform.lms = invite.lms
        elif product in ("canvas", "moodle"):
            platform.lms = product
    platforms.add_frame_origins(platform, sorted(origins))
    session.flush()
    deployment_id = (answer.get(TOOL_CONFIG) or {}).get("deployment_id")
    if deployment_id:
        platforms.add_deployments(session, registration, [str(deployment_id)[:255]])
    if invite is not None and not platforms.use_invite(session, invite, platform):
        raise RegistrationRefused(
            N_(
                "this invitation was used a moment ago by another registration: ask the tool's "
                "administrator for a new one (flask platform invite)"
            )
        )
    audit.record(
        session,
        "platform_added" if created else "registration_added",
        f"platform {platform.name} ({platform.id})",
        platform_id=platform.id,
        actor="dynamic registration",
        details={
            "client_id": client_id,
            "registered_by": platform.registered_by,
            "approved": platform.approved,
            "invite": invite.id if invite is not None else None,
        },
    )
    return Registered(platform, registration, str(deployment_id) if deployment_id else None)
