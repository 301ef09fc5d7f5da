"""The course navigation inside the LMS frame: one line at 1000 px, two at most at 390 px, in
English and in the longer Spanish and Bokmål words; every page reachable from it (the "More"
menu by mouse and by keyboard, no script needed, under the real CSP), the current page marked,
no sideways scroll.
Screenshots of the navigation, closed and open, in test-artifacts/screenshots/nav-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import (
    Stack,
    demo_stack,
    launch_in_frame,
    nav_link,
    new_page,
    screenshot,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000
LOCALES = {"en": "en-US", "es": "es-CL", "nb": "nb-NO"}
# The most lines the navigation may take, per frame width.
MOST_LINES = {1000: 1, 390: 2}


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with demo_stack(https_servers, tmp_path_factory.mktemp("nav")) as running:
        running.speak(LOCALES)
        yield running


def shot(page: Page, name: str) -> None:
    screenshot(page, f"nav-{name}", full_page=False)


def lines(frame: Frame) -> int:
    """How many lines the navigation's items fill (items whose tops differ)."""
    tops = frame.eval_on_selector_all(
        "nav.course-tabs > ul > li", "items => items.map(i => i.getBoundingClientRect().top)"
    )
    distinct: list[float] = []
    for top in sorted(tops):
        if not distinct or top - distinct[-1] > 4:
            distinct.append(top)
    return len(distinct)


def sideways(frame: Frame) -> int:
    """How many px the page is wider than the frame."""
    return int(
        frame.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def links(frame: Frame) -> dict[str, str]:
    """Every link of the navigation, hidden ones (in a closed "More") too: name -> path."""
    found = frame.eval_on_selector_all(
        "nav.course-tabs a",
        "links => links.map(a => [a.textContent.trim(), new URL(a.href).pathname])",
    )
    return dict(found)


def current(frame: Frame) -> dict[str, str | None]:
    """The navigation's marked items: link names and "More" -> their aria-current."""
    return dict(
        frame.eval_on_selector_all(
            "nav.course-tabs [aria-current]",
            "items => items.map(i => [i.textContent.trim(), i.getAttribute('aria-current')])",
        )
    )


def is_open(frame: Frame) -> bool:
    """Whether the "More" menu is open."""
    return bool(frame.eval_on_selector("nav.course-tabs details", "d => d.open"))


def menu_box(frame: Frame) -> dict[str, float]:
    return dict(
        frame.eval_on_selector(
            "nav.course-tabs details > ul",
            "u => { const b = u.getBoundingClientRect();"
            " return {left: b.left, right: b.right, width: window.innerWidth}; }",
        )
    )


@pytest.mark.parametrize("width", [1000, 390])
@pytest.mark.parametrize("language", ["en", "es", "nb"])
def test_the_staff_nav_fits_and_reaches_every_page(
    browser: Browser, stack: Stack, language: str, width: int
) -> None:
    with new_page(browser, bypass_csp=False) as page:
        frame = launch_in_frame(page, stack, f"instructor-{language}", width, TIMEOUT_MS)
        assert frame.evaluate("document.documentElement.lang") == language
        assert lines(frame) <= MOST_LINES[width], lines(frame)
        assert sideways(frame) == 0
        shot(page, f"{language}-{width}")
        pages = links(frame)
        assert len(pages) == 10, pages
        more = frame.locator("nav.course-tabs summary")
        more.click()
        assert frame.locator("nav.course-tabs details").get_attribute("open") is not None
        box = menu_box(frame)
        assert 0 <= box["left"] and box["right"] <= box["width"], box
        assert sideways(frame) == 0
        shot(page, f"{language}-{width}-more")
        for name, path in pages.items():
            with frame.expect_navigation(timeout=TIMEOUT_MS):
                nav_link(frame, name).click()
            assert frame.url.split("?")[0].endswith(path), (name, frame.url)
            marked = current(frame)
            assert marked.get(name) == "page", marked
            assert lines(frame) <= MOST_LINES[width], (name, lines(frame))
            assert sideways(frame) == 0, name
        # The last page, the student view, is under "More": the summary shows it.
        assert frame.locator("nav.course-tabs summary").get_attribute("aria-current") == "true"
        shot(page, f"{language}-{width}-in-more")


def test_the_more_menu_opens_closes_and_follows_with_the_keyboard(
    browser: Browser, stack: Stack
) -> None:
    with new_page(browser, bypass_csp=False) as page:
        frame = launch_in_frame(page, stack, "instructor-en", 390, TIMEOUT_MS)
        # From the last main tab, Tab reaches "More"; Enter opens it, Tab its first page.
        frame.locator("nav.course-tabs > ul > li:not(.more) a").last.focus()
        frame.page.keyboard.press("Tab")
        assert frame.evaluate("document.activeElement.tagName") == "SUMMARY"
        frame.page.keyboard.press("Enter")
        assert is_open(frame)
        frame.page.keyboard.press("Tab")
        focused = frame.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Problems"
        # Escape closes it (js/nav_menu.js), back on "More"; so does a click outside it.
        frame.page.keyboard.press("Escape")
        assert not is_open(frame)
        assert frame.evaluate("document.activeElement.tagName") == "SUMMARY"
        frame.page.keyboard.press("Enter")
        assert is_open(frame)
        frame.locator("footer").click(position={"x": 2, "y": 2})  # its padding, not its link
        assert not is_open(frame)
        frame.locator("nav.course-tabs summary").focus()
        frame.page.keyboard.press("Enter")
        frame.page.keyboard.press("Tab")
        with frame.expect_navigation(timeout=TIMEOUT_MS):
            frame.page.keyboard.press("Enter")
        assert "/problems" in frame.url
        assert current(frame) == {"More": "true", "Problems": "page"}


@pytest.mark.parametrize("width", [1000, 390])
def test_a_learner_s_nav_is_one_line_marking_their_page(
    browser: Browser, stack: Stack, width: int
) -> None:
    with new_page(browser, bypass_csp=False) as page:
        frame = launch_in_frame(page, stack, "student-es", width, TIMEOUT_MS)
        assert lines(frame) == 1
        assert current(frame) == {"Mi progreso": "page"}
        assert frame.locator("nav.course-tabs details").count() == 0
        assert sideways(frame) == 0
        shot(page, f"student-es-{width}")
