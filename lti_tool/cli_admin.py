"""`flask admin …` (local administrators) and `flask data purge` (retention)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import audit
from lti_tool.cli import data_cli
from lti_tool.extensions import db
from lti_tool.models import AdminUser, LtiDeployment, LtiRegistration, Platform

admin_cli = AppGroup("admin", help="Local administrators of the admin area (/admin).")

#: Top-level command groups of this module (subcommands of `flask data` attach themselves).
COMMANDS: list[click.Command] = [admin_cli]


def _find_deployment(deployment_id: str, platform_name: str | None, client_id: str | None) -> int:
    """The row id of the deployment named by its LMS id (and platform / client id if needed)."""
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
    found = db.session.execute(query).all()
    if not found:
        raise click.ClickException(
            f"no deployment {deployment_id!r}"
            + (f" on platform {platform_name!r}" if platform_name else "")
            + (f" with client id {client_id!r}" if client_id else "")
            + " (see `flask platform list`)"
        )
    if len(found) > 1:
        where = ", ".join(f"{p.name} / client {r.client_id}" for _d, r, p in found)
        raise click.ClickException(
            f"deployment {deployment_id!r} exists at several registrations ({where}): "
            "add --platform NAME and/or --client-id ID"
        )
    return found[0][0].id


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
    from lti_tool.admin.auth import PasswordRefused, hash_password, normalise_email

    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    if db.session.scalar(select(AdminUser.id).where(AdminUser.email == address)):
        raise click.ClickException(f"an administrator {address} exists")
    if (platform_name or client_id) and not deployment_id:
        raise click.UsageError("--platform and --client-id only narrow --deployment")
    row_id = _find_deployment(deployment_id, platform_name, client_id) if deployment_id else None
    try:
        password_hash = hash_password(_read_password(password_file))
    except PasswordRefused as exc:
        raise click.ClickException(str(exc)) from None
    db.session.add(AdminUser(email=address, password_hash=password_hash, deployment_id=row_id))
    audit.record(
        db.session,
        "admin_created",
        address,
        details={"deployment": row_id} if row_id is not None else {"scope": "whole tool"},
    )
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


def _admin_as_dict(user: AdminUser) -> dict[str, Any]:
    deployment = db.session.get(LtiDeployment, user.deployment_id) if user.deployment_id else None
    return {
        "id": user.id,
        "email": user.email,
        "deployment": (
            {
                "id": deployment.id,
                "deployment_id": deployment.deployment_id,
                "client_id": deployment.registration.client_id,
                "platform": deployment.registration.platform.name,
            }
            if deployment
            else None
        ),
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


@admin_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def admin_list(as_json: bool) -> None:
    """List the local administrators (never their passwords)."""
    rows = [_admin_as_dict(u) for u in db.session.scalars(select(AdminUser).order_by(AdminUser.id))]
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
    user = db.session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))
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
    from lti_tool.admin.auth import PasswordRefused, hash_password

    user = _admin(email)
    try:
        user.password_hash = hash_password(_read_password(password_file))
    except PasswordRefused as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"password of {user.email} changed")


@data_cli.command("purge")
@click.option("--course", "course_ref", help="The tool's course id or the LMS's course id.")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    help="Only activity from more than DAYS days ago (rollups of the rest are rebuilt).",
)
@click.option("--platform", "platform_name", help="The course's platform (or: only its courses).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_purge(
    course_ref: str | None,
    days: int | None,
    platform_name: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Purge course activity: all of one course's (--course), or older than DAYS (--older-than).

    --course alone removes the course's activity and LMS-synced learner data (roster, grades,
    progress) but keeps the course, its settings and calendar; people known only through it
    are forgotten. --older-than DAYS removes activity older than that, in one course or in
    every course, and rebuilds the rollups of the learners concerned.
    """
    from lti_tool.data.retention import purge_course_all, purge_course_older_than
    from lti_tool.kpis.reports import CourseNotFound, find_course
    from lti_tool.models import Course

    if course_ref is None and days is None:
        raise click.UsageError("give --course COURSE, --older-than DAYS, or both")
    if course_ref:
        try:
            courses = [find_course(db.session, course_ref, platform_name)]
        except CourseNotFound as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        query = select(Course).order_by(Course.id)
        if platform_name:
            platform = db.session.scalar(select(Platform).where(Platform.name == platform_name))
            if platform is None:
                raise click.ClickException(f"no platform named {platform_name!r}")
            query = query.where(Course.platform_id == platform.id)
        courses = list(db.session.scalars(query))
    results = []
    for course in courses:
        label = course.lms_course_id or course.lti_context_id or ""
        course_id = course.id
        if days is None:
            counts = purge_course_all(db.session, course_id)
        else:
            counts = purge_course_older_than(db.session, course_id, days)
        if dry_run:
            db.session.rollback()
        else:
            what = "all activity" if days is None else f"activity older than {days} days"
            audit.record(
                db.session,
                "purge",
                f"course {course_id} ({label}): {what}",
                details={k: v for k, v in counts.items() if v},
                platform_id=course.platform_id,
                course_id=course_id,
            )
            db.session.commit()
        deleted = {k: v for k, v in counts.items() if v and k not in _NOT_ROWS}
        results.append(
            {
                "course_id": course_id,
                "course": label,
                "older_than_days": days,
                "deleted": deleted,
                "rows": sum(deleted.values()),
                **{k: counts[k] for k in _NOT_ROWS if k in counts},
            }
        )
    total = sum(r["rows"] for r in results)
    if as_json:
        summary = {"dry_run": dry_run, "courses": results, "rows": total}
        click.echo(json.dumps(summary, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for r in results:
        if r["rows"] or course_ref:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(r["deleted"].items())) or "nothing"
            click.echo(
                f"course {r['course_id']} ({r['course']}): {verb} {r['rows']} rows: {detail}"
            )
    scope = "older than " + str(days) + " days" if days is not None else "all activity"
    plural = "" if len(results) == 1 else "s"
    click.echo(f"{verb} {total} rows ({scope}) in {len(results)} course{plural}")


#: Figures in a purge's counts that are not deleted rows.
_NOT_ROWS = ("people_forgotten", "learners_rebuilt")


@admin_cli.command("launch-access")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--deployment", "deployment_id", required=True, help="The LMS deployment id.")
@click.option("--platform", "platform_name", help="The deployment's platform, when ambiguous.")
@click.option("--client-id", help="The deployment's client id, when ambiguous.")
def admin_launch_access(
    state: str, deployment_id: str, platform_name: str | None, client_id: str | None
) -> None:
    """Switch administration by LMS launch on or off for one deployment (off by default)."""
    row = db.session.get(LtiDeployment, _find_deployment(deployment_id, platform_name, client_id))
    assert row is not None
    row.admin_launch_enabled = state == "on"
    db.session.commit()
    click.echo(
        f"administration by LMS launch {state} for deployment {deployment_id} of "
        f"{row.registration.platform.name} (client {row.registration.client_id})"
    )
