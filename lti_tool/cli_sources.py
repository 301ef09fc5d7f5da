"""`flask platform set-canvas|set-openedx` and `flask sources …`: where data comes from."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lti_tool import audit, platforms, secrets
from lti_tool.cli import platform_cli
from lti_tool.extensions import db
from lti_tool.models import Platform
from lti_tool.models.types import utcnow

#: Top-level command groups of this module (subcommands of `flask platform` attach themselves).
COMMANDS: list[click.Command] = []


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


def _platform(name: str) -> Platform:
    platform = platforms.platform_named(db.session, name)
    if platform is None:
        raise click.BadParameter(f"no platform named {name!r}", param_hint="--platform")
    return platform


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
    platform = _platform(platform_name)
    try:
        encrypted = secrets.encrypt(token)
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    source, created = platforms.set_api_source(db.session, platform, "canvas", location, encrypted)
    source.last_check = None
    source.last_checked_at = None
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
        source.last_checked_at = utcnow()
        source.last_check = message
        db.session.commit()
        click.echo(("connection OK: " if ok else "connection FAILED: ") + message, err=not ok)
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
    platform = _platform(platform_name)
    base = _base_url("openedx", base_url)
    secret = _read_token(client_secret_file, "--client-secret-file", "client secret")
    try:
        encrypted = secrets.encrypt(secret)
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    _, created = platforms.set_api_source(
        db.session, platform, "openedx", base, encrypted, client_id
    )
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
