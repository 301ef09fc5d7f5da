"""The student's page of the demo course inside the LMS frame, at 1000 px and 390 px: the learner's
own page (their work with status words, the weekly chart, the calendar heatmap, the score
distribution with "You are here") and staff's preview of a learner chosen in the picker. No
page-wide sideways scrolling, axe-core clean; screenshots in test-artifacts/screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, demo_stack, launch_in_frame, nav_link

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 30_000
STATUS = ("missing", "late", "submitted", "past due, not submitted", "excused", "no due date")


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with demo_stack(https_servers, tmp_path_factory.mktemp("student")) as running:
        yield running


def launch(page: Page, stack: Stack, user: str, width: int) -> Frame:
    """Launch in an LMS frame `width` px wide; the tool's frame, its first page drawn."""
    return launch_in_frame(page, stack, user, width, TIMEOUT_MS)


def drawn(frame: Frame) -> None:
    """Wait until every chart of the page is drawn."""
    frame.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=TIMEOUT_MS,
    )


def fits(frame: Frame) -> bool:
    """No page-wide sideways scroll: the document is no wider than the frame's window."""
    return bool(
        frame.evaluate("document.documentElement.scrollWidth <= window.innerWidth"),
    )


def axe_violations(frame: Frame) -> list[str]:
    """Serious and critical axe-core violations of the frame's document."""
    frame.evaluate(AXE.read_text(encoding="utf-8"))
    return frame.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [1000, 390])
def test_the_students_own_page_fits_and_is_accessible(
    browser: Browser, stack: Stack, width: int
) -> None:
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    try:
        frame = launch(page, stack, "student", width)
        assert "/me?" in frame.url
        drawn(frame)
        assert frame.evaluate("window.innerWidth") == width
        assert fits(frame), frame.evaluate("document.documentElement.scrollWidth")
        # Their work, with the LMS's status words
        statuses = frame.eval_on_selector_all(
            "#table-my-due tbody td:last-child", "cells => cells.map(c => c.innerText.trim())"
        )
        assert statuses and all(s in STATUS or s.startswith("due ") for s in statuses), statuses
        # The calendar is a drawn heatmap: seven rows (Monday first), a column per week
        heat = frame.evaluate(
            "() => document.getElementById('chart-my-calendar').data"
            ".filter(t => t.type === 'heatmap').map(t => [t.y, t.z.length, t.x.length])"
        )
        assert heat[0][0] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        assert heat[0][1] == 7 and heat[0][2] >= 6
        assert frame.locator("#chart-my-calendar .heatmaplayer, #chart-my-calendar image").count()
        # The demo class is larger than the floor: the distribution with "You are here"
        assert frame.locator("#chart-my-scores").get_attribute("data-rendered") == "true"
        assert "You are here" in frame.locator("#chart-my-scores").inner_text()
        assert not frame.locator("#preview-picker").count()  # a learner picks no one
        if AXE.exists():
            assert axe_violations(frame) == []
        shot(page, f"student-page-{width}")
    finally:
        context.close()


@pytest.mark.parametrize("width", [1000, 390])
def test_staff_preview_a_learner_chosen_in_the_picker(
    browser: Browser, stack: Stack, width: int
) -> None:
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    try:
        frame = launch(page, stack, "instructor", width)
        nav_link(frame, "Student view").click()
        frame.locator("#preview-picker").wait_for(timeout=TIMEOUT_MS)
        drawn(frame)
        # The default is the typical learner (class medians), never the instructor's own page
        assert "a typical learner" in frame.locator("#preview-note").inner_text()
        assert fits(frame)
        if AXE.exists():
            assert axe_violations(frame) == []
        frame.select_option("#preview-picker select", label="Grace Hopper")
        with frame.expect_navigation():
            frame.click("#preview-picker button")
        drawn(frame)
        assert "Grace Hopper" in frame.locator("#preview-note").inner_text()
        assert "person=" in frame.url
        assert frame.locator("#table-my-due tbody tr").count() > 0
        assert fits(frame), frame.evaluate("document.documentElement.scrollWidth")
        if AXE.exists():
            assert axe_violations(frame) == []
        shot(page, f"student-view-preview-{width}")
    finally:
        context.close()
