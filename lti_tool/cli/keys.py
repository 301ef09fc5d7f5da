"""`flask keys …`: the tool's signing keys."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import secrets
from lti_tool.extensions import db
from lti_tool.lti import keys
from lti_tool.models import ToolKey

keys_cli = AppGroup("keys", help="The tool's signing keys (published at /lti/jwks).")


@keys_cli.command("list")
def keys_list() -> None:
    """List the tool's keys: the active one signs; unretired ones stay in the JWKS."""
    keys.active_key()
    for key in db.session.scalars(select(ToolKey).order_by(ToolKey.id)):
        state = "retired" if key.retired_at else ("active" if key.active else "published")
        click.echo(f"{key.kid}  {state:9}  created {key.created_at:%Y-%m-%d %H:%M}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key; the old one stays published until retired."""
    key = keys.rotate_key()
    db.session.commit()
    click.echo(
        f"new active key {key.kid}; previous keys stay in the JWKS until `flask keys retire`"
    )


@keys_cli.command("encrypt")
def keys_encrypt() -> None:
    """Encrypt tool keys still stored as plain PEM with DATA_ENCRYPTION_KEY (set it first)."""
    try:
        secrets.encrypt("check")
    except secrets.SecretsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    sealed = keys.seal_stored_keys()
    db.session.commit()
    click.echo(f"{sealed} tool keys encrypted" if sealed else "every tool key is encrypted already")


@keys_cli.command("retire")
@click.option("--kid", required=True, help="The key id (kids may start with '-').")
def keys_retire(kid: str) -> None:
    """Remove a non-active key from the JWKS."""
    try:
        keys.retire_key(kid)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"retired {kid}")
