"""A development-only LTI 1.3 platform: a pretend LMS course that launches the tool for real.

Registered only when DEV_PLATFORM_ENABLED (the development config). It goes through the real
/lti/login → platform auth → /lti/launch flow, signing id_tokens with its own RSA key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request, url_for

from lti_tool import platforms
from lti_tool.extensions import db
from lti_tool.instance_files import instance_folder, write_private
from lti_tool.lti.keys import generate_private_key_pem, public_jwk_from_pem
from lti_tool.models import Platform

DEV_PLATFORM_NAME = "Development LMS"
DEV_ISSUER = "https://dev-lms.lti-tool.invalid"
DEV_CLIENT_ID = "dev-client"
DEV_DEPLOYMENT_ID = "1"
DEMO_CONTEXT = {
    "id": "demo-course-101",
    "label": "DS101",
    "title": "Demo: Introduction to Data Science",
    "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
}
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"

# The people the development LMS can launch as (login_hint -> claims).
DEV_USERS: dict[str, dict[str, Any]] = {
    "instructor": {
        "sub": "dev-instructor-1",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada.lovelace@example.edu",
        "roles": [MEMBERSHIP + "Instructor"],
    },
    "student": {
        "sub": "dev-student-1",
        "name": "Grace Hopper",
        "given_name": "Grace",
        "family_name": "Hopper",
        "email": "grace.hopper@example.edu",
        "roles": [MEMBERSHIP + "Learner"],
    },
}


@dataclass
class DevPlatform:
    """Signs LTI 1.3 resource-link launches for one course, as an LMS would."""

    private_key_pem: str
    issuer: str = DEV_ISSUER
    client_id: str = DEV_CLIENT_ID
    deployment_id: str = DEV_DEPLOYMENT_ID
    context: dict[str, Any] = field(default_factory=lambda: dict(DEMO_CONTEXT))
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEV_USERS))

    @property
    def jwk(self) -> dict[str, Any]:
        """The platform's public key."""
        return public_jwk_from_pem(self.private_key_pem)

    def login_url(self, tool_login_url: str, tool_launch_url: str, user: str) -> str:
        """The third-party initiated login URL an LMS sends the browser to."""
        return (
            tool_login_url
            + "?"
            + urlencode(
                {
                    "iss": self.issuer,
                    "login_hint": user,
                    "target_link_uri": tool_launch_url,
                    "lti_message_hint": "resource-link-dashboard",
                    "client_id": self.client_id,
                    "lti_deployment_id": self.deployment_id,
                }
            )
        )

    def id_token(self, user: str, nonce: str, target_link_uri: str) -> str:
        """A signed LtiResourceLinkRequest for a known user."""
        person = self.users[user]
        now = int(time.time())
        claim = "https://purl.imsglobal.org/spec/lti/claim/"
        body = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": person["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": person["name"],
            "given_name": person["given_name"],
            "family_name": person["family_name"],
            "email": person["email"],
            claim + "message_type": "LtiResourceLinkRequest",
            claim + "version": "1.3.0",
            claim + "deployment_id": self.deployment_id,
            claim + "target_link_uri": target_link_uri,
            claim + "resource_link": {"id": "dashboard", "title": "Course analytics"},
            claim + "roles": person["roles"],
            claim + "context": self.context,
            claim + "tool_platform": {"name": DEV_PLATFORM_NAME, "guid": "dev-lms"},
            # The user's language as an LMS sends it (Canvas: "es-CL"), when the user has one.
            claim + "launch_presentation": {
                "document_target": "iframe",
                **({"locale": person["locale"]} if person.get("locale") else {}),
            },
        }
        if person.get("preferred_username"):
            body["preferred_username"] = person["preferred_username"]  # as Open edX shares it
        import jwt  # here, not at every start of the development app

        return jwt.encode(
            body, self.private_key_pem, algorithm="RS256", headers={"kid": self.jwk["kid"]}
        )

    def authorize(self, args: Mapping[str, str], launch_url: str) -> dict[str, str]:
        """Check the tool's OIDC auth request; return the form fields to post to launch_url."""
        if args.get("client_id") != self.client_id:
            raise ValueError("Unknown client_id.")
        if args.get("redirect_uri") != launch_url:
            raise ValueError(f"redirect_uri must be {launch_url}.")
        if args.get("response_type") != "id_token" or args.get("scope") != "openid":
            raise ValueError("response_type must be id_token and scope openid.")
        if args.get("login_hint") not in self.users or not args.get("nonce"):
            raise ValueError("Unknown login_hint or missing nonce.")
        token = self.id_token(args["login_hint"], args["nonce"], launch_url)
        return {"id_token": token, "state": args.get("state", "")}


# Named "devplatform" (its module's old name): pages link to url_for("devplatform.index").
bp = Blueprint("devplatform", __name__, url_prefix="/dev/platform")


def dev_platform() -> DevPlatform:
    """The development platform, its key kept in the instance folder (never in the repo)."""
    path = os.path.join(current_app.instance_path, "dev_platform_key.pem")
    if not os.path.exists(path):
        instance_folder(current_app.instance_path)
        write_private(path, generate_private_key_pem())
    with open(path, encoding="ascii") as handle:
        return DevPlatform(private_key_pem=handle.read())


def ensure_registered(platform: DevPlatform) -> Platform:
    """Register the development platform with the tool (idempotent)."""
    row = platforms.platform_named(db.session, DEV_PLATFORM_NAME)
    if row is None:
        row = platforms.add_platform(db.session, DEV_PLATFORM_NAME, platform.issuer)
        row.registered_by = "development"
    reg = platforms.registration_taken(db.session, platform.issuer, platform.client_id)
    if reg is None:
        reg = platforms.add_registration(db.session, row, platform.client_id)
    # Relative URLs: the browser follows them on whatever host serves the tool.
    reg.auth_login_url = "/dev/platform/auth"
    reg.auth_token_url = "/dev/platform/token"  # noqa: S105 (a URL)
    reg.jwks = {"keys": [platform.jwk]}
    db.session.flush()
    if not reg.deployments:
        platforms.add_deployments(db.session, reg, [platform.deployment_id])
    db.session.commit()
    return row


@bp.get("/")
def index() -> str:
    """A pretend course page with the tool framed in it, as an LMS shows it."""
    platform = dev_platform()
    ensure_registered(platform)
    user = request.args.get("as", "instructor")
    if user not in platform.users:
        abort(404)
    login = platform.login_url(url_for("lti.login"), url_for("lti.launch", _external=True), user)
    return render_template(
        "dev/platform.html", platform=platform, user=user, login=login, users=platform.users
    )


@bp.get("/auth")
def auth() -> str:
    """The platform's OIDC authorization endpoint: answer with a signed id_token form post."""
    launch_url = url_for("lti.launch", _external=True)
    try:
        fields = dev_platform().authorize(request.args, launch_url)
    except ValueError as exc:
        abort(400, description=str(exc))
    return render_template("autopost.html", action=launch_url, fields=fields)
