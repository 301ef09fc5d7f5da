"""`flask sessions …`: course sessions opened by launches."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lti_tool.cli.options import named_course
from lti_tool.extensions import db
from lti_tool.launch.identity import revoke_sessions

sessions_cli = AppGroup("sessions", help="Course sessions opened by launches.")


@sessions_cli.command("revoke")
@click.option("--person", "person_id", type=int, help="End every session of this person.")
@click.option("--course", "course_ref", help="End every session of this course (id or LMS id).")
@click.option("--platform", "platform_name", help="The course's platform, when ambiguous.")
def sessions_revoke(
    person_id: int | None, course_ref: str | None, platform_name: str | None
) -> None:
    """End sessions now: pages opened by earlier launches need a new launch."""

    if (person_id is None) == (course_ref is None):
        raise click.UsageError("give exactly one of --person ID or --course C")
    course = None
    if course_ref is not None:
        course = named_course(course_ref, platform_name)
    ended = revoke_sessions(db.session, person_id=person_id, course=course)
    what = f"course {course.id}" if course else f"person {person_id}"
    db.session.commit()
    click.echo(f"sessions of {what} ended ({ended} enrollments)")
