"""`flask demo load`: the development LMS and the demo course."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data for the embedded default.")


@demo_cli.command("load")
def demo_load() -> None:
    """Register the development platform and load the demo course (development only)."""
    if not current_app.config.get("DEV_PLATFORM_ENABLED"):
        raise click.ClickException("demo data needs the development configuration")
    # Development code, imported only in the development configuration.
    from lti_tool.dev.demo import load_dev_demo

    course, events = load_dev_demo()
    click.echo(f"demo course {course.title!r} loaded (course id {course.id})")
    if events is not None:
        click.echo(f"demo activity: {events} events over the last six weeks")
