"""What the commands' shared options name: a platform, a course; a click error when nothing."""

from __future__ import annotations

import click

from lti_tool import platforms
from lti_tool.extensions import db
from lti_tool.kpis.reports import CourseNotFound, find_course
from lti_tool.models import Course, Platform


def named_platform(name: str, param_hint: str = "--platform") -> Platform:
    """The platform called NAME; a usage error on the option when there is none."""
    platform = platforms.platform_named(db.session, name)
    if platform is None:
        raise click.BadParameter(f"no platform named {name!r}", param_hint=param_hint)
    return platform


def named_course(course_ref: str, platform_name: str | None = None) -> Course:
    """The course of --course (the tool's or the LMS's id, on --platform when ambiguous)."""
    try:
        return find_course(db.session, course_ref, platform_name)
    except CourseNotFound as exc:
        raise click.ClickException(str(exc)) from None
