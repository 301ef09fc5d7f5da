"""`flask course …`: courses and the platform each belongs to."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lti_tool import platforms
from lti_tool.cli.options import named_platform
from lti_tool.extensions import db
from lti_tool.kpis.reports import CourseNotFound, find_course
from lti_tool.platforms import PlatformError

course_cli = AppGroup("course", help="Courses and the platform each belongs to.")


@course_cli.command("attach")
@click.option("--course", "course_ref", required=True, help="The course (tool id or LMS id).")
@click.option("--platform", "platform_name", required=True, help="The platform to give it to.")
def course_attach(course_ref: str, platform_name: str) -> None:
    """Give a course that arrived with no platform (logs, events) to a platform, with its
    learners (never a course of another platform, never to a platform that registered itself)."""
    platform = named_platform(platform_name)
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
