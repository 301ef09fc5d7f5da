"""The `flask` command groups: platform registration, tool keys, demo data."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from lti_tool import audit, platforms
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS, CourseNotFound, find_course, to_csv
from lti_tool.lti import keys
from lti_tool.models import (
    ActivityBlock,
    LaunchError,
    Platform,
    ToolKey,
)
from lti_tool.models.sync import SOURCES
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


def platform_as_dict(platform: Platform) -> dict[str, Any]:
    """A platform and its registrations as plain data (for `platform list --json`)."""
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


@platform_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def platform_list(as_json: bool) -> None:
    """List the registered platforms."""
    rows = [platform_as_dict(p) for p in db.session.scalars(select(Platform).order_by(Platform.id))]
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
    platform = platforms.platform_named(db.session, platform_name)
    if platform is None:
        raise click.BadParameter(f"no platform named {platform_name!r}", param_hint="--platform")
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
    platform = platforms.platform_named(db.session, name)
    if platform is None:
        raise click.BadParameter(f"no platform named {name!r}", param_hint="NAME")
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
    keys.active_key()
    key = keys.create_key(activate=True)
    audit.record(db.session, "key_rotated", f"new signing key {key.kid}")
    db.session.commit()
    click.echo(
        f"new active key {key.kid}; previous keys stay in the JWKS until `flask keys retire`"
    )


@keys_cli.command("encrypt")
def keys_encrypt() -> None:
    """Encrypt tool keys still stored as plain PEM with DATA_ENCRYPTION_KEY (set it first)."""
    from lti_tool import secrets

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
    audit.record(db.session, "key_retired", f"key {kid}")
    db.session.commit()
    click.echo(f"retired {kid}")


demo_cli = AppGroup("demo", help="Demo data for the embedded default.")


@demo_cli.command("load")
def demo_load() -> None:
    """Register the development platform and load the demo course (development only)."""
    if not current_app.config.get("DEV_PLATFORM_ENABLED"):
        raise click.ClickException("demo data needs the development configuration")
    from lti_tool.demo import load_demo
    from lti_tool.demo_activity import load_demo_activity
    from lti_tool.devplatform import DEMO_CONTEXT, DEV_USERS, dev_platform, ensure_registered

    platform = ensure_registered(dev_platform())
    dev_people = tuple(
        (u["sub"], u["given_name"], u["family_name"], "staff" if key == "instructor" else "learner")
        for key, u in DEV_USERS.items()
    )
    course = load_demo(platform, DEMO_CONTEXT, extra_people=dev_people)
    click.echo(f"demo course {course.title!r} loaded (course id {course.id})")
    has_activity = db.session.scalar(
        select(ActivityBlock.day).where(ActivityBlock.course_id == course.id).limit(1)
    )
    if has_activity is None:
        events = load_demo_activity(db.session, platform, course)
        click.echo(f"demo activity: {events} events over the last six weeks")


ingest_cli = AppGroup("ingest", help="Bring activity data in.")


def _platform_option(name: str | None) -> Platform | None:
    """--platform NAME, else the only platform there is, else none (standalone courses)."""
    if name:
        platform = platforms.platform_named(db.session, name)
        if platform is None:
            raise click.BadParameter(f"no platform named {name!r}", param_hint="--platform")
        return platform
    try:
        return platforms.platform_for_unlabelled_data(db.session)
    except PlatformError as exc:
        names = ", ".join(db.session.scalars(select(Platform.name).order_by(Platform.name)))
        raise click.UsageError(f"{exc}: add --platform NAME (one of: {names})") from None


sessions_cli = AppGroup("sessions", help="Course sessions opened by launches.")


@sessions_cli.command("revoke")
@click.option("--person", "person_id", type=int, help="End every session of this person.")
@click.option("--course", "course_ref", help="End every session of this course (id or LMS id).")
@click.option("--platform", "platform_name", help="The course's platform, when ambiguous.")
def sessions_revoke(
    person_id: int | None, course_ref: str | None, platform_name: str | None
) -> None:
    """End sessions now: pages opened by earlier launches need a new launch."""
    from lti_tool.launch.identity import revoke_sessions

    if (person_id is None) == (course_ref is None):
        raise click.UsageError("give exactly one of --person ID or --course C")
    course = None
    if course_ref is not None:
        try:
            course = find_course(db.session, course_ref, platform_name)
        except CourseNotFound as exc:
            raise click.ClickException(str(exc)) from None
    ended = revoke_sessions(db.session, person_id=person_id, course=course)
    what = f"course {course.id}" if course else f"person {person_id}"
    db.session.commit()
    click.echo(f"sessions of {what} ended ({ended} enrollments)")


course_cli = AppGroup("course", help="Courses and the platform each belongs to.")


@course_cli.command("attach")
@click.option("--course", "course_ref", required=True, help="The course (tool id or LMS id).")
@click.option("--platform", "platform_name", required=True, help="The platform to give it to.")
def course_attach(course_ref: str, platform_name: str) -> None:
    """Give a course that arrived with no platform (logs, events) to a platform, with its
    learners (never a course of another platform, never to a platform that registered itself)."""
    platform = platforms.platform_named(db.session, platform_name)
    if platform is None:
        raise click.BadParameter(f"no platform named {platform_name!r}", param_hint="--platform")
    try:
        course = find_course(db.session, course_ref)
        merged = platforms.attach_course(db.session, course, platform)
    except (CourseNotFound, PlatformError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(
        f"course {course.id} ({course.lti_context_id}) now belongs to {platform.name!r}"
        + (f"; {merged} learners joined people the platform knew" if merged else "")
    )


@ingest_cli.command("tracking-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--platform", "platform_name", help="The platform the logs come from.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON, no progress.")
def ingest_tracking_logs_command(
    paths: tuple[str, ...], platform_name: str | None, as_json: bool
) -> None:
    """Ingest Open edX tracking logs (files, .gz files or folders); safe to repeat."""
    from lti_tool.tracking_logs.ingest import ingest_tracking_logs

    platform = _platform_option(platform_name)
    show_progress = not as_json and sys.stderr.isatty()
    seen = [0]

    def progress(lines: int) -> None:
        seen[0] += lines
        click.echo(f"\r{seen[0]:,} lines", nl=False, err=True)

    report = ingest_tracking_logs(db.session, paths, platform, progress if show_progress else None)
    if show_progress:
        click.echo("", err=True)
    summary = report.as_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"{summary['files']} files ({summary['files_unchanged']} unchanged, "
            f"{summary['files_unreadable']} unreadable), {summary['lines']} lines, "
            f"{summary['events_ingested']} events ingested, {summary['duplicates']} already known, "
            f"{summary['learners']} learners in {summary['courses']} courses"
        )
        for reason, count in summary["skipped"].items():
            click.echo(f"  skipped {count} ({reason.replace('_', ' ')})")
        for problem in summary["problems"]:
            click.echo(f"  {problem}")
        if summary["problems_not_shown"]:
            click.echo(f"  … and {summary['problems_not_shown']} more problems")
    if not report.read_anything:
        raise SystemExit(1)


@click.command("report")
@click.argument("name", type=click.Choice(sorted(REPORTS)))
@click.option(
    "--course", "course_ref", required=True, help="The tool's course id or the LMS's course id."
)
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option(
    "--cutoff-minutes",
    type=click.IntRange(min=1),
    default=None,
    help="time-spent: the idle cutoff in minutes (default 30).",
)
@with_appcontext
def report_command(
    name: str, course_ref: str, platform_name: str | None, fmt: str, cutoff_minutes: int | None
) -> None:
    """Print a report (KPI) for a course as JSON or CSV."""
    try:
        course = find_course(db.session, course_ref, platform_name)
    except CourseNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    report = REPORTS[name]
    kwargs = {"cutoff_minutes": cutoff_minutes} if cutoff_minutes and name == "time-spent" else {}
    rows = report.run(db.session, course, **kwargs)
    if fmt == "csv":
        click.echo(to_csv(rows, report.fields), nl=False)
    else:
        # orjson: the stdlib's indenting encoder is pure Python (0.2 s for 20,000 rows).
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    for group in (
        platform_cli,
        keys_cli,
        demo_cli,
        ingest_cli,
        course_cli,
        sessions_cli,
        report_command,
    ):
        app.cli.add_command(group)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(sync_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(data_cli)
    # Commands of other areas, each in its own module; importing one attaches its subcommands
    # to the groups above, and COMMANDS lists its own top-level groups.
    from lti_tool import cli_admin, cli_logs, cli_sources

    for module in (cli_sources, cli_logs, cli_admin):
        for command in module.COMMANDS:
            app.cli.add_command(command)


tokens_cli = AppGroup("tokens", help="API tokens for event sources and report readers.")


def _token_as_dict(row: Any) -> dict[str, Any]:
    from lti_tool.api.tokens import reads_all_platforms

    course = row.course
    platform = db.session.get(Platform, row.platform_id) if row.platform_id else None
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scope": row.scope,
        "course_id": row.course_id,
        "course": (course.lms_course_id or course.lti_context_id) if course else None,
        "platform_id": row.platform_id,
        "platform": platform.name if platform else None,
        "may_create_courses": bool(row.may_create_courses),
        "all_platforms": reads_all_platforms(row),
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


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
    from lti_tool.api.tokens import create_token

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
        try:
            course = find_course(db.session, course_ref, platform_name)
        except CourseNotFound as exc:
            raise click.ClickException(str(exc)) from exc
    platform = None
    if bind_platform:
        platform = platforms.platform_named(db.session, bind_platform)
        if platform is None:
            raise click.BadParameter(
                f"no platform named {bind_platform!r}", param_hint="--bind-platform"
            )
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
    from lti_tool.models import ApiToken

    rows = [_token_as_dict(t) for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))]
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
    from lti_tool.api.tokens import revoke_token

    if (name is None) == (token_id is None):
        raise click.UsageError("give exactly one of --name or --id")
    try:
        row = revoke_token(db.session, name=name, token_id=token_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"revoked token {row.id} ({row.name!r})")


sync_cli = AppGroup("sync", help="Bring LMS data in now (the scheduler also does it on its own).")


@sync_cli.command("run")
@click.option(
    "--course", "course_ref", required=True, help="The tool's course id or the LMS's course id."
)
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
@click.option(
    "--source",
    type=click.Choice(sorted(SOURCES)),
    default="nrps",
    show_default=True,
    help="What to sync: nrps (the roster by Names and Role Provisioning), canvas (the Canvas "
    "REST API) or openedx (the Open edX APIs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def sync_run(course_ref: str, platform_name: str | None, source: str, as_json: bool) -> None:
    """Run one sync of a course now and print the result; exit 1 if it failed."""
    from lti_tool.sync.runs import RunConflict, describe, run_as_dict, run_now

    try:
        course = find_course(db.session, course_ref, platform_name)
    except CourseNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        run = run_now(db.session, course, source, trigger="cli")
    except RunConflict as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(run_as_dict(run), indent=2))
    else:
        click.echo(describe(run), err=run.status != "succeeded")
    if run.status != "succeeded":
        raise SystemExit(1)


@sync_cli.command("history")
@click.option("--course", "course_ref", help="Only this course (tool or LMS course id).")
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sync_history(
    course_ref: str | None, platform_name: str | None, limit: int, as_json: bool
) -> None:
    """List recent sync runs: when, which course and source, status, counts, why it failed."""
    from lti_tool.models import SyncRun
    from lti_tool.sync.runs import describe, run_as_dict

    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if course_ref:
        try:
            course = find_course(db.session, course_ref, platform_name)
        except CourseNotFound as exc:
            raise click.ClickException(str(exc)) from exc
        query = query.where(SyncRun.course_id == course.id)
    runs = list(db.session.scalars(query))
    if as_json:
        click.echo(json.dumps([run_as_dict(r) for r in runs], indent=2))
        return
    if not runs:
        click.echo("no sync runs yet")
    for run in runs:
        click.echo(f"{run.queued_at:%Y-%m-%d %H:%M:%S}  {describe(run)}")


scheduler_cli = AppGroup(
    "scheduler", help="The scheduler process: run exactly one beside the web servers."
)


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until SIGTERM (syncs, queued runs).

    Settings (environment): SYNC_INTERVAL_MINUTES (60), SCHEDULER_QUEUE_SECONDS (15),
    SCHEDULER_LOCK_RETRY_SECONDS (10), SCHEDULER_ADVISORY_LOCK (1; 0 behind a
    transaction-pooling proxy), SCHEDULER_SHUTDOWN_SECONDS (20), SYNC_RUN_TIMEOUT_MINUTES (120).
    """
    from lti_tool.jobs.scheduler import SchedulerProcess, Settings, configure_logging

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app)
    try:
        settings = Settings.from_app(app)
    except ValueError as exc:
        raise click.ClickException(f"scheduler settings: {exc}") from exc
    raise SystemExit(SchedulerProcess(app, settings).run())


data_cli = AppGroup("data", help="Privacy requests: a learner's data, exported or deleted.")


def _person_option(person_id: int | None, identity: str | None, platform_name: str | None) -> int:
    """--person ID, or --identity KIND=VALUE (e.g. lti_sub=abc, openedx_username=jo)."""
    from lti_tool.models import Person, PersonIdentity

    if person_id is not None:
        if db.session.get(Person, person_id) is None:
            raise click.ClickException(f"no person with id {person_id}")
        return person_id
    if not identity or "=" not in identity:
        raise click.UsageError("give --person ID or --identity KIND=VALUE")
    kind, value = identity.split("=", 1)
    query = select(PersonIdentity.person_id).where(
        PersonIdentity.kind == kind, PersonIdentity.value == value
    )
    if platform_name:
        platform = db.session.scalar(select(Platform).where(Platform.name == platform_name))
        if platform is None:
            raise click.ClickException(f"no platform named {platform_name!r}")
        query = query.where(PersonIdentity.platform_id == platform.id)
    found = set(db.session.scalars(query))
    if not found:
        raise click.ClickException(f"nobody is known as {kind}={value}")
    if len(found) > 1:
        raise click.ClickException(f"{kind}={value} names several people: add --platform NAME")
    return found.pop()


@data_cli.command("export-learner")
@click.option("--person", "person_id", type=int, help="The tool's person id.")
@click.option("--identity", help="KIND=VALUE, e.g. lti_sub=abc or openedx_username=jo.")
@click.option("--platform", "platform_name", help="The platform, when the identity is ambiguous.")
def data_export_learner(
    person_id: int | None, identity: str | None, platform_name: str | None
) -> None:
    """Print everything the tool holds about one person, as JSON (for an access request)."""
    from lti_tool.data.privacy import export_person

    target = _person_option(person_id, identity, platform_name)
    click.echo(json.dumps(export_person(db.session, target), indent=2, ensure_ascii=False))


@data_cli.command("delete-learner")
@click.option("--person", "person_id", type=int, help="The tool's person id.")
@click.option("--identity", help="KIND=VALUE, e.g. lti_sub=abc or openedx_username=jo.")
@click.option("--platform", "platform_name", help="The platform, when the identity is ambiguous.")
@click.option("--yes", is_flag=True, help="Do it (without --yes, only say what would go).")
def data_delete_learner(
    person_id: int | None, identity: str | None, platform_name: str | None, yes: bool
) -> None:
    """Delete one person and every row about them, in every course and source."""
    from lti_tool.data.privacy import delete_person, export_person

    target = _person_option(person_id, identity, platform_name)
    if not yes:
        data = export_person(db.session, target)
        rows = {table: len(v) for table, v in data.items() if table != "person" and v}
        click.echo(
            f"would delete person {target} and {sum(rows.values())} rows: {rows}; "
            "add --yes to delete"
        )
        return
    counts = delete_person(db.session, target)
    audit.record(
        db.session,
        "learner_deleted",
        f"person {target}",
        details={table: n for table, n in counts.items() if n},
    )
    db.session.commit()
    deleted = {table: n for table, n in counts.items() if n}
    click.echo(f"deleted person {target}: {deleted}")


@data_cli.command("rebuild-rollups")
@click.option(
    "--course", "course_ref", required=True, help="The tool's course id or the LMS's course id."
)
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
def data_rebuild_rollups(course_ref: str, platform_name: str | None) -> None:
    """Recompute a course's rollups from its stored events (after an upgrade adds one)."""
    from lti_tool.activity.rollups import rebuild_learners
    from lti_tool.models import ActivityBlock

    try:
        course = find_course(db.session, course_ref, platform_name)
    except CourseNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    learners = list(
        db.session.scalars(
            select(ActivityBlock.person_id).where(ActivityBlock.course_id == course.id).distinct()
        )
    )
    rebuild_learners(db.session, course.id, learners)
    db.session.commit()
    click.echo(f"rebuilt the rollups of {len(learners)} learners of course {course.id}")
