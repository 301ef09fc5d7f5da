"""Names, not ids, where people read: the videos, content, learner and student pages show the
course's names for videos, problems and pages (else "Video 2"), events in plain words, and no
raw id as visible text (ids stay in tooltips)."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, CourseBlock, PersonIdentity
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, event, ingest, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
BLOCK = "block-v1:edX+DemoX+2026+type@{}+block@{}"
NAMED = "0b9e39477cdb4b3a8e5b9e5f2c2e0c3f"  # "Welcome to data science"
UNNAMED = "f00dfeedbeefcafe0123456789abcdef"  # a block without a name, first: "Video 1"
PROBLEM = BLOCK.format("problem", "d1b84dcd39b0423d9e288f27f0f7f242")
PAGE = f"/courses/{COURSE}/courseware/week1/lesson1/"
# What must never be visible text: a 32-hex id, a usage key, an event type, a label code.
RAW = re.compile(r"[0-9a-f]{32}|block-v1:|ATTEMPTED_PROBLEM|PLAYED_VIDEO|problem_check|_video\b")


def _video(stamp: str, name: str, user: int, video: str, at: float) -> str:
    # Open edX's video player: the block's url_name as `id`, a JSON string from the browser.
    payload = {"id": video, "code": "html5", "duration": 60, "currentTime": at}
    return event(stamp, name, user, f"peer{user}", "browser", payload)


def seed(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    lines = []
    for user in (1, 2, 3):
        lines += [
            event("2026-03-02 10:00:00", PAGE, user, f"peer{user}"),
            _video("2026-03-02 10:01:00", "play_video", user, NAMED, 0),
            _video("2026-03-02 10:02:00", "pause_video", user, NAMED, 60),
            _video("2026-03-02 10:03:00", "play_video", user, UNNAMED, 0),
            _video("2026-03-02 10:03:30", "pause_video", user, UNNAMED, 30),
            event(
                "2026-03-02 10:05:00",
                "problem_check",
                user,
                f"peer{user}",
                "server",
                {"problem_id": PROBLEM, "success": "correct"},
            ),
        ]
    ingest(runner, write(tmp_path / "t.log", lines))
    with app.app_context():
        course_id = db.session.scalar(select(Course.id).where(Course.lms_course_id == COURSE))
        week = BLOCK.format("chapter", "week1")
        lesson = BLOCK.format("sequential", "lesson1")
        unit = BLOCK.format("vertical", "unit1")
        for block_id, kind, name, parent, position in (
            (week, "chapter", "Week 1: Getting started", None, 0),
            (lesson, "sequential", "Tidy tables", week, 0),
            (unit, "vertical", "Unit", lesson, 0),
            (BLOCK.format("video", NAMED), "video", "Welcome to data science", unit, 1),
            (BLOCK.format("video", UNNAMED), "video", "", unit, 0),
            (PROBLEM, "problem", "Spot the untidy column", unit, 2),
        ):
            db.session.add(
                CourseBlock(
                    course_id=course_id,
                    block_id=block_id,
                    block_type=kind,
                    display_name=name,
                    parent_id=parent,
                    position=position,
                )
            )
        db.session.commit()


def visible(page: str) -> str:
    """The page's text as a reader sees it: no scripts (the charts' data), tags or attributes."""
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def staff_token(client: FlaskClient, platform: FakePlatform) -> str:
    return str(platform.launch(client, **CONTEXT).headers["Location"].split("t=")[1])


def test_staff_pages_show_names_and_no_ids(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    seed(app, runner, tmp_path)
    token = staff_token(client, platform)
    videos = client.get(f"/courses/1/videos?t={token}").get_data(as_text=True)
    text = visible(videos)
    assert "Welcome to data science" in text and "Video 1" in text
    assert RAW.search(text) is None, RAW.search(text)
    # In course order (the ids sort the other way), each id in its name's tooltip; the first
    # video is the one shown, and the chart's title names it.
    assert text.index("Video 1") < text.index("Welcome to data science")
    assert f'<span class="named" title="{UNNAMED}">Video 1</span>' in videos
    assert "Viewers along Video 1" in videos
    assert f"along video {NAMED}" not in videos

    content = client.get(f"/courses/1/content?t={token}").get_data(as_text=True)
    text = visible(content)
    for name in ("Tidy tables", "Welcome to data science", "Video 1", "Spot the untidy column"):
        assert name in text
    assert RAW.search(text) is None, RAW.search(text)
    assert f'title="{PROBLEM}">Spot the untidy column</span>' in content

    with app.app_context():
        person = db.session.scalar(
            select(PersonIdentity.person_id).where(PersonIdentity.value == "peer1")
        )
    learner = client.get(f"/courses/1/learners/{person}?t={token}").get_data(as_text=True)
    text = visible(learner)
    for words in ("Opened Tidy tables", "Checked an answer", "Played a video", "Paused a video"):
        assert words in text
    assert "Welcome to data science" in text and "Spot the untidy column" in text
    assert RAW.search(text) is None, RAW.search(text)

    overview = visible(client.get(f"/courses/1/?t={token}").get_data(as_text=True))
    assert "Attempted a problem" in overview and "Played a video" in overview
    assert RAW.search(overview) is None, RAW.search(overview)


def test_the_student_page_names_their_videos(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    seed(app, runner, tmp_path)
    launch = platform.launch(client, roles=LEARNER, sub="s1", preferred_username="peer1", **CONTEXT)
    page: Any = follow(client, launch)
    mine = page.get_data(as_text=True)
    text = visible(mine)
    assert "Welcome to data science" in text and "Video 1" in text
    assert text.index("Video 1") < text.index("Welcome to data science")  # course order
    assert RAW.search(text) is None, RAW.search(text)
    assert f'title="{NAMED}">Welcome to data science</span>' in mine


def test_a_name_cell_escapes_the_name_and_its_id(app: Flask) -> None:
    # An LMS names its blocks as authors type them: a name or id with markup stays text.
    from lti_tool.kpis.names import Shown
    from lti_tool.views.course import named

    with app.test_request_context():
        cell = str(named(Shown('<b>Week "1"</b> & more', 'block@x"><script>', True)))
    assert cell == (
        '<span class="named" title="block@x&#34;&gt;&lt;script&gt;">'
        "&lt;b&gt;Week &#34;1&#34;&lt;/b&gt; &amp; more</span>"
    )
