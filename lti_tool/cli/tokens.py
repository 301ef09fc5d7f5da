"""`flask tokens …`: API tokens."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool.api.tokens import create_token, revoke_token, token_as_dict
from lti_tool.cli.options import named_course, named_platform
from lti_tool.extensions import db
from lti_tool.models import ApiToken

tokens_cli = AppGroup("tokens", help="API tokens for event sources and report readers.")


@tokens_cli.command("create")
@click.option("--name", required=True, help="What the token is for (e.g. the lab's name).")
@click.option(
    "--scope",
    required=True,
    type=click.Choice(["events:write", "reports:read"]),
    help="events:write sends events; reports:read reads reports. A token has one scope.",
)
@click.option(
    "--course", "course_ref", help="Bind the token to one course (tool or LMS course id)."
)
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
@click.option(
    "--bind-platform",
    "bind_platform",
    help="Bind the token to one platform (its name): it acts on that platform's courses only.",
)
@click.option(
    "--may-create-courses",
    is_flag=True,
    help="With --bind-platform: events for a course the platform does not have yet create it "
    "(without it, an unknown course is refused with a 404).",
)
@click.option(
    "--all-platforms",
    is_flag=True,
    help="reports:read only, instead of --course or --bind-platform: the token reads every "
    "platform's courses, learners and e-mails.",
)
def tokens_create(
    name: str,
    scope: str,
    course_ref: str | None,
    platform_name: str | None,
    bind_platform: str | None,
    may_create_courses: bool,
    all_platforms: bool,
) -> None:
    """Make a token and print it once (stdout); it is stored hashed and cannot be shown again.

    A reports:read token needs --course, --bind-platform or --all-platforms. An events:write
    token without --course or --bind-platform acts on every course the tool knows, and its
    events never create a course.
    """

    if may_create_courses and not bind_platform:
        raise click.UsageError("--may-create-courses needs --bind-platform NAME")
    if bind_platform and course_ref:
        raise click.UsageError("give --course or --bind-platform, not both")
    if all_platforms and scope != "reports:read":
        raise click.UsageError(
            "--all-platforms is for reports:read tokens (an events:write token without "
            "--course or --bind-platform writes to every existing course)"
        )
    if all_platforms and (course_ref or bind_platform):
        raise click.UsageError("give --all-platforms or --course / --bind-platform, not both")
    if scope == "reports:read" and not (course_ref or bind_platform or all_platforms):
        raise click.UsageError(
            "a reports:read token reads learners' names and e-mails: bind it with --course "
            "COURSE or --bind-platform NAME, or give --all-platforms if it must read every "
            "platform's courses"
        )
    course = None
    if course_ref:
        course = named_course(course_ref, platform_name)
    platform = None
    if bind_platform:
        platform = named_platform(bind_platform, "--bind-platform")
    try:
        new = create_token(
            db.session,
            name,
            scope,
            course,
            platform=platform,
            may_create_courses=may_create_courses,
            all_platforms=all_platforms,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if course:
        where = f"course {course.id} ({course.lms_course_id or course.lti_context_id})"
    elif platform:
        creates = "; it may create courses" if may_create_courses else ""
        where = f"the courses of platform {platform.name!r}{creates}"
    elif all_platforms:
        where = "all platforms: every course's learners and e-mails"
    else:
        where = "every course the tool knows (it creates none)"
    click.echo(f"token {new.row.id} {name!r}: {scope} on {where}", err=True)
    click.echo(new.token)
    click.echo("Keep it now: it is stored hashed and will not be shown again.", err=True)


@tokens_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_list(as_json: bool) -> None:
    """List tokens (never their secrets): id, name, prefix, scope, binding, last use, state."""

    found = db.session.scalars(select(ApiToken).order_by(ApiToken.id))
    rows = [token_as_dict(db.session, t) for t in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no API tokens (create one with `flask tokens create`)")
    for t in rows:
        state = f"revoked {t['revoked_at'][:16]}" if t["revoked_at"] else "active"
        if t["course_id"]:
            course = f"course {t['course_id']} ({t['course']})"
        elif t["platform_id"]:
            creates = ", may create courses" if t["may_create_courses"] else ""
            course = f"platform {t['platform']!r}{creates}"
        elif t["all_platforms"]:
            course = "all platforms"
        else:
            course = "any course"
        used = t["last_used_at"][:16] if t["last_used_at"] else "never"
        click.echo(
            f"{t['id']:>4}  {t['name']}  ltk_{t['prefix']}_…  {t['scope']}  {course}  "
            f"last used {used}  {state}"
        )
        if t["all_platforms"] and not t["revoked_at"]:
            # Tokens made before --all-platforms existed look the same: warn about every one.
            click.echo(
                "      warning: reads every platform's learners and e-mails; unless that is "
                "intended, make one with --bind-platform or --course and revoke this one"
            )


@tokens_cli.command("revoke")
@click.option("--name", help="The name of the active token to revoke.")
@click.option("--id", "token_id", type=int, help="The id of the token to revoke.")
def tokens_revoke(name: str | None, token_id: int | None) -> None:
    """Revoke a token by name or id: it is refused from the next request on."""

    if (name is None) == (token_id is None):
        raise click.UsageError("give exactly one of --name or --id")
    try:
        row = revoke_token(db.session, name=name, token_id=token_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"revoked token {row.id} ({row.name!r})")
