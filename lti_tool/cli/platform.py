"""`flask platform …`: LMS platforms, their registrations, and where their data comes from."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import audit, platforms, secrets
from lti_tool.cli.options import named_platform
from lti_tool.extensions import db
from lti_tool.models import LaunchError, Platform
from lti_tool.models.types import utcnow
from lti_tool.platforms import PlatformError


def _check(option: str, check: Callable[[str], str], value: str) -> str:
    """Run a platforms check on an option's value; its error becomes a click error."""
    try:
        return check(value)
    except PlatformError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _read_jwks(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--jwks-file"
        ) from exc
    try:
        return platforms.parse_jwks(text)
    except PlatformError as exc:
        raise click.BadParameter(f"{path} {exc}", param_hint="--jwks-file") from None


platform_cli = AppGroup(
    "platform", help="Register LMS platforms (issuer, client ids, deployments)."
)


@platform_cli.command("add")
@click.option("--name", required=True, help="A name for this LMS, unique in the tool.")
@click.option("--issuer", required=True, help="The platform's issuer (iss).")
@click.option("--client-id", required=True, help="The client id the platform gave the tool.")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization URL.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 token URL.")
@click.option("--jwks-url", help="The platform's public key set URL.")
@click.option("--jwks-file", type=click.Path(), help="A file with the platform's JWKS.")
@click.option("--auth-audience", help="Audience for token requests, when not the token URL.")
@click.option(
    "--deployment-id",
    "deployment_ids",
    multiple=True,
    required=True,
    help="A deployment id (repeat for several).",
)
@click.option(
    "--frame-origin",
    "frame_origins",
    multiple=True,
    help="An origin allowed to frame the tool (repeat for several).",
)
@click.option(
    "--lms",
    type=click.Choice(list(platforms.LMS_NAMES)),
    help="Which LMS this is (a new platform: other by default). Mark Open edX as openedx: "
    "before lti-consumer-xblock 11.1 it sends course roles only as institution roles.",
)
def platform_add(
    name: str,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    jwks_url: str | None,
    jwks_file: str | None,
    auth_audience: str | None,
    deployment_ids: tuple[str, ...],
    frame_origins: tuple[str, ...],
    lms: str | None,
) -> None:
    """Add a platform, or a registration (client id) or deployments to an existing one."""
    if bool(jwks_url) == bool(jwks_file):
        raise click.UsageError("give exactly one of --jwks-url or --jwks-file")
    for option, value in (
        ("--issuer", issuer),
        ("--auth-login-url", auth_login_url),
        ("--auth-token-url", auth_token_url),
        ("--jwks-url", jwks_url),
    ):
        if value:
            _check(option, platforms.check_url, value)
    keyset = _read_jwks(jwks_file) if jwks_file else None
    origins = [_check("--frame-origin", platforms.check_origin, o) for o in frame_origins]
    try:
        done = platforms.register(
            db.session,
            name,
            issuer,
            client_id,
            deployment_ids,
            origins,
            lms,
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            jwks_url=jwks_url,
            jwks=keyset,
            auth_audience=auth_audience,
        )
    except PlatformError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    if not done.added:
        db.session.rollback()
        raise click.ClickException(
            f"client id {client_id!r} with these deployments is already registered to "
            f"platform {name!r}: nothing to add"
        )
    attached = 0
    if done.created_platform:
        audit.record(
            db.session,
            "platform_added",
            f"platform {name} ({done.platform.id})",
            details={"issuer": issuer, "lms": done.platform.lms},
            platform_id=done.platform.id,
        )
        # Courses that arrived before any platform existed go to the first one registered.
        attached = platforms.attach_standalone_courses(db.session, done.platform)
    db.session.commit()
    action = "added platform" if done.created_platform else "updated platform"
    click.echo(f"{action} {name!r}: added " + "; ".join(done.added))
    if attached:
        click.echo(
            f"{attached} courses that arrived before any platform was registered now belong "
            f"to {name!r}"
        )
    for warning in _setup_warnings(done.platform):
        click.echo(f"warning: {warning}", err=True)


def _setup_warnings(platform: Platform) -> list[str]:
    """What a newly registered platform still lacks for launches to work in a browser."""
    warnings = []
    if not platform.frame_origins:
        warnings.append(
            "no --frame-origin: browsers will refuse to show the tool inside the LMS's page. "
            "Give the LMS's origin (e.g. --frame-origin https://lms.example.edu) by running "
            "this command again, or on the platform's page in the admin area."
        )
    if platform.issuer.startswith("http://"):
        warnings.append(
            f"the issuer {platform.issuer!r} is plain http: real LMSs use https, and "
            "launches from anywhere but this machine will not reach the tool securely."
        )
    return warnings


@platform_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def platform_list(as_json: bool) -> None:
    """List the registered platforms."""
    found = db.session.scalars(select(Platform).order_by(Platform.id))
    rows = [platforms.platform_as_dict(p) for p in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no platforms registered (add one with `flask platform add`)")
    for p in rows:
        state = "" if p["enabled"] else " (disabled)"
        if not p["approved"]:
            state += f" (pending approval: flask platform approve {shlex.quote(p['name'])})"
        click.echo(f"{p['name']}{state}  lms={p['lms']}  issuer={p['issuer']}")
        click.echo(f"  frame origins: {', '.join(p['frame_origins']) or '-'}")
        for r in p["registrations"]:
            click.echo(f"  client {r['client_id']}: deployments {', '.join(r['deployment_ids'])}")
            click.echo(f"    login {r['auth_login_url']}  token {r['auth_token_url']}")
            click.echo(f"    keys {r['jwks_url'] or '(inline key set)'}")


@platform_cli.command("set-lms")
@click.option("--platform", "platform_name", required=True, help="The platform's name.")
@click.argument("lms", type=click.Choice(list(platforms.LMS_NAMES)))
def platform_set_lms(platform_name: str, lms: str) -> None:
    """Say which LMS a platform is (canvas, openedx, moodle or other)."""
    platform = named_platform(platform_name)
    before, platform.lms = platform.lms, lms
    audit.record(
        db.session,
        "lms_changed",
        f"platform {platform.name} ({platform.id})",
        details={"from": before, "to": lms},
        platform_id=platform.id,
    )
    db.session.commit()
    click.echo(f"platform {platform.name!r} is now {platforms.LMS_NAMES[lms]} (was {before})")


@platform_cli.command("approve")
@click.argument("name")
def platform_approve(name: str) -> None:
    """Approve a platform that registered itself (dynamic registration): its launches open."""
    platform = named_platform(name, "NAME")
    if not platforms.approve_platform(db.session, platform):
        click.echo(f"platform {name!r} was approved already")
        return
    db.session.commit()
    click.echo(f"approved platform {name!r}: its launches are accepted now")


@platform_cli.command("invite")
@click.option(
    "--lms",
    type=click.Choice(list(platforms.INVITE_LMS)),
    help="Which LMS will register (default: what its configuration says).",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True, max=platforms.INVITE_MAX_HOURS),
    default=24,
    show_default=True,
    help="How long the invitation stays open.",
)
def platform_invite(lms: str | None, hours: float) -> None:
    """Print a one-time dynamic registration address whose platform is approved at once."""
    invite, code = platforms.create_invite(db.session, lms, hours, created_by="cli")
    url = platforms.invite_url(current_app.config["TOOL_BASE_URL"], code)
    expires = invite.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    db.session.commit()
    click.echo(url)
    click.echo(
        f"Paste it into the LMS's dynamic registration (Canvas: Developer Keys > + LTI "
        f"Registration; Moodle: Manage tools > Tool URL). It registers one LMS, once, until "
        f"{expires}; it is shown only now.",
        err=True,
    )


@platform_cli.command("errors")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the claims received).")
def platform_errors(limit: int, as_json: bool) -> None:
    """Show recently refused launches: when, which platform, why."""
    rows = list(
        db.session.scalars(select(LaunchError).order_by(LaunchError.id.desc()).limit(limit))
    )
    if as_json:
        data = [
            {
                "at": row.created_at.isoformat(),
                "platform_id": row.platform_id,
                "issuer": row.issuer,
                "client_id": row.client_id,
                "stage": row.stage,
                "status": row.status_code,
                "reason": row.reason,
                "claims": row.claims,
            }
            for row in rows
        ]
        click.echo(json.dumps(data, indent=2))
        return
    if not rows:
        click.echo("no refused launches recorded")
    for row in rows:
        click.echo(
            f"{row.created_at:%Y-%m-%d %H:%M:%S}  {row.status_code}  {row.stage:6}  "
            f"{row.issuer or '-'}  {row.reason}"
        )


def _base_url(kind: str, value: str) -> str:
    """The API root URL of a Canvas or Open edX source, checked."""
    try:
        return platforms.api_base_url(kind, value)
    except platforms.PlatformError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from None


def _read_token(path: str, option: str = "--token-file", what: str = "token") -> str:
    """A token or secret from a file (or stdin for "-"); never echoed."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=option) from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path} is not a text file", param_hint=option) from None
    token = text.strip()
    if not token or any(c.isspace() for c in token):
        raise click.BadParameter(
            f"{path} must hold the {what} alone, on one line", param_hint=option
        )
    return token


@platform_cli.command("set-canvas")
@click.option("--platform", "platform_name", required=True, help="The platform's name.")
@click.option(
    "--base-url", required=True, help="The Canvas base URL, e.g. https://school.instructure.com."
)
@click.option(
    "--token-file",
    required=True,
    help="A file holding the Canvas API access token ('-' reads it from stdin).",
)
@click.option("--check", is_flag=True, help="Then ask Canvas whom the token belongs to.")
def platform_set_canvas(platform_name: str, base_url: str, token_file: str, check: bool) -> None:
    """Store the platform's Canvas REST API source; the token is kept encrypted."""
    location = _base_url("canvas", base_url)
    token = _read_token(token_file)
    platform = named_platform(platform_name)
    try:
        source, created = platforms.set_api_source(db.session, platform, "canvas", location, token)
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    source.record_check(None, None)
    audit.record(
        db.session,
        "source_added" if created else "source_changed",
        f"Canvas API of platform {platform.name} ({platform.id})",
        details={"location": location, "credentials": "set"},
        platform_id=platform.id,
    )
    db.session.commit()
    what = "stored" if created else "updated"
    click.echo(
        f"{what} the Canvas API source of {platform.name!r}: {location} (token encrypted, "
        f"{len(token)} characters)"
    )
    if check:
        from lti_tool.sync.canvas.source import check_connection

        ok, message = check_connection(source)
        source.record_check(message, utcnow())
        db.session.commit()
        click.echo(("connection OK: " if ok else "connection FAILED: ") + str(message), err=not ok)
        if not ok:
            raise SystemExit(1)


@platform_cli.command("set-openedx")
@click.option("--platform", "platform_name", required=True, help="The Open edX platform's name.")
@click.option("--base-url", required=True, help="The LMS root, e.g. https://lms.example.edu.")
@click.option("--client-id", required=True, help="The OAuth2 application's client id.")
@click.option(
    "--client-secret-file",
    required=True,
    help="A file holding the client secret ('-' reads stdin); kept encrypted, never printed.",
)
def set_openedx(platform_name: str, base_url: str, client_id: str, client_secret_file: str) -> None:
    """Pull enrollments, grades and course blocks from this platform's Open edX APIs."""
    platform = named_platform(platform_name)
    base = _base_url("openedx", base_url)
    secret = _read_token(client_secret_file, "--client-secret-file", "client secret")
    try:
        _, created = platforms.set_api_source(
            db.session, platform, "openedx", base, secret, client_id
        )
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(
        db.session,
        "source_added" if created else "source_changed",
        f"Open edX API of platform {platform.name} ({platform.id})",
        details={"location": base, "client_id": client_id, "credentials": "set"},
        platform_id=platform.id,
    )
    db.session.commit()
    verb = "set" if created else "updated"
    click.echo(
        f"Open edX API {verb} for {platform.name}: {base} (client {client_id}); "
        "courses of this platform sync hourly (`flask sync run --source openedx` now)"
    )
