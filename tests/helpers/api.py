"""The event API's helpers: lab messages, courses by key, tokens made by `flask tokens create`
and sent as bearer headers, the events stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool import platforms
from lti_tool.activity.blocks import stored_events
from lti_tool.extensions import db
from lti_tool.models import Course

LAB_COURSE = "course-v1:Lab+Physics+2026"
OTHER_COURSE = "course-v1:Lab+Chemistry+2026"


def ms(stamp: str) -> int:
    """Epoch milliseconds of a UTC time written as 'YYYY-MM-DD HH:MM:SS'."""
    return int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() * 1000)


def lab(
    user: str = "alice",
    stamp: str = "2026-03-02 10:00:00",
    exp: str = "pendulum",
    payload: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One remote-lab log message."""
    return {
        "user": user,
        "t": ms(stamp),
        "type": "log",
        "exp": exp,
        "payload": payload or {},
        **extra,
    }


def add_platforms(app: Flask, *names: str) -> list[int]:
    """Platforms by name (each its own issuer); returns their ids."""
    with app.app_context():
        rows = [
            platforms.add_platform(db.session, name, f"https://{name.lower()}.example.edu")
            for name in names
        ]
        db.session.commit()
        return [row.id for row in rows]


def add_course(app: Flask, key: str, platform_id: int | None = None) -> int:
    """A course the tool knows, keyed by its LMS course id; returns the tool's id."""
    with app.app_context():
        course = Course(platform_id=platform_id, lti_context_id=key, lms_course_id=key, title=key)
        db.session.add(course)
        db.session.commit()
        return course.id


def make_token(
    runner: FlaskCliRunner,
    name: str,
    scope: str = "events:write",
    course: str | None = None,
    bind_platform: str | None = None,
    may_create_courses: bool = False,
) -> str:
    """A token made by `flask tokens create` (stdout holds only the token).

    A reports:read token bound to nothing is made with --all-platforms, which it needs: the
    readers of these tests read whichever course they are given.
    """
    args = ["tokens", "create", "--name", name, "--scope", scope]
    if course is not None:
        args += ["--course", course]
    if bind_platform is not None:
        args += ["--bind-platform", bind_platform]
    if may_create_courses:
        args.append("--may-create-courses")
    if scope == "reports:read" and course is None and bind_platform is None:
        args.append("--all-platforms")
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_events(client: FlaskClient, token: str, body: Any) -> Any:
    return client.post("/api/v1/events", json=body, headers=bearer(token))


def event_count(app: Flask, **where: Any) -> int:
    with app.app_context():
        events = stored_events(db.session)
        return sum(all(getattr(e, k) == v for k, v in where.items()) for e in events)
