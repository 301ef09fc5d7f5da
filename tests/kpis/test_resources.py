"""Resource reach: the share of the class that opened each page, video and problem."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, CourseBlock, LearnerResource
from tests.helpers.platform import FakePlatform
from tests.helpers.tracking_logs import VIDEO, VIDEO_ID, event, write

KEY = "course-ctx-1"  # the fake platform's context id
PAGE = "/courses/course-v1:edX+DemoX+2026/courseware/week1/{}/"
PROBLEM = "block-v1:edX+DemoX+2026+type@problem+block@p1"


def page(at: str, user: int, lesson: str) -> str:
    return event(at, PAGE.format(lesson), user=user, username=f"u{user}", course=KEY)


def seed(runner: FlaskCliRunner, tmp_path: Path) -> None:
    check, play = {"problem_id": PROBLEM}, {"id": VIDEO}
    lines = [
        page("2026-03-02 10:00:00", 1, "lesson1"),
        event("2026-03-02 10:01:00", "play_video", 1, "u1", "browser", play, KEY),
        event("2026-03-02 10:02:00", "problem_check", 1, "u1", "server", check, KEY),
        page("2026-03-02 10:03:00", 1, "lesson1"),  # the same page again: still one learner
        page("2026-03-02 11:00:00", 2, "lesson1"),
        event("2026-03-02 11:01:00", "play_video", 2, "u2", "browser", play, KEY),
        event("2026-03-02 12:00:00", PAGE.format("lesson2") + "1?activate=x", 3, "u3", course=KEY),
        event("2026-03-02 12:05:00", "problem_check", 3, "u3", "task", check, KEY),
    ]
    log = write(tmp_path / "tracking.log", lines)
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--json"])
    assert result.exit_code == 0, result.output


def report(runner: FlaskCliRunner) -> list[dict[str, Any]]:
    result = runner.invoke(args=["report", "resources", "--course", KEY])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_each_resource_counts_the_learners_who_opened_it(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    location = platform.launch(client).headers["Location"]  # staff: not in the class
    seed(runner, tmp_path)
    with app.app_context():
        course = db.session.scalar(select(Course))
        db.session.add_all(
            [
                CourseBlock(
                    course_id=course.id,
                    block_id="block-v1:edX+DemoX+2026+type@sequential+block@lesson1",
                    block_type="sequential",
                    display_name="Lesson <b>one</b>",
                ),
                CourseBlock(
                    course_id=course.id,
                    block_id=PROBLEM,
                    block_type="problem",
                    display_name="Check",
                ),
            ]
        )
        db.session.commit()
        # Learner 1 opened lesson 1 twice: one row, two events.
        [row] = db.session.scalars(
            select(LearnerResource).where(LearnerResource.resource_id == "lesson1").limit(1)
        )
        assert row.kind == "page"
    # The class: learners 1, 2 and 3 (seen in the logs); learner 3's problem_check was a grading
    # task, not activity.
    got = {(r["resource"], r["kind"], r["name"], r["learners"], r["share"]) for r in report(runner)}
    assert got == {
        ("lesson1", "page", "Lesson <b>one</b>", 2, round(2 / 3, 4)),
        (VIDEO_ID, "video", "", 2, round(2 / 3, 4)),
        (PROBLEM, "problem", "Check", 1, round(1 / 3, 4)),
        ("lesson2", "page", "", 1, round(1 / 3, 4)),
    }
    token = re.search(r"t=([^&]+)", location).group(1)
    html = client.get(f"/courses/1/content?t={token}").get_data(as_text=True)
    assert 'id="table-resources"' in html
    assert "Lesson &lt;b&gt;one&lt;/b&gt;" in html and "<b>one</b>" not in html
    assert "<td>67 %</td>" in html and "<td>33 %</td>" in html


def test_only_the_learners_given_count_and_a_resource_only_others_opened_is_left_out(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # The database counts everyone's rows; those of people outside the class (staff who
    # clicked around, who left) are taken off again.
    from lti_tool.kpis.resources import resource_reach
    from lti_tool.models import PersonIdentity

    seed(runner, tmp_path)
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        named = {i.value: i.person_id for i in db.session.scalars(select(PersonIdentity))}
        everyone = {(r["resource"], r["learners"]) for r in resource_reach(db.session, course)}
        assert everyone == {("lesson1", 2), (VIDEO_ID, 2), (PROBLEM, 1), ("lesson2", 1)}
        two = {named["u1"], named["u2"]}  # not learner 3, the only one who opened lesson 2
        rows = resource_reach(db.session, course, two)
        assert {(r["resource"], r["learners"], r["share"]) for r in rows} == {
            ("lesson1", 2, 1.0),
            (VIDEO_ID, 2, 1.0),
            (PROBLEM, 1, 0.5),
        }


def test_no_activity_says_where_resources_come_from(
    client: FlaskClient, platform: FakePlatform
) -> None:
    location = platform.launch(client).headers["Location"]
    token = re.search(r"t=([^&]+)", location).group(1)
    html = client.get(f"/courses/1/content?t={token}").get_data(as_text=True)
    assert 'id="no-resources"' in html and "tracking logs" in html


def test_rebuild_rollups_fills_a_new_rollup_for_a_whole_course(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    seed(runner, tmp_path)
    with app.app_context():
        before = db.session.query(LearnerResource).count()
        db.session.query(LearnerResource).delete()  # as after an upgrade that adds the table
        db.session.commit()
    result = runner.invoke(args=["data", "rebuild-rollups", "--course", KEY])
    assert result.exit_code == 0, result.output
    assert "rebuilt the rollups of 3 learners" in result.output
    with app.app_context():
        assert db.session.query(LearnerResource).count() == before == 6


def test_the_reach_table_is_each_pages_own_language_and_section(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    # The table's rows are written once per worker for each language and section: a staff member
    # in Norwegian, then a section, never get the rows written for another page before them.
    from tests.helpers.classes import section_of
    from tests.helpers.platform import CLAIM, session_token

    def launch(sub: str, locale: str) -> str:
        def mutate(body: dict[str, Any]) -> None:
            body[CLAIM + "launch_presentation"] = {"locale": locale}

        return session_token(platform.launch(client, mutate=mutate, sub=sub))

    english, norwegian = launch("staff-1", "en"), launch("staff-2", "nb")
    seed(runner, tmp_path)
    section_of(app, "3", "Lab 3")

    def rows(token: str, query: str = "") -> list[str]:
        html = client.get(f"/courses/1/content?t={token}{query}").get_data(as_text=True)
        body = re.search(r'<table id="table-resources">.*?<tbody>(.*?)</tbody>', html, re.S)
        assert body is not None
        return re.findall(r"<tr>.*?</tr>", body[1])

    whole = rows(english)
    assert len(whole) == 4 and "<td>page</td><td>2</td><td>67 %</td>" in whole[0]
    assert rows(norwegian)[0].endswith("<td>side</td><td>2</td><td>67 %</td></tr>")
    # Learner 3, the section, opened lesson 2 (their problem_check was a grading task): 100 %.
    assert rows(english, "&section=Lab+3") == [
        '<tr><td><span class="named" title="lesson2">Page 2</span></td><td>page</td><td>1</td>'
        "<td>100 %</td></tr>"
    ]
    assert rows(english) == whole
