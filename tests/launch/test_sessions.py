"""Sessions that end (issue 14, item 2): an absolute lifetime from the launch, the enrollment
checked on every request, revocation, and pseudonyms from their own key."""

from __future__ import annotations

import hashlib
import time

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, update

from lti_tool.extensions import db
from lti_tool.models import AdminAudit, Enrollment, ToolSetting
from lti_tool.people.pseudonyms import pseudonym_key
from tests.helpers.client import https_client
from tests.helpers.platform import INSTRUCTOR, LEARNER, FakePlatform, session_token

STAFF_PAGE = "/courses/1/?t="


def launched_token(app: Flask, platform: FakePlatform, roles: list[str], sub: str = "u1") -> str:
    response = platform.launch(https_client(app), roles=roles, sub=sub)
    assert response.status_code == 303, response.get_data(as_text=True)
    return session_token(response)


def status(app: Flask, path: str) -> int:
    return app.test_client().get(path, base_url="https://tool.test").status_code


def handed_on(app: Flask, token: str) -> str:
    """The token a staff page puts in its links (the next page's)."""
    html = app.test_client().get(STAFF_PAGE + token, base_url="https://tool.test")
    text = html.get_data(as_text=True)
    return text.split("/courses/1/learners?t=")[1].split('"')[0].split("&")[0]


def test_a_session_ends_at_its_absolute_lifetime_from_the_launch(
    app: Flask, platform: FakePlatform
) -> None:
    app.config["SESSION_TOKEN_MAX_AGE"] = 3
    first = launched_token(app, platform, INSTRUCTOR)
    time.sleep(1.5)
    second = handed_on(app, first)  # a page visited later hands on a token…
    assert second != first
    time.sleep(2)
    # …that ends when the launch's does: 3.5 s after the launch, neither opens a page.
    assert status(app, STAFF_PAGE + first) == 403
    assert status(app, STAFF_PAGE + second) == 403


def test_a_relaunch_as_a_learner_or_a_drop_ends_staff_pages_at_once(
    app: Flask, platform: FakePlatform
) -> None:
    staff = launched_token(app, platform, INSTRUCTOR)
    assert status(app, STAFF_PAGE + staff) == 200
    learner = launched_token(app, platform, LEARNER)  # the same person, now a learner
    assert status(app, STAFF_PAGE + staff) == 403
    assert status(app, "/courses/1/me?t=" + learner) == 200
    with app.app_context():
        db.session.execute(update(Enrollment).values(status="inactive"))  # dropped by a sync
        db.session.commit()
    assert status(app, "/courses/1/me?t=" + learner) == 403
    page = app.test_client().get("/courses/1/me?t=" + learner, base_url="https://tool.test")
    assert "no longer enrolled" in page.get_data(as_text=True)


def test_sessions_revoked_by_person_or_course(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    staff = launched_token(app, platform, INSTRUCTOR, sub="teacher")
    learner = launched_token(app, platform, LEARNER, sub="student")
    with app.app_context():
        teacher_id = db.session.scalar(
            select(Enrollment.person_id).where(Enrollment.course_role == "staff")
        )
    result = runner.invoke(args=["sessions", "revoke", "--person", str(teacher_id)])
    assert result.exit_code == 0, result.output
    assert status(app, STAFF_PAGE + staff) == 403
    assert status(app, "/courses/1/me?t=" + learner) == 200  # another person's session stays
    time.sleep(0.01)
    again = launched_token(app, platform, INSTRUCTOR, sub="teacher")
    assert status(app, STAFF_PAGE + again) == 200  # a new launch opens the course again
    course = runner.invoke(args=["sessions", "revoke", "--course", "course-ctx-1"])
    assert course.exit_code == 0, course.output
    assert status(app, STAFF_PAGE + again) == 403
    assert status(app, "/courses/1/me?t=" + learner) == 403
    both = runner.invoke(args=["sessions", "revoke", "--person", "1", "--course", "1"])
    assert both.exit_code == 2
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AdminAudit.target).where(AdminAudit.action == "sessions_revoked")
            )
        )
    assert rows == [f"person {teacher_id}", "course 1"]


def test_pseudonyms_survive_a_new_secret_key(app: Flask) -> None:
    with app.test_request_context():
        first = pseudonym_key()
        # The key kept on first use is the one pseudonyms were derived from until now.
        old = hashlib.sha256(b"lti_tool pseudonyms:" + str(app.secret_key).encode()).digest()
        assert first == old
        app.secret_key = app.config["SECRET_KEY"] = "a rotated secret key"
        app.extensions.pop("pseudonym_key")  # a new process
        assert pseudonym_key() == first
        assert db.session.get(ToolSetting, "pseudonym_key") is not None
        app.config["PSEUDONYM_KEY"] = "chosen by the operator"
        assert pseudonym_key() != first
