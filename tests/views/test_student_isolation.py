"""A student's page holds nothing of another learner's (issue 14, item 10: pinned).

Two learners with different days, videos, module progress, scores and due dates; with two
learners the class figures are below the privacy floor, so nothing on A's page may come from B.
Dropping the person filter from any of the page's queries (active days, videos, completion,
score, due dates) makes this test fail.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import (
    Assignment,
    Course,
    CourseModule,
    LmsLearnerStats,
    ModuleProgress,
    PersonIdentity,
    Submission,
)
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, event, ingest, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
VIDEO_A, VIDEO_B = "aaaa1111aaaa1111", "bbbb2222bbbb2222"


def _video(stamp: str, user: int, name: str, video: str) -> list[str]:
    payload = {"id": video, "code": "html5", "duration": 60, "currentTime": 0}
    return [
        event(stamp, "play_video", user=user, username=name, source="browser", payload=payload),
        event(
            stamp.replace(":00:00", ":00:40"),
            "pause_video",
            user=user,
            username=name,
            source="browser",
            payload={**payload, "currentTime": 40},
        ),
    ]


def test_a_students_page_shows_nothing_of_another_learner(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    lines = [
        event("2026-03-02 09:00:00", user=1, username="alice"),
        event("2026-03-02 09:10:00", user=1, username="alice"),
        *_video("2026-03-02 10:00:00", 1, "alice", VIDEO_A),
        event("2026-03-05 09:00:00", user=2, username="bob"),
        event("2026-03-06 09:00:00", user=2, username="bob"),
        *_video("2026-03-06 10:00:00", 2, "bob", VIDEO_B),
    ]
    ingest(runner, write(tmp_path / "t.log", lines))
    launched = platform.launch(
        client, roles=LEARNER, sub="alice-sub", preferred_username="alice", **CONTEXT
    )
    assert launched.status_code == 303
    due_a = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    due_b = due_a + timedelta(days=2, hours=5)
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None

        def person(name: str) -> int:
            found = db.session.scalar(
                select(PersonIdentity.person_id).where(PersonIdentity.value == name)
            )
            assert found is not None
            return found

        alice, bob = person("alice"), person("bob")
        module = CourseModule(course_id=course.id, lms_module_id="m1", name="Week 1")
        essay = Assignment(course_id=course.id, lms_assignment_id="a1", name="Essay", due_at=due_a)
        db.session.add_all([module, essay])
        db.session.flush()
        for who, done, score, due in ((alice, 1, 61.0, due_a), (bob, 4, 97.0, due_b)):
            db.session.add(
                ModuleProgress(
                    module_id=module.id, person_id=who, items_required=5, items_done=done
                )
            )
            db.session.add(
                LmsLearnerStats(
                    course_id=course.id,
                    person_id=who,
                    source="canvas",
                    current_score=score,
                    requirements=5,
                    requirements_done=done,
                )
            )
            db.session.add(Submission(assignment_id=essay.id, person_id=who, due_at=due))
        db.session.commit()
    html = re.sub(r"\s+", " ", follow(client, launched).get_data(as_text=True))

    def section(anchor: str) -> str:
        start = html.index(f'id="{anchor}"')
        return html[
            start : html.find("</section>", start) if "</section>" in html[start:] else None
        ]

    days = section("table-my-days")
    assert "2026-03-02" in days
    assert "2026-03-05" not in html and "2026-03-06" not in html  # bob's days, anywhere
    assert VIDEO_A in html or "Video 1" in html
    assert VIDEO_B not in html
    score = section("my-score")
    assert "61" in score and "97" not in score
    completion = section("my-completion")
    assert "1 of 5" in completion or "20" in completion
    assert "4 of 5" not in completion and "80 %" not in completion
    assert f"{due_a:%Y-%m-%d %H:%M}" in section("my-due")
    assert f"{due_b:%Y-%m-%d %H:%M}" not in html
    # Session tokens are random text that could hold "bob": leave them out.
    assert "bob" not in re.sub(r"[\w.-]{60,}", "", html)
