"""Registering LMS platforms: the one place that writes platforms, registrations, deployments
and data sources, and checks their URLs, origins and key sets.

The CLI (`flask platform …`, `flask sources …`), the admin area, LTI Dynamic Registration and the
development platform all call these functions; each shows a `PlatformError` its own way (a click
error, a form message, a refusal page). The functions never commit: the caller does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import select, update

from lti_tool import audit, json_input
from lti_tool import secrets as secret_store
from lti_tool.i18n.text import N_, Explained, LazyText, lazy_gettext, lazy_ngettext
from lti_tool.models import (
    ActivityBlock,
    Course,
    DataSource,
    Enrollment,
    LtiDeployment,
    LtiRegistration,
    PersonIdentity,
    Platform,
    RegistrationInvite,
)
from lti_tool.models.types import DbSession, rowcount, utcnow
from lti_tool.people.merge import merge_people

#: The LMS a platform may be registered as, and their names on pages.
LMS_NAMES = {"canvas": "Canvas", "openedx": "Open edX", "moodle": "Moodle", "other": N_("Other")}
#: The kinds of data source a platform may have.
API_SOURCES = ("canvas", "openedx")
LOG_FOLDER = "log_folder"


class PlatformError(Explained, ValueError):
    """Input that cannot be registered, said in words: a message and its values (English in
    the CLI and logs, the page's language on a page: i18n.text.Explained)."""


#: Over-deep JSON (json_input.MAX_DEPTH): the API's own words for it stay English.
_TOO_DEEP = N_("nests arrays and objects more than %(depth)s levels deep; send flatter JSON")


# --- checks --------------------------------------------------------------------------------------


def check_url(value: str) -> str:
    """An http(s) URL with a host, as given."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PlatformError(N_("%(value)r is not an http(s) URL"), value=value)
    return value


def check_origin(value: str) -> str:
    """An origin (scheme and host) allowed to frame the tool, normalised."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise PlatformError(
            N_("%(value)r is not an origin like https://canvas.example.edu"), value=value
        )
    return f"{parts.scheme}://{parts.netloc}"


def check_jwks(data: Any) -> dict[str, Any]:
    """A platform key set: a JWKS of RSA keys with kids, or one such key (wrapped).

    Errors read after the name of what was checked ("keys.json is not JSON: …").
    """
    if isinstance(data, dict) and "kty" in data:
        data = {"keys": [data]}  # a single JWK
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not all(
        isinstance(k, dict) and k.get("kty") == "RSA" and k.get("kid") for k in keys
    ):
        raise PlatformError(N_('is not a JWKS: expected {"keys": [RSA keys with a kid]}'))
    jwks: dict[str, Any] = data  # a dict: its "keys" were read above
    return jwks


def parse_jwks(text: str) -> dict[str, Any]:
    """A key set from JSON text (a file or a pasted form field)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlatformError(N_("is not JSON: %(error)s"), error=str(exc)) from None
    except RecursionError:
        raise PlatformError(_TOO_DEEP, depth=json_input.MAX_DEPTH) from None
    if json_input.json_depth(data) > json_input.MAX_DEPTH:
        raise PlatformError(_TOO_DEEP, depth=json_input.MAX_DEPTH)
    return check_jwks(data)


def check_lms(value: str) -> str:
    """One of the LMS kinds (canvas, openedx, moodle, other)."""
    value = value.strip().lower()
    if value not in LMS_NAMES:
        raise PlatformError(
            N_("%(value)r is not one of %(names)s"), value=value, names=", ".join(LMS_NAMES)
        )
    return value


#: Hosts an LMS may be reached on over plain http (this machine: development and the tests).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def http_lms_allowed() -> bool:
    """Whether ALLOW_HTTP_LMS=1 lets any http:// LMS in (the development configuration only)."""
    if not has_app_context():
        return False
    config = current_app.config
    return bool(config.get("ALLOW_HTTP_LMS")) and config.get("ENV_NAME") == "development"


def api_base_url(kind: str, value: str, allow_http: bool | None = None) -> str:
    """An LMS API root URL without a trailing slash (Canvas: an /api/v1 suffix is dropped).

    https only: the token travels with every request. http:// is refused unless the host is
    loopback or `allow_http` (default: ALLOW_HTTP_LMS in development) says otherwise.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise PlatformError(N_("%(value)r is not an http(s) URL"), value=value)
    if allow_http is None:
        allow_http = http_lms_allowed()
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not allow_http:
        raise PlatformError(
            N_(
                "%(value)r is not https: the LMS token would travel in clear text (http:// is "
                "accepted only for 127.0.0.1, ::1 and localhost, or with ALLOW_HTTP_LMS=1 in "
                "development)"
            ),
            value=value,
        )
    path = parts.path.rstrip("/")
    if kind == "canvas" and path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def log_folder_roots(value: str | Iterable[str] | None = None) -> list[Path]:
    """The folders log folders may be under: `value`, or LOG_FOLDER_ROOTS of the app (resolved)."""
    if value is None:
        value = str(current_app.config.get("LOG_FOLDER_ROOTS") or "") if has_app_context() else ""
    if isinstance(value, str):
        value = value.replace(",", ":").split(":")
    return [Path(v.strip()).resolve() for v in value if v.strip() and Path(v.strip()).is_absolute()]


#: How to allow a folder, for the refusals of the CLI and the admin area.
ROOTS_HELP = N_(
    "set LOG_FOLDER_ROOTS in the tool's environment to the absolute folders logs may be read "
    "from (comma- or colon-separated, e.g. LOG_FOLDER_ROOTS=/var/log/tracking) and restart it"
)


def check_under_roots(path: str, roots: str | Iterable[str] | None = None) -> Path:
    """The folder, symlinks resolved, if it lies under one of the roots; a PlatformError if not."""
    allowed = log_folder_roots(roots)
    if not allowed:
        raise PlatformError(
            N_("no log folder may be added: LOG_FOLDER_ROOTS is empty; %(help)s"),
            help=lazy_gettext(ROOTS_HELP),
        )
    # Resolve first: a symlink under a root must not lead the reader elsewhere.
    folder = Path(path).resolve()
    if not any(folder == root or folder.is_relative_to(root) for root in allowed):
        raise PlatformError(
            N_(
                "%(path)s is not under LOG_FOLDER_ROOTS (%(roots)s); to read logs from there, "
                "%(help)s"
            ),
            path=path,
            roots=", ".join(map(str, allowed)),
            help=lazy_gettext(ROOTS_HELP),
        )
    return folder


def check_folder(path: str) -> tuple[bool, LazyText]:
    """Whether a log folder exists and can be listed and read, in words."""
    folder = Path(path)
    if not folder.exists():
        return False, lazy_gettext("%(path)s does not exist", path=path)
    if not folder.is_dir():
        return False, lazy_gettext("%(path)s is not a folder", path=path)
    if not os.access(folder, os.R_OK | os.X_OK):
        return False, lazy_gettext(
            "%(path)s cannot be read by this process (user id %(uid)s)", path=path, uid=os.getuid()
        )
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    return True, lazy_ngettext(
        "%(path)s is readable: %(num)d file",
        "%(path)s is readable: %(num)d files",
        files,
        path=path,
    )


# --- lookups -------------------------------------------------------------------------------------


def platform_named(session: DbSession, name: str) -> Platform | None:
    """The platform with this name, if any."""
    return session.scalar(select(Platform).where(Platform.name == name))


def find_deployment(
    session: DbSession,
    deployment_id: str,
    platform_name: str | None = None,
    client_id: str | None = None,
) -> LtiDeployment:
    """The deployment with this LMS deployment id (on this platform / client id if given).

    PlatformError when there is none, or when several registrations have it and the platform
    or client id does not tell them apart.
    """
    query = (
        select(LtiDeployment, LtiRegistration, Platform)
        .join(LtiRegistration, LtiRegistration.id == LtiDeployment.registration_id)
        .join(Platform, Platform.id == LtiRegistration.platform_id)
        .where(LtiDeployment.deployment_id == deployment_id)
    )
    if platform_name:
        query = query.where(Platform.name == platform_name)
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    found = session.execute(query).all()
    if not found:
        raise PlatformError(
            N_("no deployment %(deployment)r%(on)s%(with_client)s (see `flask platform list`)"),
            deployment=deployment_id,
            on=lazy_gettext(" on platform %(platform)r", platform=platform_name)
            if platform_name
            else "",
            with_client=lazy_gettext(" with client id %(client)r", client=client_id)
            if client_id
            else "",
        )
    if len(found) > 1:
        where = ", ".join(f"{p.name} / client {r.client_id}" for _d, r, p in found)
        raise PlatformError(
            N_(
                "deployment %(deployment)r exists at several registrations (%(where)s): "
                "add --platform NAME and/or --client-id ID"
            ),
            deployment=deployment_id,
            where=where,
        )
    deployment: LtiDeployment = found[0][0]
    return deployment


def platform_as_dict(platform: Platform) -> dict[str, Any]:
    """A platform and its registrations as plain data (no keys or secrets)."""
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "lms": platform.lms,
        "enabled": platform.enabled,
        "approved": platform.approved,
        "registered_by": platform.registered_by,
        "frame_origins": list(platform.frame_origins or []),
        "registrations": [
            {
                "client_id": r.client_id,
                "auth_login_url": r.auth_login_url,
                "auth_token_url": r.auth_token_url,
                "jwks_url": r.jwks_url,
                "jwks_inline": r.jwks is not None,
                "deployment_ids": [d.deployment_id for d in r.deployments],
            }
            for r in platform.registrations
        ],
    }


def registration_taken(
    session: DbSession, issuer: str, client_id: str, other_than: int | None = None
) -> LtiRegistration | None:
    """The registration that already holds (issuer, client id), other than `other_than`."""
    query = select(LtiRegistration).where(
        LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id
    )
    if other_than is not None:
        query = query.where(LtiRegistration.id != other_than)
    return session.scalar(query)


# --- writing -------------------------------------------------------------------------------------


def add_platform(
    session: DbSession,
    name: str,
    issuer: str,
    frame_origins: Iterable[str] = (),
    lms: str = "other",
) -> Platform:
    """A new platform (the name must be free)."""
    platform = Platform(name=name, issuer=issuer, frame_origins=list(frame_origins), lms=lms)
    session.add(platform)
    session.flush()
    return platform


def add_registration(
    session: DbSession, platform: Platform, client_id: str, **fields: Any
) -> LtiRegistration:
    """A new client id of the platform; `fields` are the registration's URLs and keys."""
    fields.setdefault("auth_login_url", "")
    fields.setdefault("auth_token_url", "")
    registration = LtiRegistration(
        platform_id=platform.id, issuer=platform.issuer, client_id=client_id, **fields
    )
    session.add(registration)
    session.flush()
    return registration


def add_deployments(
    session: DbSession, registration: LtiRegistration, deployment_ids: Iterable[str]
) -> list[str]:
    """Add the deployment ids the registration does not have yet; returns those added."""
    known = {d.deployment_id for d in registration.deployments}
    added = []
    for deployment_id in dict.fromkeys(deployment_ids):
        if deployment_id not in known:
            session.add(LtiDeployment(registration_id=registration.id, deployment_id=deployment_id))
            known.add(deployment_id)
            added.append(deployment_id)
    session.flush()
    session.expire(registration, ["deployments"])
    return added


def add_frame_origins(platform: Platform, origins: Iterable[str]) -> list[str]:
    """Allow more origins to frame the tool; returns those that were new."""
    current = list(platform.frame_origins or [])
    added = [o for o in dict.fromkeys(origins) if o not in current]
    if added:
        platform.frame_origins = [*current, *added]
    return added


@dataclass
class Registered:
    """What `register` did: the platform and registration, and what was new."""

    platform: Platform
    registration: LtiRegistration
    created_platform: bool
    added: list[str] = field(default_factory=list)


def register(
    session: DbSession,
    name: str,
    issuer: str,
    client_id: str,
    deployment_ids: Iterable[str],
    frame_origins: Iterable[str] = (),
    lms: str | None = None,
    **fields: Any,
) -> Registered:
    """Add a platform, or a registration or deployments to the platform of that name.

    `fields` (login and token URLs, key set URL or key set, audience) replace the
    registration's; `lms` (None: "other" for a new platform, unchanged otherwise) says which LMS
    it is. A PlatformError when the name, issuer or client id belong elsewhere.
    """
    platform = platform_named(session, name)
    existing = registration_taken(session, issuer, client_id)
    created = platform is None
    if platform is None:
        if existing is not None:
            raise PlatformError(
                N_(
                    "client id %(client)r of issuer %(issuer)r is already registered to "
                    "platform %(platform)r"
                ),
                client=client_id,
                issuer=issuer,
                platform=existing.platform.name,
            )
        platform = add_platform(session, name, issuer, lms=lms or "other")
    elif platform.issuer != issuer:
        raise PlatformError(
            N_("platform %(name)r has issuer %(has)r, not %(issuer)r"),
            name=name,
            has=platform.issuer,
            issuer=issuer,
        )
    elif existing is not None and existing.platform_id != platform.id:
        raise PlatformError(
            N_("client id %(client)r is already registered to platform %(platform)r"),
            client=client_id,
            platform=existing.platform.name,
        )
    added: list[str] = []
    if lms is not None and lms != platform.lms:
        if not created:
            added.append(f"LMS {lms}")
        platform.lms = lms
    registration = existing
    if registration is None:
        registration = add_registration(session, platform, client_id, **fields)
        added.append(f"registration {client_id}")
    else:
        for key, value in fields.items():
            setattr(registration, key, value)
    added += [f"deployment {d}" for d in add_deployments(session, registration, deployment_ids)]
    new_origins = add_frame_origins(platform, frame_origins)
    if new_origins:
        added.append("frame origins " + ", ".join(new_origins))
    return Registered(platform, registration, created, added)


def update_platform(
    session: DbSession,
    platform: Platform,
    name: str,
    issuer: str,
    frame_origins: list[str],
    enabled: bool,
    lms: str | None = None,
) -> None:
    """Change a platform's name, issuer (and its registrations' copies), origins, state, LMS."""
    other = session.scalar(
        select(Platform.id).where(Platform.name == name, Platform.id != platform.id)
    )
    if other:
        raise PlatformError(N_("another platform is named %(name)r"), name=name)
    if issuer != platform.issuer:
        for registration in platform.registrations:
            if registration_taken(session, issuer, registration.client_id, registration.id):
                raise PlatformError(
                    N_("client id %(client)r is already registered with issuer %(issuer)r"),
                    client=registration.client_id,
                    issuer=issuer,
                )
    platform.name, platform.frame_origins, platform.enabled = name, frame_origins, enabled
    if lms is not None:
        platform.lms = lms
    if issuer != platform.issuer:
        platform.issuer = issuer
        for registration in platform.registrations:
            registration.issuer = issuer  # the copy that keeps (issuer, client_id) unique


def update_registration(
    session: DbSession, registration: LtiRegistration, client_id: str, **fields: Any
) -> None:
    """Change a registration's client id, URLs and keys; courses follow a new client id."""
    old_client = registration.client_id
    if client_id != old_client and registration_taken(
        session, registration.issuer, client_id, registration.id
    ):
        raise PlatformError(
            N_("client id %(client)r is already registered with this issuer"), client=client_id
        )
    for key, value in fields.items():
        setattr(registration, key, value)
    if client_id != old_client:
        registration.client_id = client_id
        # Courses fetch their roster with the client id of their launches: keep them in step.
        for course in session.scalars(
            select(Course).where(
                Course.platform_id == registration.platform_id,
                Course.nrps_client_id == old_client,
            )
        ):
            course.nrps_client_id = client_id


# --- data sources --------------------------------------------------------------------------------


def api_source(session: DbSession, platform: Platform, kind: str) -> DataSource | None:
    """The platform's Canvas or Open edX API source, if it has one."""
    return session.scalar(
        select(DataSource)
        .where(DataSource.platform_id == platform.id, DataSource.kind == kind)
        .order_by(DataSource.id)
        .limit(1)
    )


def set_api_source(
    session: DbSession,
    platform: Platform,
    kind: str,
    location: str,
    secret: str | None,
    client_id: str | None = None,
    source: DataSource | None = None,
) -> tuple[DataSource, bool]:
    """Create or change the platform's API source; a None secret keeps the stored one.

    Returns (source, created). The secret (token, client secret) is stored encrypted with
    DATA_ENCRYPTION_KEY: secrets.SecretsUnavailable without one. A new source needs a secret.
    A new base URL without a new secret clears the stored one: a token entered for one host is
    never sent to another.
    """
    if kind not in API_SOURCES:
        raise PlatformError(N_("%(kind)r is not an LMS API source"), kind=kind)
    secret_encrypted = secret_store.encrypt(secret) if secret is not None else None
    if source is None:
        source = api_source(session, platform, kind)
    created = source is None
    if source is None:
        if secret_encrypted is None:
            raise PlatformError(N_("a new source needs its secret"))
        source = DataSource(platform_id=platform.id, kind=kind, location=location)
        session.add(source)
    elif source.location != location and secret_encrypted is None:
        source.secret_encrypted = None
        source.record_check(None, None)
    source.location = location
    if kind == "openedx":
        source.client_id = client_id
    if secret_encrypted is not None:
        source.secret_encrypted = secret_encrypted
    source.enabled = True
    session.flush()
    return source, created


def add_log_folder(
    session: DbSession, platform: Platform, path: str, roots: str | Iterable[str] | None = None
) -> tuple[DataSource, bool]:
    """Register a tracking-log folder (absolute, readable, under LOG_FOLDER_ROOTS or `roots`)
    for a platform; (row, created)."""
    folder = Path(path).expanduser()
    if not folder.is_absolute():
        raise PlatformError(
            N_("%(path)s is not an absolute path (the scheduler runs elsewhere)"), path=path
        )
    location = str(check_under_roots(str(folder), roots))
    ok, why = check_folder(location)
    if not ok:
        raise PlatformError(why.message, **why.variables)
    source = session.scalar(
        select(DataSource).where(
            DataSource.platform_id == platform.id,
            DataSource.kind == LOG_FOLDER,
            DataSource.location == location,
        )
    )
    created = source is None
    if source is None:
        source = DataSource(platform_id=platform.id, kind=LOG_FOLDER, location=location)
        session.add(source)
    source.enabled = True
    source.record_check(why, utcnow())
    session.flush()
    return source, created


def move_log_folder(
    source: DataSource, path: str, roots: str | Iterable[str] | None = None
) -> None:
    """Point a log-folder source at another absolute, readable folder under LOG_FOLDER_ROOTS."""
    if not path.startswith("/"):
        raise PlatformError(
            N_("%(path)s is not an absolute path"), path=path or lazy_gettext("the path")
        )
    location = str(check_under_roots(path, roots))
    ok, why = check_folder(location)
    if not ok:
        raise PlatformError(why.message, **why.variables)
    source.location = location


# --- which platform owns a course ----------------------------------------------------------------
# A course belongs to exactly one platform. Data that arrives with no platform (logs ingested
# without --platform, events through a token bound to nothing) stands alone until an
# administrator attaches its course; a launch never claims it, and a platform that registered
# itself never gets it.


def trusted(platform: Platform) -> bool:
    """Whether courses may be attached to the platform: approved, and not self-registered."""
    return platform.approved and platform.registered_by != "dynamic"


def platform_for_unlabelled_data(session: DbSession) -> Platform | None:
    """The platform data that arrives without one belongs to.

    With no platform registered: None (its courses stand alone until attached). With exactly
    one, registered by an administrator: that one. A PlatformError when several exist (the data
    must say which), and None when the only one registered itself.
    """
    found = list(session.scalars(select(Platform).order_by(Platform.id).limit(2)))
    if len(found) > 1:
        raise PlatformError(
            N_(
                "several platforms are registered, so data without a platform cannot be placed: "
                "say which platform it comes from"
            )
        )
    return found[0] if found and trusted(found[0]) else None


def attach_course(session: DbSession, course: Course, platform: Platform) -> int:
    """Give a standing-alone course to a platform, with its learners' identities; returns how
    many learners were merged into people the platform already knew."""
    if course.platform_id == platform.id:
        return 0
    if course.platform_id is not None:
        owner = session.get(Platform, course.platform_id)
        name = owner.name if owner else str(course.platform_id)
        raise PlatformError(
            N_(
                "course %(id)s belongs to platform %(name)r: a course never moves between platforms"
            ),
            id=course.id,
            name=name,
        )
    if not trusted(platform):
        raise PlatformError(
            N_(
                "platform %(name)r is waiting for approval: courses are attached only to "
                "platforms an administrator registered or approved"
            )
            if not platform.approved
            else N_(
                "platform %(name)r registered itself: courses are attached only to platforms "
                "an administrator registered or approved"
            ),
            name=platform.name,
        )
    key = course.lti_context_id
    clash = session.scalar(
        select(Course.id).where(Course.platform_id == platform.id, Course.lti_context_id == key)
    )
    if clash is not None:
        raise PlatformError(
            N_(
                "platform %(name)r already has a course %(key)r (course %(clash)s), made by a "
                "launch: the two cannot be joined"
            ),
            name=platform.name,
            key=key,
            clash=clash,
        )
    merged = _bring_learners(session, course, platform)
    course.platform_id = platform.id
    audit.record(
        session,
        "course_attached",
        f"course {course.id} to platform {platform.name} ({platform.id})",
        details={"learners_merged": merged},
        platform_id=platform.id,
        course_id=course.id,
    )
    session.flush()
    return merged


def _bring_learners(session: DbSession, course: Course, platform: Platform) -> int:
    """Move the standing-alone identities of the course's learners to the platform; a learner
    the platform already knows by one of them is merged into that person."""
    learners = set(
        session.scalars(select(ActivityBlock.person_id).where(ActivityBlock.course_id == course.id))
    ) | set(session.scalars(select(Enrollment.person_id).where(Enrollment.course_id == course.id)))
    merged = 0
    for person_id in sorted(learners):
        alone = list(
            session.scalars(
                select(PersonIdentity).where(
                    PersonIdentity.person_id == person_id, PersonIdentity.platform_id.is_(None)
                )
            )
        )
        if not alone:
            continue
        known = {
            (i.kind, i.value): i.person_id
            for i in session.scalars(
                select(PersonIdentity).where(
                    PersonIdentity.platform_id == platform.id,
                    PersonIdentity.kind.in_({i.kind for i in alone}),
                    PersonIdentity.value.in_({i.value for i in alone}),
                )
            )
        }
        owners = {known[(i.kind, i.value)] for i in alone if (i.kind, i.value) in known}
        if len(owners) == 1:
            # The platform knows this learner already (a launch, a roster): one person.
            keep = owners.pop()
            merge_people(session, keep, person_id)
            merged += 1
            person_id = keep
            alone = list(
                session.scalars(
                    select(PersonIdentity).where(
                        PersonIdentity.person_id == keep, PersonIdentity.platform_id.is_(None)
                    )
                )
            )
        for identity in alone:
            if (identity.kind, identity.value) in known:
                if known[(identity.kind, identity.value)] == person_id:
                    session.delete(identity)  # the platform's copy names the same person
            else:
                identity.platform_id = platform.id
        session.flush()
    return merged


def attach_standalone_courses(session: DbSession, platform: Platform) -> int:
    """Attach every standing-alone course to the first platform an administrator registers;
    returns how many (0 when it is not the first, or registered itself)."""
    others = session.scalar(
        select(Platform.id).where(Platform.id != platform.id, Platform.registered_by != "dynamic")
    )
    if others is not None or not trusted(platform):
        return 0
    alone = list(session.scalars(select(Course).where(Course.platform_id.is_(None))))
    for course in alone:
        attach_course(session, course, platform)
    return len(alone)


# --- approval and invitations (LTI Dynamic Registration) -----------------------------------------

#: The LMS an invitation may name: those that offer dynamic registration.
INVITE_LMS = ("canvas", "moodle")
#: The longest an invitation may stay open.
INVITE_MAX_HOURS = 24 * 30


def approve_platform(session: DbSession, platform: Platform) -> bool:
    """Let a platform that registered itself launch the tool; False if it already could."""
    if platform.approved:
        return False
    platform.approved = True
    audit.record(
        session,
        "platform_approved",
        f"platform {platform.name} ({platform.id})",
        platform_id=platform.id,
    )
    return True


def invite_code_hash(code: str) -> str:
    """The sha256 (hex) an invitation code is stored as."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def create_invite(
    session: DbSession, lms: str | None, hours: float, created_by: str
) -> tuple[RegistrationInvite, str]:
    """A one-time invitation for dynamic registration: (row, code). Only the row is kept."""
    if lms is not None and lms not in INVITE_LMS:
        raise PlatformError(
            N_("%(value)r is not one of %(names)s"), value=lms, names=", ".join(INVITE_LMS)
        )
    if not 0 < hours <= INVITE_MAX_HOURS:
        raise PlatformError(
            N_("an invitation lasts more than 0 and at most %(hours)s hours"),
            hours=INVITE_MAX_HOURS,
        )
    code = secrets.token_urlsafe(24)
    invite = RegistrationInvite(
        code_hash=invite_code_hash(code),
        lms=lms,
        created_by=created_by[:320],
        expires_at=utcnow() + timedelta(hours=hours),
    )
    session.add(invite)
    session.flush()
    audit.record(
        session,
        "platform_invited",
        f"invitation {invite.id}" + (f" ({lms})" if lms else ""),
        details={"lms": lms, "expires_at": invite.expires_at.isoformat()},
    )
    return invite, code


def invite_url(base_url: str, code: str) -> str:
    """The address the LMS administrator pastes: the registration URL carrying the code."""
    return base_url.rstrip("/") + "/lti/register?" + urlencode({"code": code})


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def usable_invite(session: DbSession, code: str) -> RegistrationInvite:
    """The open invitation this code belongs to; a PlatformError says why there is none."""
    invite = session.scalar(
        select(RegistrationInvite).where(RegistrationInvite.code_hash == invite_code_hash(code))
    )
    again = lazy_gettext("ask the tool's administrator for a new one (flask platform invite)")
    if invite is None:
        raise PlatformError(
            N_("the invitation code in this address is not known: %(again)s"), again=again
        )
    if invite.used_at is not None:
        raise PlatformError(
            N_("this invitation was used on %(when)s; each one registers one LMS once: %(again)s"),
            when=_when(invite.used_at),
            again=again,
        )
    if invite.expires_at <= utcnow():
        raise PlatformError(
            N_("this invitation expired on %(when)s: %(again)s"),
            when=_when(invite.expires_at),
            again=again,
        )
    return invite


def use_invite(session: DbSession, invite: RegistrationInvite, platform: Platform) -> bool:
    """Mark the invitation used by this platform; False if another registration used it first."""
    # One conditional UPDATE: of two registrations racing with the same code, one wins.
    result = session.execute(
        update(RegistrationInvite)
        .where(RegistrationInvite.id == invite.id, RegistrationInvite.used_at.is_(None))
        .values(used_at=utcnow(), platform_id=platform.id)
        .execution_options(synchronize_session=False)
    )
    session.refresh(invite)
    return rowcount(result) == 1


def approved_frame_origins(session: DbSession) -> list[str]:
    """The origins of every enabled, approved platform (frame-ancestors outside a course)."""
    rows = session.scalars(
        select(Platform.frame_origins).where(Platform.enabled, Platform.approved)
    )
    return sorted({origin for row in rows for origin in (row or [])})
