"""The student's own page: completion and current score beside the class (above the privacy
floor), upcoming due items, switched off by the course's student views; no other learner named."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import course_settings
from lti_tool.models import (
    Assignment,
    Course,
    CourseModule,
    LmsLearnerStats,
    ModuleProgress,
    Person,
)
from lti_tool.models.types import utcnow
from tests.helpers.classes import build_class
from tests.helpers.platform import LEARNER, FakePlatform, follow


def _student(client: FlaskClient, platform: FakePlatform) -> str:
    page = follow(client, platform.launch(client, roles=LEARNER, sub="learner-9"))
    return re.sub(r"\s+", " ", page.get_data(as_text=True))


def _seed(app: Flask, client: FlaskClient, platform: FakePlatform, c_score: bool) -> None:
    platform.launch(client, roles=LEARNER, sub="learner-9")  # creates the course and the person
    with app.app_context():
        course = db.session.get(Course, 1)
        people = build_class(course)
        me = db.session.scalar(select(Person).where(Person.email == "sam@example.edu"))
        week1 = db.session.scalar(select(CourseModule).where(CourseModule.name == "Week 1"))
        db.session.add(
            ModuleProgress(module_id=week1.id, person_id=me.id, items_required=4, items_done=4)
        )
        db.session.add(
            LmsLearnerStats(course_id=1, person_id=me.id, source="canvas", current_score=60.0)
        )
        if c_score:
            db.session.add(
                LmsLearnerStats(
                    course_id=1, person_id=people["C"].id, source="canvas", current_score=90.0
                )
            )
        db.session.add(
            Assignment(
                course_id=1,
                lms_assignment_id="h3",
                name="HW 3",
                points_possible=20,
                due_at=utcnow() + timedelta(days=3),
            )
        )
        # the default settings of build_class's course, with every student view on
        course_settings.save(db.session, course, course_settings.Settings())
        db.session.commit()


def test_completion_score_and_due_items_beside_the_class(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    _seed(app, client, platform, c_score=True)
    html = _student(client, platform)
    # mine: 4 of 6 items. Class shares (A..L and me): 0, 0, 1/6, 3/6, 4/6, 5/6, 1:
    # q1 at 1.5 -> 1/12 (8 %), median 3/6 (50 %), q3 at 4.5 -> 0.75 (75 %)
    assert "You have done <strong>4 of 6</strong> items" in html and "(67 %)" in html
    assert "The class: median 50 %, middle half 8\u201375 %." in html
    # scores 40 (B), 60 (me), 70 (E), 85 (A), 90 (C): quartiles 60, 70, 85
    assert "<strong>60 %</strong>" in html
    assert "The class: median 70.0 %, middle half 60.0\u201385.0 %." in html
    # What is to come first, with its days left; past work without a submission after it
    work = html[
        html.index('id="table-my-due"') : html.index("</table>", html.index('id="table-my-due"'))
    ]
    assert work.index("<td>HW 3</td>") < work.index("<td>HW 1</td>")
    assert re.search(r"<td>HW 3</td>.*?due in 3 days", work)
    assert re.search(r"<td>HW 1</td>.*?past due, not submitted", work)
    for name in ("Ada A", "Bob B", "Cy C", "Eve E", "a@example.edu", "uA"):
        # Whole words only: a session token in the page's links may contain "uA".
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", html), name


def test_class_scores_hidden_below_the_floor(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    _seed(app, client, platform, c_score=False)
    html = _student(client, platform)
    assert "<strong>60 %</strong>" in html  # 4 scores (A, B, E, me): below the floor of 5
    section = html[html.index('id="my-score"') :]
    assert section.index("Class figures are hidden: fewer than 5 learners") < section.index(
        "</section>"
    )


def test_switched_off_views_are_not_shown(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    _seed(app, client, platform, c_score=True)
    with app.app_context():
        course_settings.save(
            db.session, db.session.get(Course, 1), course_settings.Settings(student_views=("time",))
        )
        db.session.commit()
    html = _student(client, platform)
    for section in ('id="my-completion"', 'id="my-score"', 'id="my-due"'):
        assert section not in html
