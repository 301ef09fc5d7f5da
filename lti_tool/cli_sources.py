"""`flask platform set-canvas|set-openedx` and `flask sources …`: where data comes from."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from sqlalchemy import select

from lti_tool import secrets
from lti_tool.cli import platform_cli
from lti_tool.extensions import db
from lti_tool.models import DataSource, Platform
from lti_tool.models.types import utcnow

#: Top-level command groups of this module (subcommands of `flask platform` attach themselves).
COMMANDS: list[click.Command] = []


def _base_url(value: str) -> str:
    """An LMS root URL, without a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL", param_hint="--base-url")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _canvas_base_url(value: str) -> str:
    """https://school.instructure.com from what an admin may paste (an /api/v1 URL, a slash)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL", param_hint="--base-url")
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


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
    location = _canvas_base_url(base_url)
    token = _read_token(token_file)
    platform = db.session.scalar(select(Platform).where(Platform.name == platform_name))
    if platform is None:
        raise click.BadParameter(f"no platform named {platform_name!r}", param_hint="--platform")
    try:
        encrypted = secrets.encrypt(token)
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    source = db.session.scalar(
        select(DataSource)
        .where(DataSource.platform_id == platform.id, DataSource.kind == "canvas")
        .order_by(DataSource.id)
        .limit(1)
    )
    created = source is None
    if source is None:
        source = DataSource(platform_id=platform.id, kind="canvas", location=location)
        db.session.add(source)
    source.location = location
    source.secret_encrypted = encrypted
    source.enabled = True
    source.last_check = None
    source.last_checked_at = None
    db.session.commit()
    what = "stored" if created else "updated"
    click.echo(
        f"{what} the Canvas API source of {platform.name!r}: {location} (token encrypted, "
        f"{len(token)} characters)"
    )
    if check:
        from lti_tool.sync.canvas import check_connection

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
    platform = db.session.scalar(select(Platform).where(Platform.name == platform_name))
    if platform is None:
        raise click.BadParameter(f"no platform named {platform_name!r}", param_hint="--platform")
    base = _base_url(base_url)
    secret = _read_token(client_secret_file, "--client-secret-file", "client secret")
    try:
        encrypted = secrets.encrypt(secret)
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    source = db.session.scalar(
        select(DataSource).where(
            DataSource.platform_id == platform.id, DataSource.kind == "openedx"
        )
    )
    created = source is None
    if source is None:
        source = DataSource(platform_id=platform.id, kind="openedx")
        db.session.add(source)
    source.location, source.client_id, source.secret_encrypted = base, client_id, encrypted
    source.enabled = True
    db.session.commit()
    verb = "set" if created else "updated"
    click.echo(
        f"Open edX API {verb} for {platform.name}: {base} (client {client_id}); "
        "courses of this platform sync hourly (`flask sync run --source openedx` now)"
    )
