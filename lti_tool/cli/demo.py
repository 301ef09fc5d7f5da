"""`flask demo load`: the development platform and the demo course."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import ActivityBlock

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
