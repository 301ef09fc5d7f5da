"""Names, not ids, in a real browser: the videos page at a phone's 390 px, inside the LMS's
iframe, on Open edX events whose ids are 32-hex url_names and usage keys. No horizontal scroll,
and no raw id, event type or label code in the text a reader sees."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Frame, Page
from sqlalchemy import select

from lti_tool.dev.platform import DEV_USERS
from lti_tool.extensions import db
from lti_tool.models import Course, CourseBlock, Platform
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, running_stack

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
COURSE_KEY = "course-v1:Names+N101+2026"
BLOCK = "block-v1:Names+N101+2026+type@{}+block@{}"
NAMED = "0f9e8d7c6b5a49382716a5b4c3d2e1f0"
UNNAMED = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PROBLEM = BLOCK.format("problem", "d1b84dcd39b0423d9e288f27f0f7f242")
TIMEOUT_MS = 20_000
RAW = re.compile(r"[0-9a-f]{32}|block-v1:|ATTEMPTED_PROBLEM|PLAYED_VIDEO|problem_check|_video\b")


def line(user: int, at: str, name: str, source: str, payload: dict[str, object]) -> str:
    """One tracking-log line as Open edX writes it (a browser event's payload as a string)."""
    body = json.dumps(payload) if source == "browser" else payload
    return json.dumps(
        {
            "username": f"learner{user}",
            "event_type": name,
            "event_source": source,
            "time": f"2026-03-02T{at}+00:00",
            "event": body,
            "context": {"course_id": COURSE_KEY, "user_id": user, "org_id": "Names"},
        }
    )


def seed(tool: Flask, row: Platform, folder: Path) -> None:
    lines = []
    for user in (1, 2, 3):
        for video, stop in ((NAMED, 300), (UNNAMED, 40)):
            base = {"id": video, "code": "html5", "duration": 545}
            lines.append(
                line(user, "10:00:00", "play_video", "browser", {**base, "currentTime": 0})
            )
            lines.append(
                line(user, "10:05:00", "pause_video", "browser", {**base, "currentTime": stop})
            )
        check = {"problem_id": PROBLEM, "success": "correct"}
        lines.append(line(user, "10:06:00", "problem_check", "server", check))
    log = folder / "tracking.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_tracking_logs(db.session, [log], row, workers=0)
    course_id = db.session.scalar(select(Course.id).where(Course.lms_course_id == COURSE_KEY))
    unit = BLOCK.format("vertical", "unit1")
    for block_id, kind, name, position in (
        (BLOCK.format("video", NAMED), "video", "Cleaning a messy table, step by step", 0),
        (BLOCK.format("video", UNNAMED), "video", "", 1),
        (PROBLEM, "problem", "Spot the untidy column", 2),
    ):
        db.session.add(
            CourseBlock(
                course_id=course_id,
                block_id=block_id,
                block_type=kind,
                display_name=name,
                parent_id=unit,
                position=position,
            )
        )
    db.session.add(
        CourseBlock(course_id=course_id, block_id=unit, block_type="vertical", display_name="U")
    )
    db.session.commit()


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("names")
    users = {name: dict(user) for name, user in DEV_USERS.items()}
    users["student"]["preferred_username"] = "learner1"
    options = {"context": {"id": COURSE_KEY, "label": "N101", "title": "Names 101"}, "users": users}
    with running_stack(
        https_servers, folder, options, lambda tool, row: seed(tool, row, folder)
    ) as running:
        yield running


def open_frame(browser: Browser, stack: Stack, user: str, width: int) -> tuple[Page, Frame]:
    context = browser.new_context(
        ignore_https_errors=True, viewport={"width": max(width, 420), "height": 900}
    )
    page = context.new_page()
    page.goto(f"{stack.lms_origin}/course?as={user}&width={width}&height=1400")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    return page, frame


def test_videos_page_at_390_px_shows_names_and_fits(browser: Browser, stack: Stack) -> None:
    page, frame = open_frame(browser, stack, "instructor", 390)
    frame.get_by_role("link", name="Videos", exact=True).first.click()
    frame.wait_for_load_state("load")
    frame.locator("#table-videos").wait_for(timeout=TIMEOUT_MS)
    frame.locator("#chart-video-timeline .main-svg").first.wait_for(timeout=TIMEOUT_MS)
    assert frame.evaluate("document.documentElement.clientWidth") <= 390
    assert frame.evaluate("document.documentElement.scrollWidth") <= 390
    text = frame.evaluate("document.body.innerText")
    assert "Cleaning a messy table, step by step" in text and "Video 2" in text
    assert RAW.search(text) is None, RAW.search(text)
    # The id is still there for who needs it: in the name's tooltip.
    assert frame.get_attribute(f'span.named[title="{UNNAMED}"]', "title") == UNNAMED
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "names-videos-390.png"), full_page=True)
    page.context.close()


def test_student_page_at_390_px_names_their_videos(browser: Browser, stack: Stack) -> None:
    page, frame = open_frame(browser, stack, "student", 390)
    frame.locator("#table-my-videos").wait_for(timeout=TIMEOUT_MS)
    assert frame.evaluate("document.documentElement.scrollWidth") <= 390
    text = frame.evaluate("document.body.innerText")
    assert "Cleaning a messy table, step by step" in text
    assert RAW.search(text) is None, RAW.search(text)
    page.context.close()
