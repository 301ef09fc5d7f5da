"""`flask ingest …`: activity data brought in by hand."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import platforms
from lti_tool.cli.options import named_platform
from lti_tool.extensions import db
from lti_tool.models import Platform
from lti_tool.platforms import PlatformError

ingest_cli = AppGroup("ingest", help="Bring activity data in.")


def _platform_option(name: str | None) -> Platform | None:
    """--platform NAME, else the only platform there is, else none (standalone courses)."""
    if name:
        return named_platform(name)
    try:
        return platforms.platform_for_unlabelled_data(db.session)
    except PlatformError as exc:
        names = ", ".join(db.session.scalars(select(Platform.name).order_by(Platform.name)))
        raise click.UsageError(f"{exc}: add --platform NAME (one of: {names})") from None


@ingest_cli.command("tracking-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--platform", "platform_name", help="The platform the logs come from.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON, no progress.")
@click.option(
    "--reprocess",
    is_flag=True,
    help="Read files already ingested again from their start, to add what the store keeps "
    "since they were read (problem answers, enrollment modes); no event is stored twice.",
)
def ingest_tracking_logs_command(
    paths: tuple[str, ...], platform_name: str | None, as_json: bool, reprocess: bool
) -> None:
    """Ingest Open edX tracking logs (files, .gz files or folders); safe to repeat."""
    from lti_tool.tracking_logs.ingest import ingest_tracking_logs

    platform = _platform_option(platform_name)
    show_progress = not as_json and sys.stderr.isatty()
    seen = [0]

    def progress(lines: int) -> None:
        seen[0] += lines
        click.echo(f"\r{seen[0]:,} lines", nl=False, err=True)

    report = ingest_tracking_logs(
        db.session, paths, platform, progress if show_progress else None, reprocess=reprocess
    )
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
            f"{summary['details_added']} given the details they lacked, "
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
