"""`flask sources …`: the tracking-log folders ingested nightly, and every source's state."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import audit, platforms
from lti_tool.cli.options import named_platform
from lti_tool.extensions import db
from lti_tool.models import DataSource, Platform

sources_cli = AppGroup("sources", help="Data sources: tracking-log folders (and the LMS APIs).")


@sources_cli.command("add-log-folder")
@click.option("--platform", "platform_name", required=True, help="The platform the logs are of.")
@click.argument("path")
def add_log_folder_command(platform_name: str, path: str) -> None:
    """Ingest the tracking logs in PATH (absolute, under LOG_FOLDER_ROOTS) every night.

    LOG_FOLDER_ROOTS (environment, comma- or colon-separated absolute folders, none by default)
    names where log folders may be: e.g. LOG_FOLDER_ROOTS=/var/log/tracking.
    """
    try:
        source, created = platforms.add_log_folder(db.session, named_platform(platform_name), path)
    except platforms.PlatformError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record(
        db.session,
        "source_added" if created else "source_changed",
        f"log folder {source.id}",
        details={"location": source.location},
        platform_id=source.platform_id,
    )
    db.session.commit()
    verb = "added" if created else "already there, enabled"
    click.echo(f"log folder {source.id} {verb}: {source.location} ({source.last_check})")


@sources_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_sources(as_json: bool) -> None:
    """List the data sources of every platform (secrets are never shown)."""
    rows = db.session.execute(
        select(DataSource, Platform.name)
        .join(Platform, Platform.id == DataSource.platform_id)
        .order_by(Platform.name, DataSource.kind, DataSource.id)
    ).all()
    found = [
        {
            "id": source.id,
            "platform": platform_name,
            "kind": source.kind,
            "location": source.location,
            "client_id": source.client_id,
            "has_secret": bool(source.secret_encrypted),
            "enabled": source.enabled,
            "last_checked_at": source.last_checked_at.isoformat()
            if source.last_checked_at
            else None,
            "last_check": source.last_check,
        }
        for source, platform_name in rows
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no data sources (add a log folder with `flask sources add-log-folder`)")
    for item in found:
        state = "enabled" if item["enabled"] else "disabled"
        click.echo(
            f"{item['id']}  {item['platform']}  {item['kind']}  {item['location']}  {state}"
            + (f"  — {item['last_check']}" if item["last_check"] else "")
        )


@sources_cli.command("remove")
@click.option("--id", "source_id", type=int, required=True, help="The source's id (see list).")
def remove_source(source_id: int) -> None:
    """Forget a data source (the data already ingested stays)."""
    source = db.session.get(DataSource, source_id)
    if source is None:
        raise click.ClickException(f"no data source with id {source_id}")
    audit.record(
        db.session,
        "source_changed",
        f"{source.kind} {source.id}",
        details={"removed": source.location},
        platform_id=source.platform_id,
    )
    db.session.delete(source)
    db.session.commit()
    click.echo(f"removed data source {source_id} ({source.kind} {source.location})")


@sources_cli.command("ingest-logs")
def ingest_logs_now() -> None:
    """Ingest every registered log folder now (what the nightly job does)."""
    from lti_tool.tracking_logs.folders import ingest_log_folders

    click.echo(ingest_log_folders(db.session, workers=None))
