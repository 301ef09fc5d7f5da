"""Administration by LMS launch: off by default, one deployment at most.

When a local administrator has switched on `admin_launch_enabled` for a deployment, a launch
through that deployment that carries an institution or system Administrator role gets a link
into the admin area limited to that deployment. Course (membership) Administrator does not
count: it makes course staff, not an administrator of the tool. On hosted Canvas the issuer
spans every institution, so the scope is the deployment, never the issuer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import LtiDeployment, Person
from lti_tool.people.roles import OPENEDX, context_role_name

INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
#: Roles that make an LMS administrator (Canvas account admins carry institution#Administrator,
#: site admins system#SysAdmin; Moodle site admins both Administrator roles).
PLATFORM_ADMIN_ROLES = frozenset(
    {
        INSTITUTION + "Administrator",
        SYSTEM + "Administrator",
        SYSTEM + "SysAdmin",
        "urn:lti:instrole:ims/lis/Administrator",
        "urn:lti:sysrole:ims/lis/Administrator",
        "urn:lti:sysrole:ims/lis/SysAdmin",
    }
)
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


def is_platform_administrator(roles: Iterable[str]) -> bool:
    """True when the roles claim names an institution or system administrator."""
    return any(isinstance(r, str) and r.strip() in PLATFORM_ADMIN_ROLES for r in roles)


def admin_deployment(registration_id: int, body: Mapping[str, Any]) -> LtiDeployment | None:
    """The launch's deployment when administration by launch is switched on for it."""
    deployment_id = body.get(DEPLOYMENT_CLAIM)
    if not isinstance(deployment_id, str) or not deployment_id:
        return None
    return db.session.scalar(
        select(LtiDeployment).where(
            LtiDeployment.registration_id == registration_id,
            LtiDeployment.deployment_id == deployment_id,
            LtiDeployment.enabled.is_(True),
            LtiDeployment.admin_launch_enabled.is_(True),
        )
    )


def may_enter(
    registration_id: int, body: Mapping[str, Any], roles: Iterable[str], lms: str
) -> bool:
    """Whether this launch earns the administrators' link (nothing is written to know it).

    On Open edX, institution and system roles without any membership role are old
    lti-consumer-xblock's course roles (every course staff member gets system Administrator),
    so they never make an administrator of the tool there.
    """
    if not is_platform_administrator(roles):
        return False
    if lms == OPENEDX and not any(context_role_name(r) for r in roles if isinstance(r, str)):
        return False
    return admin_deployment(registration_id, body) is not None


def admin_link(registration_id: int, body: Mapping[str, Any], person: Person) -> str | None:
    """The one-time Administration link of a launch that `may_enter`, for its person."""
    deployment = admin_deployment(registration_id, body)
    if deployment is None:
        return None
    ticket = issue_launch_ticket(deployment.id, person.id)
    return url_for("admin.enter", ticket=ticket)


# The ticket is the hand-off from a launch to the admin area: issued here, read by admin/.
TICKET_MAX_AGE = 300


def _ticket_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lti-tool-admin-ticket")


def issue_launch_ticket(deployment_id: int, person_id: int) -> str:
    """A one-time ticket (5 minutes) into the admin area, limited to one deployment."""
    payload = {"deployment": deployment_id, "person": person_id, "jti": secrets.token_urlsafe(16)}
    return _ticket_serializer().dumps(payload)


def read_launch_ticket(ticket: str) -> dict[str, Any] | None:
    """The ticket's contents, or None when forged, malformed or older than 5 minutes."""
    if not ticket:
        return None
    try:
        data = _ticket_serializer().loads(ticket, max_age=TICKET_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("deployment"), int):
        return None
    if not isinstance(data.get("jti"), str) or not isinstance(data.get("person"), int):
        return None
    return data
