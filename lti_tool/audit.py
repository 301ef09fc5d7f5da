"""The administrators' audit log: who did what to which platform, course, source, token or key.

Every administrative action calls `record` in the transaction that makes the change, so the row
exists exactly when the change does. In an admin request the actor is the signed-in
administrator (or the LMS administrator who came in by launch) and the address the client's;
from the CLI it is "cli" and "local". Secrets are never recorded: callers pass what changed
(a base URL, a name), not credentials.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

from lti_tool.i18n.text import N_
from lti_tool.models import AdminAudit
from lti_tool.models.types import DbSession

#: Every action the log knows, with the words the admin page shows.
ACTIONS = {
    "sign_in": N_("signed in"),
    "sign_out": N_("signed out"),
    "platform_added": N_("added a platform"),
    "platform_approved": N_("approved a platform"),
    "platform_changed": N_("changed a platform"),
    "platform_disabled": N_("disabled a platform"),
    "lms_changed": N_("changed a platform's LMS"),
    "platform_invited": N_("made a registration invite"),
    "registration_added": N_("added a client id"),
    "registration_changed": N_("changed a client id"),
    "deployment_changed": N_("changed a deployment"),
    "course_attached": N_("attached a course to a platform"),
    "source_added": N_("added a data source"),
    "source_changed": N_("changed a data source"),
    "source_tested": N_("tested a data source"),
    "token_created": N_("made an API token"),
    "token_revoked": N_("revoked an API token"),
    "key_rotated": N_("rotated the tool key"),
    "key_retired": N_("retired a tool key"),
    "sessions_revoked": N_("revoked sessions"),
    "sync_requested": N_("asked for a sync"),
    "purge": N_("purged activity"),
    "learner_deleted": N_("deleted a learner's data"),
    "admin_created": N_("made an administrator"),
}


def _who() -> tuple[str, int | None, str | None]:
    """(actor, admin user id, remote address) of the current request, or the CLI's."""
    if not has_request_context():
        return "cli", None, "local"
    scope = g.get("admin")
    address = (request.remote_addr or "")[:64] or None
    if scope is None:
        return "unknown", None, address
    return scope.label[:320], scope.admin_id, address


def record(
    session: DbSession,
    action: str,
    target: str = "",
    *,
    details: dict[str, Any] | None = None,
    platform_id: int | None = None,
    course_id: int | None = None,
    actor: str | None = None,
    admin_user_id: int | None = None,
) -> AdminAudit:
    """Add one audit row for an action (a key of ACTIONS); the caller commits with its change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who, admin_id, address = _who()
    row = AdminAudit(
        actor=(actor or who)[:320],
        admin_user_id=admin_user_id if admin_user_id is not None else admin_id,
        remote_addr=address,
        action=action,
        target=target[:500],
        details=details or {},
        platform_id=platform_id,
        course_id=course_id,
    )
    session.add(row)
    return row
