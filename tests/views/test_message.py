"""Message students who… (kpis.recipients, views.message) on the hand-built class: each filter
picks exactly the learners it names, the page gives them in BCC or as CSV through the learners
table's e-mail page, the access log gets its row, and only staff may ask.

The class (tests/helpers/classes.py, no roster sync: L, seen only in logs, counts): A, B, C, D,
E, L. Out of every figure: F (dropped), T (test student), S (staff), O (observer).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import recipients
from lti_tool.kpis.roster import class_member_ids
from lti_tool.models import AccessLog, Assignment, Course, CourseModule, Submission, Video
from lti_tool.views.course import choice_options
from tests.helpers.platform import LEARNER, FakePlatform, session_token


@pytest.fixture
def klass(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """The seeded class with video lengths: v1 (20 s, which A watched to the end), v2 (600 s,
    of which A saw 20 s); and a handed-in HW 2 without a score for C."""
    with app.app_context():
        db.session.add_all(
            [
                Video(course_id=1, video_id="v1", duration=20, display_name="Intro"),
                Video(course_id=1, video_id="v2", duration=600, display_name="Forces"),
            ]
        )
        hw2 = db.session.scalar(select(Assignment).where(Assignment.name == "HW 2"))
        db.session.add(
            Submission(assignment_id=hw2.id, person_id=seeded["C"], workflow_state="submitted")
        )
        db.session.commit()
    return seeded


def _ids(klass: dict[str, Any], letters: str) -> set[int]:
    return {klass[letter] for letter in letters}


def _item(model: Any, name: str) -> Any:
    return db.session.scalar(select(model).where(model.name == name))


@pytest.mark.parametrize(
    ("assignment", "who", "below", "unit", "expected"),
    [
        # HW 1: A 9, B 4 (late), C 7, E 6 (excused), L 2 (late), D nothing; T is out
        ("HW 1", "not_submitted", None, "points", "D"),
        ("HW 1", "late", None, "points", "BL"),
        ("HW 1", "below", 5, "points", "BL"),
        ("HW 1", "below", 80, "percent", "BCL"),  # 10 points possible: 90, 40, 70, 20 %
        ("HW 1", "below", 2, "points", ""),  # strictly below
        # HW 2: A 10; B and D missing; C handed in (no score yet); E and L nothing
        ("HW 2", "not_submitted", None, "points", "BDEL"),
        ("HW 2", "below", 100, "percent", ""),  # A has full marks; the others no score
    ],
)
def test_assignment_filters(
    app: Flask,
    klass: dict[str, Any],
    assignment: str,
    who: str,
    below: float | None,
    unit: str,
    expected: str,
) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        people = class_member_ids(db.session, course)
        assert people == _ids(klass, "ABCDEL")
        found = recipients.assignment_recipients(
            db.session, course, _item(Assignment, assignment), who, people, below, unit
        )
    assert found == _ids(klass, expected)


@pytest.mark.parametrize(
    ("video", "who", "expected"),
    [
        ("v1", "not_opened", "BCDEL"),  # A watched it (and S, who is staff)
        ("v1", "not_completed", "BCDEL"),  # A reached its end
        ("v2", "not_opened", "BCDEL"),
        ("v2", "not_completed", "ABCDEL"),  # A saw 20 s of 600
    ],
)
def test_video_filters(
    app: Flask, klass: dict[str, Any], video: str, who: str, expected: str
) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        people = class_member_ids(db.session, course)
        found = recipients.video_recipients(db.session, course, video, who, people)
    assert found == _ids(klass, expected)


@pytest.mark.parametrize(
    ("module", "who", "expected"),
    [
        # Week 1 (4 items): A 4, B 1, C 4, E 3; D and L nothing (T is out)
        ("Week 1", "not_started", "DL"),
        ("Week 1", "not_completed", "BDEL"),
        # Week 2 (2 items): A 2, C 1
        ("Week 2", "not_started", "BDEL"),
        ("Week 2", "not_completed", "BCDEL"),
    ],
)
def test_module_filters(
    app: Flask, klass: dict[str, Any], module: str, who: str, expected: str
) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        people = class_member_ids(db.session, course)
        found = recipients.module_recipients(
            db.session, course, _item(CourseModule, module), who, people
        )
    assert found == _ids(klass, expected)


def _post(client: FlaskClient, token: str, **form: Any) -> Any:
    return client.post("/courses/1/message", data={"t": token, **form})


def test_the_mailto_carries_them_in_bcc_and_the_access_log_gets_its_row(
    app: Flask, client: FlaskClient, klass: dict[str, Any]
) -> None:
    with app.app_context():
        hw1 = _item(Assignment, "HW 1").id
    # Scored below 80 % on HW 1: B, C (with addresses) and L (none shared).
    response = _post(
        client, klass["t"], kind="assignment", item=hw1, who="below", below="80", unit="percent"
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="mailto:?bcc=b@example.edu,c@example.edu"' in html
    assert "Learners who scored below 80 % on HW 1." in html
    assert 'id="without-email">No e-mail address was shared for 1 of them' in html
    # The page's own session token (renewed as the request goes), not the one it was sent.
    assert re.search(r'href="/courses/1/grades\?t=[^"&]+">Back to the grades</a>', html)
    with app.app_context():
        rows = db.session.scalars(select(AccessLog).where(AccessLog.course_id == 1)).all()
        assert [(r.action, r.subjects, r.viewer_person_id) for r in rows] == [
            ("email_addresses", 2, klass["viewer"])
        ]


def test_csv_and_the_other_pages(app: Flask, client: FlaskClient, klass: dict[str, Any]) -> None:
    with app.app_context():
        week1 = _item(CourseModule, "Week 1").id
    # Not completed Week 1: B, D, E, L; as CSV, those with an address (B, E).
    response = _post(
        client, klass["t"], kind="module", item=week1, who="not_completed", format="csv"
    )
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True) == (
        "name,email,learner,sections\nBob B,b@example.edu,uB,Sec 1\nEve E,e@example.edu,uE,\n"
    )
    # Haven't opened v1, of section Sec 1 (A and B): B.
    html = _post(
        client, klass["t"], kind="video", item="v1", who="not_opened", section="Sec 1"
    ).get_data(as_text=True)
    assert 'href="mailto:?bcc=b@example.edu"' in html
    assert "Learners who haven&#39;t opened Intro (section Sec 1)." in html
    with app.app_context():
        logged = db.session.scalars(
            select(AccessLog.subjects).where(AccessLog.action == "email_addresses")
        ).all()
    assert sorted(logged) == [1, 2]


def test_nobody_matches(client: FlaskClient, klass: dict[str, Any], app: Flask) -> None:
    with app.app_context():
        hw1 = _item(Assignment, "HW 1").id
    html = _post(client, klass["t"], kind="assignment", item=hw1, who="below", below="1").get_data(
        as_text=True
    )
    assert 'id="nobody">No learner matches.' in html and "mailto:?bcc" not in html


def test_bad_requests(app: Flask, client: FlaskClient, klass: dict[str, Any]) -> None:
    with app.app_context():
        hw1 = _item(Assignment, "HW 1")
        hw1.points_possible = None
        db.session.commit()
        hw1_id = hw1.id
    token = klass["t"]
    assert _post(client, token, kind="assignment", item=hw1_id, who="gone").status_code == 400
    assert _post(client, token, kind="assignment", item=hw1_id, who="below").status_code == 400
    percent = _post(
        client, token, kind="assignment", item=hw1_id, who="below", below="50", unit="percent"
    )
    assert percent.status_code == 400
    assert _post(client, token, kind="assignment", item="999", who="late").status_code == 404
    assert _post(client, token, kind="video", item="nope", who="not_opened").status_code == 404
    assert _post(client, token, kind="page", item="1", who="x").status_code == 400


def test_a_learner_gets_403(
    app: Flask, client: FlaskClient, platform: FakePlatform, klass: dict[str, Any]
) -> None:
    learner = session_token(platform.launch(client, roles=LEARNER, sub="learner-9"))
    with app.app_context():
        hw1 = _item(Assignment, "HW 1").id
    response = _post(client, learner, kind="assignment", item=hw1, who="late")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalars(select(AccessLog)).all() == []


def test_the_pages_have_the_forms(client: FlaskClient, klass: dict[str, Any]) -> None:
    token = klass["t"]
    grades_page = client.get(f"/courses/1/grades?t={token}").get_data(as_text=True)
    assert 'action="/courses/1/message"' in grades_page
    assert '<option value="below">scored below</option>' in grades_page
    assert ">HW 1</option>" in grades_page
    videos = client.get(f"/courses/1/videos?t={token}").get_data(as_text=True)
    assert '<input type="hidden" name="kind" value="video">' in videos
    assert '<option value="v2">Forces</option>' in videos
    content = client.get(f"/courses/1/content?t={token}&section=Sec+1").get_data(as_text=True)
    assert '<input type="hidden" name="section" value="Sec 1">' in content
    assert ">Week 2</option>" in content and "Gone" not in content


def test_the_forms_options_escape_values_and_names_and_select_the_chosen() -> None:
    options = choice_options([("a&b", "Intro <1>"), (7, 'Quiz "B"'), ("c", "C")], chosen=7)
    assert str(options) == (
        '<option value="a&amp;b">Intro &lt;1&gt;</option>'
        '<option value="7" selected>Quiz &#34;B&#34;</option>'
        '<option value="c">C</option>'
    )
