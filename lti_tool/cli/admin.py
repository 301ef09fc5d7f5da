"""`flask admin …`: local administrators of the admin area."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import platforms
from lti_tool.admin import auth
from lti_tool.extensions import db
from lti_tool.models import AdminUser, LtiDeployment

admin_cli = AppGroup("admin", help="Local administrators of the admin area (/admin).")


def _deployment(deployment_id: str, platform_name: str | None, client_id: str | None) -> int:
    """The row id of the deployment --deployment (with --platform / --client-id) names."""
    try:
        return platforms.find_deployment(db.session, deployment_id, platform_name, client_id).id
    except platforms.PlatformError as exc:
        raise click.ClickException(str(exc)) from None


def _read_password(password_file: str | None) -> str:
    if password_file:
        try:
            text = Path(password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {password_file}: {exc.strerror}", param_hint="--password-file"
            ) from None
        # The first line: a trailing newline from `echo` or an editor is not part of it.
        return text.splitlines()[0] if text else ""
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@admin_cli.command("create")
@click.argument("email")
@click.option("--password-file", type=click.Path(), help="Read the password from this file.")
@click.option(
    "--deployment",
    "deployment_id",
    help="Limit the administrator to this deployment (its LMS deployment id): the courses "
    "launched through it, not the platform's other deployments.",
)
@click.option("--platform", "platform_name", help="The deployment's platform, when ambiguous.")
@click.option("--client-id", help="The deployment's client id, when ambiguous.")
def admin_create(
    email: str,
    password_file: str | None,
    deployment_id: str | None,
    platform_name: str | None,
    client_id: str | None,
) -> None:
    """Create a local administrator (asks for the password twice unless --password-file)."""
    try:
        address = auth.normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    if auth.admin_named(db.session, address) is not None:
        raise click.ClickException(f"an administrator {address} exists")
    if (platform_name or client_id) and not deployment_id:
        raise click.UsageError("--platform and --client-id only narrow --deployment")
    row_id = _deployment(deployment_id, platform_name, client_id) if deployment_id else None
    try:
        auth.create_admin(db.session, address, _read_password(password_file), row_id)
    except auth.PasswordRefused as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    deployment = db.session.get(LtiDeployment, row_id) if row_id is not None else None
    scope = "everything"
    if deployment is not None:
        registration = deployment.registration
        scope = (
            f"deployment {deployment.deployment_id} of {registration.platform.name}, client id "
            f"{registration.client_id}: the courses launched through it"
        )
    click.echo(f"administrator {address} created ({scope}); sign in at /admin/login")


@admin_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def admin_list(as_json: bool) -> None:
    """List the local administrators (never their passwords)."""
    users = db.session.scalars(select(AdminUser).order_by(AdminUser.id))
    rows = [auth.admin_as_dict(db.session, u) for u in users]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no administrators (create one with `flask admin create EMAIL`)")
    for row in rows:
        dep = row["deployment"]
        scope = (
            f"deployment {dep['deployment_id']} of {dep['platform']} (client {dep['client_id']})"
            if dep
            else "everything"
        )
        state = "disabled" if row["disabled"] else "active"
        last = row["last_login_at"][:16] if row["last_login_at"] else "never"
        click.echo(f"{row['email']}  {state}  {scope}  last sign-in {last}")


def _admin(email: str) -> AdminUser:
    user = auth.admin_named(db.session, email)
    if user is None:
        raise click.ClickException(f"no administrator {email}")
    return user


@admin_cli.command("disable")
@click.argument("email")
def admin_disable(email: str) -> None:
    """Disable an administrator: signed out at their next request, and cannot sign in."""
    user = _admin(email)
    user.disabled = True
    db.session.commit()
    click.echo(f"administrator {user.email} disabled")


@admin_cli.command("enable")
@click.argument("email")
def admin_enable(email: str) -> None:
    """Enable a disabled administrator again."""
    user = _admin(email)
    user.disabled = False
    db.session.commit()
    click.echo(f"administrator {user.email} enabled")


@admin_cli.command("set-password")
@click.argument("email")
@click.option("--password-file", type=click.Path(), help="Read the password from this file.")
def admin_set_password(email: str, password_file: str | None) -> None:
    """Set a new password (ends the administrator's open sessions)."""
    user = _admin(email)
    try:
        user.password_hash = auth.hash_password(_read_password(password_file))
    except auth.PasswordRefused as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"password of {user.email} changed")


@admin_cli.command("launch-access")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--deployment", "deployment_id", required=True, help="The LMS deployment id.")
@click.option("--platform", "platform_name", help="The deployment's platform, when ambiguous.")
@click.option("--client-id", help="The deployment's client id, when ambiguous.")
def admin_launch_access(
    state: str, deployment_id: str, platform_name: str | None, client_id: str | None
) -> None:
    """Switch administration by LMS launch on or off for one deployment (off by default)."""
    row = db.session.get(LtiDeployment, _deployment(deployment_id, platform_name, client_id))
    assert row is not None
    row.admin_launch_enabled = state == "on"
    db.session.commit()
    click.echo(
        f"administration by LMS launch {state} for deployment {deployment_id} of "
        f"{row.registration.platform.name} (client {row.registration.client_id})"
    )
