"""A learner's Open edX username is kept whichever event, launch or sync brings it first.

Open edX logs server events with an empty `username` (the user only in `context.user_id` or
`event.user_id`), "anonymous" on some enrollment events and "unknown" on task events; an
instructor's batch enrollment logs the instructor as `username` and the learner in
`event.user_id`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.activity.blocks import stored_events
from lti_tool.extensions import db
from lti_tool.models import Person, PersonIdentity
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, at, ingest, report, write


def line(stamp: str, name: str, username: str, user_id: int | None, **extra: Any) -> str:
    """A server tracking-log line as Open edX writes it."""
    event = extra.pop("event", {})
    return json.dumps(
        {
            "username": username,
            "event_type": name,
            "event_source": extra.pop("source", "server"),
            "time": at(stamp),
            "event": event,
            "context": {"course_id": COURSE, "user_id": user_id, "org_id": "edX", "path": "/x"},
            "host": "lms.example.com",
            "page": None,
        }
    )


def first_lines_without_a_username() -> list[str]:
    """Learner 6: a server event with "", an enrollment with "anonymous", then a username."""
    return [
        line("2026-03-02 10:00:00", "edx.grades.problem.submitted", "", 6),
        line(
            "2026-03-02 10:01:00",
            "edx.course.enrollment.activated",
            "anonymous",
            None,
            event={"user_id": 6, "course_id": COURSE, "mode": "audit"},
        ),
        line("2026-03-02 10:05:00", "problem_check", "", 6),
        line("2026-03-02 10:10:00", "/courses/x/courseware", "bmtcril", 6),
    ]


def identities(app: Flask) -> set[tuple[int, str, str]]:
    with app.app_context():
        return {(i.person_id, i.kind, i.value) for i in db.session.scalars(select(PersonIdentity))}


def people(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Person)) or 0


def test_the_username_of_a_later_line_names_the_learner(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(tmp_path / "tracking.log", first_lines_without_a_username())
    assert ingest(runner, log)["events_ingested"] == 4
    [row] = report(runner, "time-spent")
    assert row["learner"] == "bmtcril"  # not "6"
    found = identities(app)
    assert {(k, v) for _, k, v in found} == {
        ("openedx_user_id", "6"),
        ("openedx_username", "bmtcril"),
    }
    # Again, and under another name (logrotate): the same one person, nothing doubled.
    ingest(runner, log)
    shutil.copy(log, tmp_path / "tracking.log.1")
    ingest(runner, tmp_path / "tracking.log.1")
    assert people(app) == 1 and identities(app) == found
    [row] = report(runner, "time-spent")
    assert (row["learner"], row["events"]) == ("bmtcril", 3)  # enrollments are not activity


def test_a_username_in_a_later_file_joins_the_learner_known_by_id(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    early = first_lines_without_a_username()[:3]
    ingest(runner, write(tmp_path / "a.log", early))
    assert report(runner, "time-spent")[0]["learner"] == "6"
    later = [line("2026-03-03 09:00:00", "/courses/x/courseware", "bmtcril", 6)]
    ingest(runner, write(tmp_path / "b.log", later))
    assert people(app) == 1
    rows = report(runner, "time-spent")
    assert {r["learner"] for r in rows} == {"bmtcril"}, rows


def test_an_openedx_launch_with_that_username_sees_the_logged_activity(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    platform = FakePlatform(name="Open edX")
    platform.register(app)
    log = write(tmp_path / "tracking.log", first_lines_without_a_username())
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--platform", "Open edX"])
    assert result.exit_code == 0, result.output
    client = https_client(app)
    context = {CLAIM + "context": {"id": COURSE, "title": "Demo", "label": COURSE}}
    launched = platform.launch(
        client, roles=LEARNER, sub="5f0c1e9a-3b7d", preferred_username="bmtcril", **context
    )
    page = follow(client, launched)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No activity recorded yet" not in html
    owners = {p for p, _, _ in identities(app)}
    assert len(owners) == 1  # the launch and the logs are one learner
    with app.app_context():
        assert {e.person_id for e in stored_events(db.session)} == owners


def test_the_launch_first_then_logs_whose_first_line_has_no_username(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    platform = FakePlatform(name="Open edX")
    platform.register(app)
    client = https_client(app)
    context = {CLAIM + "context": {"id": COURSE, "title": "Demo", "label": COURSE}}
    assert (
        platform.launch(
            client, roles=LEARNER, sub="5f0c1e9a", preferred_username="bmtcril", **context
        ).status_code
        == 303
    )
    # The first file names learner 6 by id only; the second brings the username.
    early = first_lines_without_a_username()[:3]
    for name, lines in (("a.log", early), ("b.log", first_lines_without_a_username()[3:])):
        result = runner.invoke(
            args=[
                "ingest",
                "tracking-logs",
                str(write(tmp_path / name, lines)),
                "--platform",
                "Open edX",
            ]
        )
        assert result.exit_code == 0, result.output
    assert people(app) == 1
    kinds = {(k, v) for _, k, v in identities(app)}
    assert kinds == {
        ("lti_sub", "5f0c1e9a"),
        ("openedx_user_id", "6"),
        ("openedx_username", "bmtcril"),
    }


def test_an_instructors_batch_enrollment_does_not_give_the_learner_their_username(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    lines = [
        # The instructor (user 2, "teacher") enrolls learner 9: blank context user, the learner
        # in the payload, the instructor's username at the top.
        line(
            "2026-03-02 10:00:00",
            "edx.course.enrollment.activated",
            "teacher",
            None,
            event={"user_id": 9, "course_id": COURSE, "mode": "audit"},
        ),
        line("2026-03-02 10:02:00", "/courses/x/courseware", "teacher", 2),
    ]
    ingest(runner, write(tmp_path / "t.log", lines))
    by_person: dict[int, set[tuple[str, str]]] = {}
    for person, kind, value in identities(app):
        by_person.setdefault(person, set()).add((kind, value))
    assert sorted(by_person.values(), key=len) == [
        {("openedx_user_id", "9")},
        {("openedx_user_id", "2"), ("openedx_username", "teacher")},
    ]
