"""The learners table in the LMS's iframe at the widths it meets: 1000 px (the usual LMS frame)
and 390 px (a phone). What matters fits without sideways scrolling, the at-risk flag sits beside
the names with its reasons a click (or a key) away, the column chooser shows a column at once and
is remembered per person and course, the names stay put when the table scrolls, learners are
cards on a phone, and the flagged come first. axe-core on each; screenshots for a look.

The class is tests/helpers/classes.py's, with the inactivity rule switched off (its days are
months old), so only some learners are flagged: Bob B, and D and L (no activity recorded).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Frame
from sqlalchemy import delete, select

from lti_tool.dev.platform import DEV_USERS, MEMBERSHIP
from lti_tool.extensions import db
from lti_tool.models import Course, CourseSettings, Enrollment, Platform, ViewPreference
from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, running_stack
from tests.helpers.classes import build_class

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
TIMEOUT_MS = 20_000
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
COURSE = {"id": "browser-tables", "label": "T101", "title": "Tables 101"}
OTHER_COURSE = {"id": "browser-tables-2", "label": "T102", "title": "Tables 102"}
# A second instructor of the same course: a choice of columns is one person's.
USERS = {
    **DEV_USERS,
    "colleague": {
        "sub": "dev-instructor-2",
        "name": "Alan Kay",
        "given_name": "Alan",
        "family_name": "Kay",
        "email": "alan.kay@example.edu",
        "roles": [MEMBERSHIP + "Instructor"],
    },
}
AXE_SERIOUS = (
    "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    ".filter(v => ['serious', 'critical'].includes(v.impact))"
    ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
)


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("tables")

    def prepare(tool: Flask, row: Platform) -> None:
        # The class in one course, the inactivity rule off; its learners in a second course
        # of the same LMS too (no activity there).
        course, other = (
            Course(platform_id=row.id, lti_context_id=c["id"], title=c["title"])
            for c in (COURSE, OTHER_COURSE)
        )
        db.session.add_all([course, other])
        db.session.flush()
        build_class(course)
        db.session.flush()
        db.session.merge(CourseSettings(course_id=course.id, risk_inactive_days=100_000))
        for enrollment in db.session.scalars(
            select(Enrollment).where(Enrollment.course_id == course.id)
        ).all():
            db.session.add(
                Enrollment(
                    course_id=other.id,
                    person_id=enrollment.person_id,
                    course_role=enrollment.course_role,
                )
            )
        db.session.commit()

    with running_stack(
        https_servers, folder, {"context": dict(COURSE), "users": USERS}, prepare
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def no_preferences(stack: Stack) -> Iterator[None]:
    """Every test starts from the default columns, whatever an earlier one chose."""
    with stack.tool.app_context():
        db.session.execute(delete(ViewPreference))
        db.session.commit()
        db.session.remove()
    yield
    stack.platform.context = dict(COURSE)


def new_context(browser: Browser, bypass_csp: bool = False) -> tuple[BrowserContext, list[str]]:
    # Wider than the frames below: the LMS page around them must not squeeze them.
    context = browser.new_context(
        ignore_https_errors=True, bypass_csp=bypass_csp, viewport={"width": 1100, "height": 900}
    )
    context.add_init_script(CSP_LISTENER)
    errors: list[str] = []
    context.on(
        "console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None
    )
    context.on("weberror", lambda e: errors.append(f"page error: {e.error}"))
    return context, errors


def learners_frame(
    context: BrowserContext, stack: Stack, width: int, user: str = "instructor"
) -> Frame:
    """The LMS course page framing the tool `width` px wide, launched as `user`, on Learners."""
    page = context.new_page()
    page.goto(f"{stack.lms_origin}/course?as={user}&width={width}&height=1400")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    with frame.expect_navigation(timeout=TIMEOUT_MS):
        frame.get_by_role("link", name="Learners", exact=True).first.click()
    frame.locator("#table-learners").wait_for(timeout=TIMEOUT_MS)
    assert frame.evaluate("document.documentElement.clientWidth") == width
    return frame


def page_scrolls_sideways(frame: Frame) -> int:
    """How far the whole page could scroll sideways (0: it fits)."""
    return int(
        frame.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def box(frame: Frame, selector: str) -> dict[str, float]:
    """An element's box in the frame's own viewport."""
    return frame.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }",
    )


def risk_flags(frame: Frame) -> list[bool]:
    """Whether each row of the table, in order, is flagged at risk."""
    return frame.eval_on_selector_all(
        "#table-learners tbody tr", "rows => rows.map(r => r.classList.contains('risk'))"
    )


def saved(frame: Frame) -> None:
    """Wait for the column chooser's background saves to end, and check they succeeded."""
    frame.locator("#columns-status:not(:text-is('Saving…'))").wait_for(timeout=TIMEOUT_MS)
    assert frame.inner_text("#columns-status") == "Saved for this course."


def axe(frame: Frame) -> list[Any]:
    frame.evaluate(AXE.read_text(encoding="utf-8"))
    return frame.evaluate(AXE_SERIOUS)


def shoot(frame: Frame, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    frame.page.locator("iframe").screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_at_1000px_the_risk_flag_sits_beside_the_names_and_nothing_scrolls_sideways(
    browser: Browser, stack: Stack
) -> None:
    context, errors = new_context(browser)
    try:
        frame = learners_frame(context, stack, 1000)
        assert page_scrolls_sideways(frame) == 0
        name = box(frame, "#table-learners tbody tr:first-child th.c-name")
        flag = box(frame, "#table-learners tbody tr:first-child td.c-at_risk")
        assert name["right"] <= 1000 and flag["right"] <= 1000
        assert flag["left"] >= name["right"] - 1 and abs(flag["top"] - name["top"]) < 2
        # every column shown fits the frame: no header beyond its right edge
        rights = frame.eval_on_selector_all(
            "#table-learners thead th",
            "ths => ths.filter(th => th.offsetParent !== null)"
            ".map(th => th.getBoundingClientRect().right)",
        )
        assert len(rights) == 6 and max(rights) <= 1000
        wrap = frame.eval_on_selector(".table-wrap", "w => w.scrollWidth - w.clientWidth")
        assert wrap <= 0  # the table itself needs no sideways scroll either

        # nobody chose an order: the flagged first, and the caption says so
        flags = risk_flags(frame)
        assert flags[0] and not flags[-1] and flags == sorted(flags, reverse=True)
        assert "those at risk first" in frame.inner_text("#table-learners caption")

        # the reasons: closed, then open from the keyboard
        reasons = frame.locator("#table-learners tbody tr:first-child .reasons")
        assert not reasons.is_visible()
        frame.focus("#table-learners tbody tr:first-child details.risk-flag summary")
        frame.page.keyboard.press("Enter")
        assert reasons.is_visible() and reasons.inner_text().strip()
        assert page_scrolls_sideways(frame) == 0  # open reasons do not widen the page
        shoot(frame, "learners-1000")
        assert frame.evaluate("() => window.__cspViolations") == [] and errors == []
    finally:
        context.close()


def test_the_column_chooser_shows_a_column_at_once_and_remembers_per_person_and_course(
    browser: Browser, stack: Stack
) -> None:
    context, errors = new_context(browser)
    try:
        frame = learners_frame(context, stack, 1000)
        email = frame.locator("#table-learners th.c-email")
        assert not email.is_visible()
        frame.locator("#columns summary").click()
        for column in ("email", "sections", "time_total", "lms_time", "sessions"):
            frame.check(f"input[name=show][value={column}]")
        assert email.is_visible()  # at once, no page load
        saved(frame)
        assert frame.locator("#table-learners tbody tr:first-child td.c-email").is_visible()
        frame.uncheck("input[name=show][value=sessions]")
        assert not frame.locator("#table-learners th.c-sessions").is_visible()
        saved(frame)

        # wider than the frame now: the table scrolls in its wrapper, never the page, and the
        # names stay put while it does
        assert page_scrolls_sideways(frame) == 0
        assert frame.eval_on_selector(".table-wrap", "w => w.scrollWidth > w.clientWidth")
        before = box(frame, "#table-learners tbody tr:first-child th.c-name")
        flag_before = box(frame, "#table-learners tbody tr:first-child td.c-at_risk")
        frame.eval_on_selector(".table-wrap", "w => { w.scrollLeft = w.scrollWidth; }")
        scrolled = frame.eval_on_selector(".table-wrap", "w => w.scrollLeft")
        assert scrolled > 0
        after = box(frame, "#table-learners tbody tr:first-child th.c-name")
        assert abs(after["left"] - before["left"]) < 1
        # the other cells did move, under the name
        flag = box(frame, "#table-learners tbody tr:first-child td.c-at_risk")
        assert abs(flag["left"] - (flag_before["left"] - scrolled)) < 1
        shoot(frame, "learners-1000-more-columns")

        # kept on the server as last chosen (saves in flight one at a time, in order)
        with stack.tool.app_context():
            kept = db.session.scalars(select(ViewPreference.value)).all()
            db.session.remove()
        assert kept == [["email", "sections", "time_total", "lms_time"]]
        # the next page load: still shown, for this person
        frame = learners_frame(context, stack, 1000)
        assert frame.locator("#table-learners th.c-email").is_visible()
        assert not frame.locator("#table-learners th.c-sessions").is_visible()
        assert frame.is_checked("input[name=show][value=email]")
        # another instructor of the course: the defaults
        frame = learners_frame(context, stack, 1000, user="colleague")
        assert not frame.locator("#table-learners th.c-email").is_visible()
        assert page_scrolls_sideways(frame) == 0
        # the same instructor in another course: the defaults there
        stack.platform.context = dict(OTHER_COURSE)
        frame = learners_frame(context, stack, 1000)
        assert OTHER_COURSE["title"] in frame.title()
        assert not frame.locator("#table-learners th.c-email").is_visible()
        assert frame.evaluate("() => window.__cspViolations") == [] and errors == []
    finally:
        context.close()


def test_at_390px_each_learner_is_a_card_and_nothing_scrolls_sideways(
    browser: Browser, stack: Stack
) -> None:
    context, errors = new_context(browser)
    try:
        frame = learners_frame(context, stack, 390)
        assert page_scrolls_sideways(frame) == 0
        first = "#table-learners tbody tr:first-child"
        assert frame.eval_on_selector(first, "tr => getComputedStyle(tr).display") == "block"
        cells = frame.eval_on_selector_all(
            f"{first} > *",
            "cells => cells.filter(c => c.offsetParent !== null).map(c => ({"
            "label: c.getAttribute('data-label'),"
            "shown: getComputedStyle(c, '::before').content,"
            "display: getComputedStyle(c).display,"
            "right: c.getBoundingClientRect().right}))",
        )
        assert [c["label"] for c in cells] == [
            "Name",
            "At risk",
            "Last active",
            "Time, 7 days (h:mm)",
            "Completion",
            "Current score",
        ]
        for cell in cells:
            # no longer a table column: a line of the card, its label beside the value
            assert cell["display"] != "table-cell" and cell["shown"] == f'"{cell["label"]}"'
            assert cell["right"] <= 390
        # cards one under the other, the flagged first
        second = box(frame, "#table-learners tbody tr:nth-child(2)")
        assert second["top"] >= box(frame, first)["bottom"]
        flags = risk_flags(frame)
        assert flags[0] and flags == sorted(flags, reverse=True)
        # a chosen column shows on the cards too, labelled, still within the phone's width
        frame.locator("#columns summary").click()
        frame.check("input[name=show][value=email]")
        saved(frame)
        assert (
            frame.eval_on_selector(
                f"{first} td.c-email", "c => getComputedStyle(c, '::before').content"
            )
            == '"E-mail"'
        )
        assert page_scrolls_sideways(frame) == 0
        shoot(frame, "learners-390")
        assert frame.evaluate("() => window.__cspViolations") == [] and errors == []
    finally:
        context.close()


@pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI") != "true",
    reason="axe-core not installed (npm ci --prefix tests/browser)",
)
def test_the_learners_table_passes_axe_core_at_both_widths(browser: Browser, stack: Stack) -> None:
    # axe is injected as a script: allowed in this context only.
    context, _ = new_context(browser, bypass_csp=True)
    found: dict[str, Any] = {}
    try:
        for width in (1000, 390):
            frame = learners_frame(context, stack, width)
            frame.locator("#columns summary").click()
            frame.locator("#table-learners tbody tr:first-child details.risk-flag summary").click()
            found[f"learners {width}"] = axe(frame)
        assert {name: v for name, v in found.items() if v} == {}
    finally:
        context.close()


@pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI") != "true",
    reason="axe-core not installed (npm ci --prefix tests/browser)",
)
def test_every_course_page_fits_1000_and_390px(browser: Browser, stack: Stack) -> None:
    # axe is injected as a script: allowed in this context only (the pages' own scripts run).
    context, _ = new_context(browser, bypass_csp=True)
    found: dict[str, Any] = {}
    counted: dict[str, int] = {}
    try:
        for width in (1000, 390):
            frame = learners_frame(context, stack, width)
            learner = frame.get_attribute(
                "#table-learners a[href*='/learners/']:text-is('Ada A')", "href"
            )
            base, query = frame.url.split("/learners?", 1)
            token = "t=" + query.split("t=", 1)[1].split("&", 1)[0]
            pages = {
                "overview": f"{base}/?{token}",
                "grades": f"{base}/grades?{token}",
                "content": f"{base}/content?{token}",
                "videos": f"{base}/videos?{token}",
                "access log": f"{base}/access-log?{token}",
                "one learner": f"{stack.tool_origin}{learner}",
                "student view": f"{base}/me?{token}",
                "settings": f"{base}/settings?{token}",
            }
            for name, url in pages.items():
                frame.goto(url)
                assert page_scrolls_sideways(frame) == 0, (name, width)
                # a card per row on a phone, each cell labelled (template or table_labels.js)
                cards = frame.eval_on_selector_all(
                    "table.card-rows > tbody > tr",
                    "rows => rows.filter(r => r.offsetParent !== null).map(r =>"
                    " [getComputedStyle(r).display, Array.from(r.cells).every(c =>"
                    " c.getAttribute('data-label') || c.offsetParent === null)])",
                )
                expected = "block" if width == 390 else "table-row"
                assert all(c == [expected, True] for c in cards), (name, width, cards)
                counted[f"{name} {width}"] = len(cards)
                if width == 390:
                    frame.evaluate(AXE.read_text(encoding="utf-8"))
                    found[f"{name} {width}"] = frame.evaluate(AXE_SERIOUS)
                    shoot(frame, f"course-{name.replace(' ', '-')}-{width}")
        assert {name: v for name, v in found.items() if v} == {}
        # the class has assignments: their tables were among the cards
        assert counted["grades 390"] and counted["one learner 390"]
    finally:
        context.close()
