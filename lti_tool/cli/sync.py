"""`flask sync …`: LMS syncs run now, and their history."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool.cli.options import named_course
from lti_tool.extensions import db
from lti_tool.jobs.queue import describe, run_as_dict
from lti_tool.models import SyncRun
from lti_tool.models.sync import SOURCES

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
    from lti_tool.jobs.runs import RunConflict, run_now

    course = named_course(course_ref, platform_name)
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

    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if course_ref:
        course = named_course(course_ref, platform_name)
        query = query.where(SyncRun.course_id == course.id)
    runs = list(db.session.scalars(query))
    if as_json:
        click.echo(json.dumps([run_as_dict(r) for r in runs], indent=2))
        return
    if not runs:
        click.echo("no sync runs yet")
    for run in runs:
        click.echo(f"{run.queued_at:%Y-%m-%d %H:%M:%S}  {describe(run)}")
