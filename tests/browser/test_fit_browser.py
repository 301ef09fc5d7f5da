"""Every course page of the demo course inside the LMS frame, at 1000 px (an LMS's content
width) and 390 px (a phone): no page-wide sideways scrolling, no raw ids or internal labels in
the text people read, a way back to the course from every page, and axe-core clean.

The demo course is loaded as `flask demo load` loads it (people, Canvas-like grades and modules,
six weeks of activity) into the browser tests' LMS, so the pages show what a new user sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, demo_stack, launch_in_frame

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 30_000
STAFF_PAGES = (
    "",
    "learners",
    "grades",
    "content",
    "videos",
    "problems",
    "countries",
    "enrollment",
    "settings",
    "access-log",
    "me",
)
# What a person must never read: a 32-hex id, an Open edX usage key, an internal label or event
# type (UPPER_SNAKE, or lower_snake such as problem_check).
RAW = re.compile(r"\b[0-9a-f]{32}\b|block-v1:|\b[A-Z]{2,}_[A-Z_]+\b|\b[a-z]+_[a-z]+(?:_[a-z]+)*\b")


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with demo_stack(https_servers, tmp_path_factory.mktemp("fit")) as running:
        yield running


def launch(page: Page, stack: Stack, user: str, width: int) -> tuple[Frame, str, str]:
    """Launch in an LMS frame `width` px wide; the tool frame, its course URL and query."""
    frame = launch_in_frame(page, stack, user, width, TIMEOUT_MS)
    course, _, query = frame.url.partition("?")
    return frame, course.rstrip("/").removesuffix("/me"), query


def open_page(frame: Frame, url: str) -> Any:
    """Open a tool page in the frame and wait for its charts."""
    response = frame.goto(url)
    frame.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=TIMEOUT_MS,
    )
    return response


def sideways(frame: Frame) -> int:
    """How many px the page is wider than the frame (0: no page-wide sideways scroll)."""
    return int(
        frame.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def raw_text(frame: Frame) -> list[str]:
    """Ids and internal labels in the text people read (not in tooltips or addresses)."""
    return sorted(set(RAW.findall(frame.evaluate("document.body.innerText"))))


def way_back(frame: Frame) -> list[str]:
    """The texts of links that lead to the course's first page (overview or the learner's)."""
    return frame.eval_on_selector_all(
        "a[href]",
        "links => links.filter(a => /\\/courses\\/\\d+\\/(me)?(\\?|$)/"
        ".test(a.getAttribute('href'))).map(a => a.textContent.trim())",
    )


def axe_violations(frame: Frame) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the frame's document."""
    frame.evaluate(AXE.read_text(encoding="utf-8"))
    return frame.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )


def problems_on(frame: Frame, name: str) -> list[str]:
    """What is wrong with the page open in the frame: sideways scroll, raw ids, no way back, axe."""
    problems = []
    if sideways(frame) > 0:
        problems.append(f"{name}: {sideways(frame)} px of sideways scroll")
    if raw_text(frame):
        problems.append(f"{name}: raw ids or labels {raw_text(frame)[:6]}")
    if not way_back(frame):
        problems.append(f"{name}: no link back to the course")
    if AXE.exists():
        problems.extend(f"{name}: axe {v}" for v in axe_violations(frame))
    return problems


def attention_problems(frame: Frame, width: int) -> list[str]:
    """The overview's attention list: first on the page after the cards, High first, in view."""
    found = frame.evaluate(
        """() => {
          const section = document.getElementById('attention');
          if (!section) { return null; }
          const levels = Array.from(section.querySelectorAll('li .level')).map(e => e.textContent);
          const box = section.getBoundingClientRect();
          const charts = document.getElementById('weekly-activity-title');
          return {levels, right: box.right,
                  beforeCharts: !charts || box.top < charts.getBoundingClientRect().top};
        }"""
    )
    if found is None:
        return ["overview: no attention list"]
    problems = []
    levels = found["levels"]
    if not levels or levels != sorted(levels, key=lambda level: level != "High"):
        problems.append(f"overview: attention list not High first: {levels}")
    if found["right"] > width or not found["beforeCharts"]:
        problems.append(f"overview: attention list out of view or after the charts: {found}")
    return problems


def staff_urls(frame: Frame, course: str, query: str) -> dict[str, str]:
    """Every staff page, one learner's page, a missing page and the privacy page."""
    urls = {name or "overview": f"{course}/{name}?{query}" for name in STAFF_PAGES}
    open_page(frame, urls["learners"])
    learner = frame.eval_on_selector("a[href*='/learners/']", "a => a.href")
    urls["learner"] = learner
    urls["missing learner"] = f"{course}/learners/999999?{query}"
    urls["no such page"] = f"{course}/no-such-page?{query}"
    open_page(frame, urls["overview"])
    urls["privacy"] = frame.eval_on_selector("footer a[href*='/privacy']", "a => a.href")
    return urls


@pytest.mark.parametrize("width", [1000, 390])
def test_every_staff_page_fits_reads_in_words_and_leads_back(
    browser: Browser, stack: Stack, width: int
) -> None:
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    frame, course, query = launch(page, stack, "instructor", width)
    problems = []
    for name, url in staff_urls(frame, course, query).items():
        open_page(frame, url)
        assert frame.evaluate("window.innerWidth") == width
        problems += problems_on(frame, name)
        if name == "overview":
            problems += attention_problems(frame, width)
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [1000, 390])
def test_the_student_pages_fit_and_lead_back(browser: Browser, stack: Stack, width: int) -> None:
    context = browser.new_context(ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    frame, course, query = launch(page, stack, "student", width)
    open_page(frame, f"{course}/me?{query}")
    privacy = frame.eval_on_selector("footer a[href*='/privacy']", "a => a.href")
    urls = {"my page": f"{course}/me?{query}", "a staff page": f"{course}/learners?{query}"}
    urls["privacy"] = privacy
    problems = []
    for name, url in urls.items():
        open_page(frame, url)
        assert frame.evaluate("window.innerWidth") == width
        problems += problems_on(frame, name)
    context.close()
    assert not problems, "\n".join(problems)
