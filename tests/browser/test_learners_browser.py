"""The learners table in a real browser, inside the LMS's cross-site iframe, on the hand-built
class of tests/helpers/classes.py: the figures shown, filters, sorting, the CSV download,
"e-mail the selected learners" with the select-all script, one learner's page, no console errors
or CSP violations, and axe-core on the pages the course navigation does not link.

Expected figures are worked out here from the seeded learner-days (hours = seconds / 3600, one
decimal), not from the KPI code.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Frame

from lti_tool.extensions import db
from lti_tool.kpis.formatting import hmm
from lti_tool.models import Course, Platform
from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, running_stack
from tests.helpers.classes import build_class

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 20_000
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
# name: (total seconds from the seeded learner-days, items done of 6, e-mail)
SEEDED = {
    "Ada A": (300 + 1200 + 90, 6, "a@example.edu"),
    "Bob B": (330, 1, "b@example.edu"),
    "Cy C": (240 + 800, 5, "c@example.edu"),
    "Eve E": (400, 3, "e@example.edu"),
}


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("learners")

    def prepare(tool: Flask, row: Platform) -> None:
        # The course the launch will find (same platform and context id), holding the class.
        course = Course(platform_id=row.id, lti_context_id=context["id"], title=context["title"])
        db.session.add(course)
        db.session.flush()
        build_class(course)

    context = {"id": "browser-learners", "label": "L101", "title": "Learners 101"}
    with running_stack(https_servers, folder, {"context": context}, prepare) as running:
        yield running


def new_context(browser: Browser, bypass_csp: bool = False) -> tuple[BrowserContext, list[str]]:
    context = browser.new_context(
        ignore_https_errors=True,
        bypass_csp=bypass_csp,
        accept_downloads=True,
        viewport={"width": 1440, "height": 900},
    )
    context.add_init_script(CSP_LISTENER)
    errors: list[str] = []
    context.on(
        "console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None
    )
    context.on("weberror", lambda e: errors.append(f"page error: {e.error}"))
    return context, errors


def learners_frame(context: BrowserContext, stack: Stack) -> Frame:
    """The LMS course page, the tool launched in its iframe as the instructor, on Learners."""
    page = context.new_page()
    page.goto(f"{stack.lms_origin}/course?as=instructor&width=1400&height=1400")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    follow(frame, frame.get_by_role("link", name="Learners", exact=True).first)
    frame.locator("#table-learners").wait_for(timeout=TIMEOUT_MS)
    return frame


def follow(frame: Frame, locator: Any) -> None:
    """Click something that loads a new page in the frame, and wait for that page."""
    with frame.expect_navigation(timeout=TIMEOUT_MS):
        locator.click()


def table(frame: Frame) -> list[dict[str, str]]:
    """The learners table as the browser shows it: header text -> cell text."""
    return frame.evaluate(
        """() => {
          const heads = Array.from(document.querySelectorAll('#table-learners thead th'),
                                   th => th.textContent.trim());
          return Array.from(document.querySelectorAll('#table-learners tbody tr'), tr =>
            Object.fromEntries(Array.from(tr.cells, (td, i) => [heads[i], td.textContent.trim()])));
        }"""
    )


def violations(frame: Frame) -> list[str]:
    return frame.evaluate("() => window.__cspViolations")


def test_learners_table_filters_csv_and_email(browser: Browser, stack: Stack) -> None:
    context, errors = new_context(browser)
    try:
        frame = learners_frame(context, stack)
        rows = {r["Name"]: r for r in table(frame)}
        assert len(rows) == 6
        for name, (seconds, done, email) in SEEDED.items():
            assert rows[name]["Time, total (h:mm)"] == hmm(seconds), name
            assert rows[name]["Completion"] == f"{done / 6 * 100:.0f} %", name
            assert rows[name]["E-mail"] == email
        assert frame.get_attribute(f'a[href="mailto:{SEEDED["Ada A"][2]}"]', "href")

        # filter by section, then sort by total time (largest first)
        frame.select_option("select[name=section]", "Sec 1")
        follow(frame, frame.get_by_role("button", name="Apply"))
        assert [r["Name"] for r in table(frame)] == ["Ada A", "Bob B"]
        # total time is an optional column: shown from the chooser first (learners.js)
        frame.locator("#columns summary").click()
        frame.check("input[name=show][value=time_total]")
        frame.get_by_role("link", name="Time, total (h:mm)").wait_for(timeout=TIMEOUT_MS)
        # kept on the server before the next page, which then shows it too
        frame.locator("#columns-status:not(:text-is('Saving…'))").wait_for(timeout=TIMEOUT_MS)
        assert frame.inner_text("#columns-status") == "Saved for this course."
        follow(frame, frame.get_by_role("link", name="Time, total (h:mm)"))
        assert [r["Name"] for r in table(frame)] == ["Ada A", "Bob B"]
        follow(frame, frame.get_by_role("link", name="Time, total (h:mm)"))  # again: smallest first
        assert [r["Name"] for r in table(frame)] == ["Bob B", "Ada A"]

        # the CSV of the filtered rows
        with frame.page.expect_download() as waiting:
            frame.locator("#csv-link").click()
        path = waiting.value.path()
        exported = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
        assert {r["name"]: int(r["time_total"]) for r in exported} == {
            "Ada A": SEEDED["Ada A"][0],
            "Bob B": SEEDED["Bob B"][0],
        }

        # select every row on the page (learners.js), then e-mail them
        frame.check("#select-all")
        assert frame.eval_on_selector_all("input.pick", "boxes => boxes.every(b => b.checked)")
        follow(frame, frame.get_by_role("button", name="E-mail the selected learners"))
        href = frame.get_attribute("#mailto", "href")
        assert href == "mailto:?bcc=a@example.edu,b@example.edu"
        assert violations(frame) == []
        assert errors == []
    finally:
        context.close()


def test_one_learner_page_draws_their_days(browser: Browser, stack: Stack) -> None:
    context, errors = new_context(browser)
    try:
        frame = learners_frame(context, stack)
        follow(frame, frame.get_by_role("link", name="Ada A", exact=True))
        frame.wait_for_function(
            "() => document.getElementById('chart-learner-days')"
            ".getAttribute('data-rendered') === 'true'",
            timeout=TIMEOUT_MS,
        )
        drawn = frame.evaluate(
            "() => document.getElementById('chart-learner-days').data.map("
            "t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))"
        )
        spent = next(t for t in drawn if t["name"] == "Time spent")
        # 2026-03-10: 300 + 1200 s; 2026-03-19: 90 s (drawn in hours, read as h:mm)
        assert dict(zip(spent["x"], spent["y"], strict=True)) == {
            "2026-03-10": round(1500 / 3600, 2),
            "2026-03-19": round(90 / 3600, 2),
        }
        assert violations(frame) == [] and errors == []
    finally:
        context.close()


@pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI") != "true",
    reason="axe-core not installed (npm ci --prefix tests/browser)",
)
def test_pages_off_the_navigation_pass_axe_core(browser: Browser, stack: Stack) -> None:
    # axe is injected as a script: allowed in this context only.
    context, _ = new_context(browser, bypass_csp=True)
    found: dict[str, Any] = {}
    try:
        frame = learners_frame(context, stack)
        for name, go in (
            ("one learner", lambda f: f.get_by_role("link", name="Ada A", exact=True)),
            ("access log", lambda f: f.get_by_role("link", name="access log").first),
        ):
            follow(frame, go(frame))
            frame.evaluate(AXE.read_text(encoding="utf-8"))
            found[name] = frame.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => ['serious', 'critical'].includes(v.impact))"
                ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
            )
            frame = learners_frame(context, stack)
        frame.check("#select-all")
        follow(frame, frame.get_by_role("button", name="E-mail the selected learners"))
        frame.evaluate(AXE.read_text(encoding="utf-8"))
        found["e-mail"] = frame.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
        )
        assert {name: v for name, v in found.items() if v} == {}
    finally:
        context.close()
