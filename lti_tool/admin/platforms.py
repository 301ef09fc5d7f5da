"""Admin pages for platforms, registrations, deployments, tool keys and data sources.

Validation and writing are lti_tool.platforms', as for `flask platform add`: the same checks,
the same messages. A deployment's administrator sees its own platform, registration and
deployment (read only); data sources and log folders (they feed every course of a platform),
registrations, deployments and the tool's keys are for administrators of the whole tool (403).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lti_tool import audit
from lti_tool import platforms as registry
from lti_tool import secrets as secret_store
from lti_tool.admin import bp
from lti_tool.admin.auth import current_scope, require_global
from lti_tool.extensions import db
from lti_tool.i18n.text import N_, LazyText, lazy_gettext, shown
from lti_tool.i18n.text import gettext as _
from lti_tool.lti import keys as tool_keys
from lti_tool.models import DataSource, LtiDeployment, LtiRegistration, Platform, ToolKey
from lti_tool.models.lms import SOURCE_KINDS
from lti_tool.models.types import utcnow

log = logging.getLogger(__name__)
# In English (the audit log's words); the pages show kind_names().
KIND_NAMES = {
    "canvas": N_("Canvas API"),
    "openedx": N_("Open edX API"),
    "log_folder": N_("Log folder"),
}


def kind_names() -> dict[str, str]:
    """The kinds of data source in the page's language."""
    return {kind: _(name) for kind, name in KIND_NAMES.items()}


def lms_names() -> dict[str, str]:
    """The LMSs a platform may be, in the page's language ("Other")."""
    return {kind: _(name) for kind, name in registry.LMS_NAMES.items()}


class FormError(ValueError):
    """Input that cannot be used, said in words for the form."""


def visible_platform(platform_id: int) -> Platform:
    """A platform the administrator may see, else 404."""
    platform = db.session.get(Platform, platform_id)
    if platform is None or not current_scope().sees_platform(platform.id):
        abort(404, description=_("There is no such platform in your administration area."))
    return platform


def _url(label: str, value: str, required: bool = True) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise FormError(_("%(field)s: required", field=_(label)))
        return None
    try:
        return registry.check_url(value)
    except registry.PlatformError as exc:
        raise FormError(_("%(field)s: %(why)s", field=_(label), why=shown(exc))) from None


def _origins(text: str) -> list[str]:
    found = []
    for line in text.replace(",", "\n").splitlines():
        if line.strip():
            try:
                found.append(registry.check_origin(line.strip()))
            except registry.PlatformError as exc:
                raise FormError(_("Frame origins: %(why)s", why=shown(exc))) from None
    return list(dict.fromkeys(found))


def _jwks_text(text: str) -> dict[str, Any] | None:
    """A pasted key set, checked as `flask platform add --jwks-file` checks a file."""
    if not text.strip():
        return None
    try:
        return registry.parse_jwks(text)
    except registry.PlatformError as exc:
        raise FormError(_("Key set: the text %(why)s", why=shown(exc))) from None


def _lms(form: dict[str, str]) -> str | None:
    """The LMS chosen on the form; None when the form has no choice."""
    if not form.get("lms"):
        return None
    try:
        return registry.check_lms(form["lms"])
    except registry.PlatformError as exc:
        raise FormError(_("LMS: %(why)s", why=shown(exc))) from None


def _ids(text: str) -> list[str]:
    found = list(
        dict.fromkeys(p.strip() for p in text.replace(",", "\n").splitlines() if p.strip())
    )
    if any(len(d) > 255 for d in found):
        raise FormError(_("Deployment ids: at most 255 characters each"))
    return found


#: The longest value each form field's column holds.
MAX_LENGTHS = {
    "name": (N_("Name"), 200),
    "issuer": (N_("Issuer"), 500),
    "client_id": (N_("Client id"), 255),
    "auth_login_url": (N_("Authorization (login) URL"), 1000),
    "auth_token_url": (N_("Token URL"), 1000),
    "jwks_url": (N_("Key set URL"), 1000),
    "auth_audience": (N_("Token audience"), 1000),
    "location": (N_("Base URL or path"), 2000),
    "secret": (N_("Secret"), 4000),
    "frame_origins": (N_("Frame origins"), 20000),
    "jwks": (N_("Key set"), 200000),
}


def check_lengths(form: dict[str, str]) -> None:
    """FormError for a value longer than its column (a database error otherwise)."""
    for field, (label, limit) in MAX_LENGTHS.items():
        if len(form.get(field, "").strip()) > limit:
            raise FormError(
                _("%(field)s: at most %(limit)d characters", field=_(label), limit=limit)
            )


def _registration_fields(form: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "auth_login_url": _url(N_("Authorization (login) URL"), form.get("auth_login_url", "")),
        "auth_token_url": _url(N_("Token URL"), form.get("auth_token_url", "")),
        "jwks_url": _url(N_("Key set URL"), form.get("jwks_url", ""), required=False),
        "auth_audience": form.get("auth_audience", "").strip() or None,
    }
    keyset = _jwks_text(form.get("jwks", ""))
    if keyset is not None and fields["jwks_url"]:
        raise FormError(_("Give a key set URL or a pasted key set, not both"))
    fields["jwks"] = keyset
    return fields


# --- platforms -----------------------------------------------------------------------------------


@bp.get("/platforms")
def platforms() -> str:
    """Every platform in scope, with its registrations and deployments."""
    scope = current_scope()
    query = select(Platform).order_by(Platform.name)
    if not scope.is_global:
        query = query.where(Platform.id == scope.platform_id)
    return render_template(
        "admin/platforms.html", platforms=list(db.session.scalars(query)), scope=scope
    )


def _new_platform_page(form: dict[str, str], error: str | None, status: int) -> ResponseReturnValue:
    html = render_template("admin/platform_new.html", form=form, error=error, lms_names=lms_names())
    return html, status


def _new_registration(form: dict[str, str]) -> tuple[str, dict[str, Any], list[str]]:
    """A new registration's client id, key-set fields and deployment ids, or a FormError."""
    client_id = form.get("client_id", "").strip()
    if not client_id:
        raise FormError(_("Client id: required"))
    fields = _registration_fields(form)
    if not fields["jwks_url"] and not fields["jwks"]:
        raise FormError(_("Give the platform's key set URL (or paste its key set)"))
    deployment_ids = _ids(form.get("deployment_ids", ""))
    if not deployment_ids:
        raise FormError(_("Deployment ids: give at least one"))
    return client_id, fields, deployment_ids


@bp.route("/platforms/new", methods=["GET", "POST"])
def platform_new() -> ResponseReturnValue:
    """Add a platform with its first registration and deployments."""
    require_global()
    if request.method == "GET":
        return _new_platform_page({}, None, 200)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        check_lengths(form)
        name = form.get("name", "").strip()
        if not name:
            raise FormError(_("Name: required"))
        issuer = _url(N_("Issuer"), form.get("issuer", ""))
        client_id, fields, deployment_ids = _new_registration(form)
        origins = _origins(form.get("frame_origins", ""))
        lms = _lms(form)
        if db.session.scalar(select(Platform.id).where(Platform.name == name)):
            raise FormError(
                _(
                    "Name: a platform named %(name)s exists (open it to add a client id)",
                    name=repr(name),
                )
            )
        existing = registry.registration_taken(db.session, str(issuer), client_id)
        if existing is not None:
            raise FormError(
                _(
                    "Client id %(client)s of issuer %(issuer)s is already registered to "
                    "platform %(platform)s",
                    client=repr(client_id),
                    issuer=repr(issuer),
                    platform=repr(existing.platform.name),
                )
            )
    except FormError as exc:
        return _new_platform_page(form, str(exc), 400)
    platform = registry.add_platform(db.session, name, str(issuer), origins, lms or "other")
    registration = registry.add_registration(db.session, platform, client_id, **fields)
    registry.add_deployments(db.session, registration, deployment_ids)
    audit.record(
        db.session,
        "platform_added",
        _named(platform),
        details={"issuer": platform.issuer, "lms": platform.lms, "client_id": client_id},
        platform_id=platform.id,
    )
    # Courses that arrived before any platform existed go to the first one registered.
    registry.attach_standalone_courses(db.session, platform)
    db.session.commit()
    log.info("admin added platform %s", platform.id)
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


def _platform_page(
    platform: Platform,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> ResponseReturnValue:
    scope = current_scope()
    registrations = [
        r
        for r in platform.registrations
        if scope.is_global or any(d.id == scope.deployment_id for d in r.deployments)
    ]
    return (
        render_template(
            "admin/platform.html",
            platform=platform,
            registrations=registrations,
            scope=scope,
            error=error,
            form=form or {},
            lms_names=lms_names(),
        ),
        status,
    )


@bp.get("/platforms/<int:platform_id>")
def platform(platform_id: int) -> ResponseReturnValue:
    """One platform: its settings, registrations and deployments."""
    return _platform_page(visible_platform(platform_id))


@bp.post("/platforms/<int:platform_id>")
def platform_edit(platform_id: int) -> ResponseReturnValue:
    """Change a platform's name, issuer, frame origins or state."""
    require_global()
    platform = visible_platform(platform_id)
    before = _platform_state(platform)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        check_lengths(form)
        name = form.get("name", "").strip()
        if not name:
            raise FormError(_("Name: required"))
        issuer = str(_url(N_("Issuer"), form.get("issuer", "")))
        origins = _origins(form.get("frame_origins", ""))
        try:
            registry.update_platform(
                db.session, platform, name, issuer, origins, form.get("enabled") == "on", _lms(form)
            )
        except registry.PlatformError as exc:
            field = _("Name") if "named" in str(exc) else _("Issuer")
            raise FormError(_("%(field)s: %(why)s", field=field, why=shown(exc))) from None
    except FormError as exc:
        db.session.rollback()
        return _platform_page(platform, 400, str(exc), form)
    _audit_changes(platform, before)
    db.session.commit()
    log.info("admin changed platform %s", platform.id)
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


def _named(platform: Platform) -> str:
    return f"platform {platform.name} ({platform.id})"


def _platform_state(platform: Platform) -> dict[str, Any]:
    return {
        "name": platform.name,
        "issuer": platform.issuer,
        "frame_origins": list(platform.frame_origins or []),
        "enabled": platform.enabled,
        "lms": platform.lms,
    }


def _audit_changes(platform: Platform, before: dict[str, Any]) -> None:
    """One audit row per kind of change an edit made: disabled, LMS, the rest."""
    after = _platform_state(platform)
    changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
    if changed.pop("enabled", None) is not None:
        action = "platform_disabled" if not platform.enabled else "platform_changed"
        audit.record(
            db.session,
            action,
            _named(platform),
            details={"enabled": platform.enabled},
            platform_id=platform.id,
        )
    lms = changed.pop("lms", None)
    if lms is not None:
        audit.record(
            db.session, "lms_changed", _named(platform), details=lms, platform_id=platform.id
        )
    if changed:
        audit.record(
            db.session,
            "platform_changed",
            _named(platform),
            details=changed,
            platform_id=platform.id,
        )


@bp.post("/platforms/<int:platform_id>/approve")
def platform_approve(platform_id: int) -> ResponseReturnValue:
    """Approve a platform that registered itself: its launches are accepted from now on."""
    require_global()
    platform = visible_platform(platform_id)
    if registry.approve_platform(db.session, platform):
        db.session.commit()
        log.info("admin approved platform %s", platform.id)
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


@bp.post("/platforms/<int:platform_id>/registrations")
def registration_add(platform_id: int) -> ResponseReturnValue:
    """Add a client id (registration) with its deployments to a platform."""
    require_global()
    platform = visible_platform(platform_id)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        check_lengths(form)
        client_id, fields, deployment_ids = _new_registration(form)
        existing = registry.registration_taken(db.session, platform.issuer, client_id)
        if existing is not None:
            raise FormError(
                _(
                    "Client id %(client)s is already registered to platform %(platform)s",
                    client=repr(client_id),
                    platform=repr(existing.platform.name),
                )
            )
    except FormError as exc:
        return _platform_page(platform, 400, str(exc), form)
    registration = registry.add_registration(db.session, platform, client_id, **fields)
    registry.add_deployments(db.session, registration, deployment_ids)
    audit.record(
        db.session,
        "registration_added",
        f"client id {client_id} of {_named(platform)}",
        details={"deployments": deployment_ids},
        platform_id=platform.id,
    )
    db.session.commit()
    return redirect(url_for("admin.platform", platform_id=platform.id), code=303)


def _visible_registration(registration_id: int) -> LtiRegistration:
    registration = db.session.get(LtiRegistration, registration_id)
    if registration is None:
        abort(404, description="There is no such registration in your administration area.")
    visible_platform(registration.platform_id)
    return registration


@bp.post("/registrations/<int:registration_id>")
def registration_edit(registration_id: int) -> ResponseReturnValue:
    """Change a registration's client id, URLs and keys."""
    require_global()
    registration = _visible_registration(registration_id)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    old_client = registration.client_id
    try:
        check_lengths(form)
        client_id = form.get("client_id", old_client).strip()
        if not client_id:
            raise FormError(_("Client id: required"))
        fields = _registration_fields(form)
        if not fields["jwks_url"] and not fields["jwks"]:
            if registration.jwks is None:
                raise FormError(_("Give the platform's key set URL (or paste its key set)"))
            fields["jwks"] = registration.jwks  # the pasted key set stays when left empty
        try:
            registry.update_registration(db.session, registration, client_id, **fields)
        except registry.PlatformError as exc:
            raise FormError(_("Client id: %(why)s", why=shown(exc))) from None
    except FormError as exc:
        db.session.rollback()
        return _platform_page(registration.platform, 400, str(exc), form)
    audit.record(
        db.session,
        "registration_changed",
        f"client id {registration.client_id} of {_named(registration.platform)}",
        details={"client_id": {"from": old_client, "to": registration.client_id}}
        | {k: v for k, v in fields.items() if k != "jwks" and isinstance(v, str | None)},
        platform_id=registration.platform_id,
    )
    db.session.commit()
    return redirect(url_for("admin.platform", platform_id=registration.platform_id), code=303)


@bp.post("/registrations/<int:registration_id>/deployments")
def deployment_add(registration_id: int) -> ResponseReturnValue:
    """Add deployment ids to a registration."""
    require_global()
    registration = _visible_registration(registration_id)
    try:
        wanted = _ids(request.form.get("deployment_ids", ""))
    except FormError as exc:
        return _platform_page(registration.platform, 400, str(exc))
    added = registry.add_deployments(db.session, registration, wanted)
    if not added:
        return _platform_page(
            registration.platform, 400, "Deployment ids: give one this client id does not have"
        )
    audit.record(
        db.session,
        "registration_changed",
        f"client id {registration.client_id} of {_named(registration.platform)}",
        details={"deployments_added": added},
        platform_id=registration.platform_id,
    )
    db.session.commit()
    return redirect(url_for("admin.platform", platform_id=registration.platform_id), code=303)


@bp.post("/deployments/<int:deployment_id>")
def deployment_edit(deployment_id: int) -> ResponseReturnValue:
    """Enable or disable a deployment, and administration by LMS launch for it."""
    require_global()
    deployment = db.session.get(LtiDeployment, deployment_id)
    if deployment is None:
        abort(404, description=_("There is no such deployment."))
    deployment.enabled = request.form.get("enabled") == "on"
    deployment.admin_launch_enabled = request.form.get("admin_launch_enabled") == "on"
    audit.record(
        db.session,
        "deployment_changed",
        f"deployment {deployment.deployment_id} of {_named(deployment.registration.platform)}",
        details={
            "enabled": deployment.enabled,
            "admin_launch_enabled": deployment.admin_launch_enabled,
        },
        platform_id=deployment.registration.platform_id,
    )
    db.session.commit()
    log.info(
        "admin set deployment %s: enabled=%s admin_launch=%s",
        deployment.id,
        deployment.enabled,
        deployment.admin_launch_enabled,
    )
    platform_id = deployment.registration.platform_id
    return redirect(url_for("admin.platform", platform_id=platform_id), code=303)


# --- tool keys -----------------------------------------------------------------------------------


@bp.get("/keys")
def keys() -> str:
    """The tool's signing keys: the active one, published ones, retired ones."""
    require_global()
    tool_keys.active_key()
    rows = list(db.session.scalars(select(ToolKey).order_by(ToolKey.id)))
    return render_template("admin/keys.html", keys=rows)


@bp.post("/keys/rotate")
def keys_rotate() -> ResponseReturnValue:
    """A new signing key; the old one stays published until retired."""
    require_global()
    key = tool_keys.rotate_key()
    db.session.commit()
    log.info("admin rotated the tool key: new kid %s", key.kid)
    return redirect(url_for("admin.keys"), code=303)


@bp.post("/keys/<int:key_id>/retire")
def keys_retire(key_id: int) -> ResponseReturnValue:
    """Take a non-active key out of the JWKS."""
    require_global()
    key = db.session.get(ToolKey, key_id)
    if key is None:
        abort(404, description=_("There is no such key."))
    try:
        tool_keys.retire_key(key.kid)
    except (LookupError, ValueError) as exc:
        rows = list(db.session.scalars(select(ToolKey).order_by(ToolKey.id)))
        return render_template("admin/keys.html", keys=rows, error=str(exc)), 400
    db.session.commit()
    return redirect(url_for("admin.keys"), code=303)


# --- data sources --------------------------------------------------------------------------------


def _sources_page(status: int = 200, **context: Any) -> ResponseReturnValue:
    shown = list(db.session.scalars(select(Platform).order_by(Platform.name)))
    sources = {
        p.id: list(
            db.session.scalars(
                select(DataSource).where(DataSource.platform_id == p.id).order_by(DataSource.id)
            )
        )
        for p in shown
    }
    context.setdefault("form", {})
    html = render_template(
        "admin/sources.html", platforms=shown, sources=sources, kinds=kind_names(), **context
    )
    return html, status


def _visible_source(source_id: int) -> DataSource:
    """A data source, for an administrator of the whole tool; 403 for a deployment's, else 404."""
    require_global()
    source = db.session.get(DataSource, source_id)
    if source is None:
        abort(404, description=_("There is no such data source."))
    return source


@bp.get("/sources")
def sources() -> ResponseReturnValue:
    """Data sources per platform, with forms to add one and a test button each."""
    require_global()
    return _sources_page()


def _apply_source(
    platform: Platform, kind: str, form: dict[str, str], source: DataSource | None = None
) -> None:
    """Check the form and write it into the platform's Canvas or Open edX source."""
    value = form.get("location", "").strip()
    if not value:
        raise FormError(_("Base URL: required"))
    try:
        location = registry.api_base_url(kind, value)
    except registry.PlatformError as exc:
        raise FormError(_("Base URL: %(why)s", why=shown(exc))) from None
    secret = form.get("secret", "").strip()
    client_id = None
    if kind == "openedx":
        client_id = form.get("client_id", "").strip()
        if not client_id:
            raise FormError(_("Client id: required for the Open edX API"))
    if source is None and not secret:
        raise FormError(
            _("API token: required") if kind == "canvas" else _("Client secret: required")
        )
    enabled = source.enabled if source is not None else True
    try:
        source, _created = registry.set_api_source(
            db.session, platform, kind, location, secret or None, client_id, source=source
        )
    except secret_store.SecretsUnavailable as exc:
        raise FormError(str(exc)) from None
    source.enabled = enabled


@bp.post("/sources")
def source_add() -> ResponseReturnValue:
    """Add a Canvas API, Open edX API or log folder source to a platform."""
    require_global()
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "secret")}
    platform_ref = request.form.get("platform", "")
    if not platform_ref.isdigit():
        return _sources_page(400, form=form, error=_("Choose a platform."))
    platform = visible_platform(int(platform_ref))
    kind = request.form.get("kind", "")
    if kind not in SOURCE_KINDS:
        return _sources_page(400, form=form, error=_("Choose what kind of source to add."))
    try:
        check_lengths(dict(request.form))
        if kind == "log_folder":
            registry.add_log_folder(db.session, platform, request.form.get("location", "").strip())
        else:
            existing = db.session.scalar(
                select(DataSource.id).where(
                    DataSource.platform_id == platform.id, DataSource.kind == kind
                )
            )
            if existing:
                raise FormError(
                    _(
                        "%(platform)s already has a %(kind)s source: edit that one",
                        platform=platform.name,
                        kind=kind_names()[kind],
                    )
                )
            _apply_source(platform, kind, dict(request.form))
    except (FormError, registry.PlatformError) as exc:
        db.session.rollback()
        return _sources_page(400, form=form, error=str(shown(exc)))
    audit.record(
        db.session,
        "source_added",
        f"{KIND_NAMES[kind]} of {_named(platform)}",
        details={"location": request.form.get("location", "").strip()},
        platform_id=platform.id,
    )
    db.session.commit()
    log.info("admin added a %s source to platform %s", kind, platform.id)
    return redirect(url_for("admin.sources"), code=303)


@bp.route("/sources/<int:source_id>", methods=["GET", "POST"])
def source_edit(source_id: int) -> ResponseReturnValue:
    """Change a source's location, credentials (blank keeps the stored secret) or state."""
    source = _visible_source(source_id)
    if request.method == "GET":
        return render_template("admin/source.html", source=source, kinds=kind_names(), form={})
    before = {"location": source.location, "enabled": source.enabled}
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "secret")}
    secret_cleared = False
    try:
        check_lengths(dict(request.form))
        if source.kind == registry.LOG_FOLDER:
            try:
                registry.move_log_folder(source, request.form.get("location", "").strip())
            except registry.PlatformError as exc:
                raise FormError(str(shown(exc))) from None
        else:
            had_secret = bool(source.secret_encrypted)
            _apply_source(source.platform, source.kind, dict(request.form), source)
            secret_cleared = had_secret and not source.secret_encrypted
        source.enabled = request.form.get("enabled") == "on"
        try:
            db.session.flush()
        except IntegrityError:
            raise FormError(_("this platform has another source at that place")) from None
    except FormError as exc:
        db.session.rollback()
        html = render_template(
            "admin/source.html", source=source, kinds=kind_names(), form=form, error=str(exc)
        )
        return html, 400
    after = {"location": source.location, "enabled": source.enabled}
    details: dict[str, Any] = {k: {"from": before[k], "to": v} for k, v in after.items()}
    details = {k: v for k, v in details.items() if v["from"] != v["to"]}
    if request.form.get("secret", "").strip():
        details["credentials"] = "replaced"  # that they changed, never the secret
    elif secret_cleared:
        details["credentials"] = "cleared (new base URL)"
    audit.record(
        db.session,
        "source_changed",
        f"{KIND_NAMES[source.kind]} {source.id} of {_named(source.platform)}",
        details=details,
        platform_id=source.platform_id,
    )
    db.session.commit()
    if secret_cleared:
        notice = (
            _(
                "The base URL changed, so the stored API token was cleared: a secret is only "
                "sent to the address it was entered for. Enter the API token again (Edit) "
                "before syncing."
            )
            if source.kind == "canvas"
            else _(
                "The base URL changed, so the stored client secret was cleared: a secret is "
                "only sent to the address it was entered for. Enter the client secret again "
                "(Edit) before syncing."
            )
        )
        return _sources_page(200, notice=notice)
    return redirect(url_for("admin.sources"), code=303)


def check_source(source: DataSource) -> tuple[bool, LazyText]:
    """Test a source: the sync module's check_connection, or the folder check."""
    if source.kind == registry.LOG_FOLDER:
        return registry.check_folder(source.location)

    module = importlib.import_module(f"lti_tool.sync.{source.kind}")
    check = getattr(module, "check_connection", None)
    if check is None:
        return False, lazy_gettext(
            "a connection test for the %(kind)s is not available yet",
            kind=lazy_gettext(KIND_NAMES[source.kind]),
        )
    try:
        ok, message = check(source, timeout=10)
    except Exception as exc:  # the page must say what failed, never become a 500
        log.warning("connection test of source %s failed: %s", source.id, type(exc).__name__)
        return False, lazy_gettext("the test failed: %(kind)s", kind=type(exc).__name__)
    return bool(ok), message if isinstance(message, LazyText) else lazy_gettext(str(message))


@bp.post("/sources/<int:source_id>/test")
def source_test(source_id: int) -> ResponseReturnValue:
    """Test the connection now and record the outcome on the source."""
    source = _visible_source(source_id)
    ok, message = check_source(source)
    outcome = (
        lazy_gettext("OK: %(result)s", result=message)
        if ok
        else lazy_gettext("Failed: %(result)s", result=message)
    )
    source.record_check(outcome, utcnow())
    audit.record(
        db.session,
        "source_tested",
        f"{KIND_NAMES[source.kind]} {source.id} of {_named(source.platform)}",
        details={"ok": ok},
        platform_id=source.platform_id,
    )
    db.session.commit()
    return _sources_page(200, tested=source, tested_ok=ok)
