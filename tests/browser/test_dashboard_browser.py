"""The dashboards in a real browser, inside the LMS's cross-site iframe, on seeded data.

The seeded tracking log is small and hand-built, so the numbers every chart must show are
worked out here from the seeded events by a route of their own (no KPI code), then read back from
the drawn Plotly figures, the accessible tables and the CSV export. Also: the exact CSP header, no
console errors, a listener for CSP violations proven by a planted one, axe-core (from npm) on each
page, layout at iframe widths of 320 and 1400 px, and screenshots kept in test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Frame, Page

from lti_tool.dev.platform import DEV_USERS
from lti_tool.extensions import db
from lti_tool.models import Platform
from lti_tool.security import content_security_policy
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, nav_link, running_stack

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
COURSE_KEY = "course-v1:Browser+B101+2026"
CUTOFF = timedelta(minutes=30)
TIMEOUT_MS = 20_000
# Every frame records the CSP violations it sees (init scripts run before the page's own).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@dataclass(frozen=True)
class Seeded:
    """One seeded tracking-log event."""

    learner: int
    at: datetime
    name: str = "/courses/x/courseware"
    source: str = "server"


def seeded_events() -> list[Seeded]:
    """Eight learners over three weeks; learner 1 is the student who launches."""
    events: list[Seeded] = []
    week_a, week_b, week_c = (datetime(2026, 3, d, tzinfo=UTC) for d in (2, 9, 16))
    for i in range(1, 9):  # week A: all eight, ten minutes each; 1-4 play a video
        events.append(Seeded(i, week_a + timedelta(hours=10)))
        events.append(Seeded(i, week_a + timedelta(hours=10, minutes=10)))
        if i <= 4:
            events.append(
                Seeded(i, week_a + timedelta(hours=10, minutes=5), "play_video", "browser")
            )
    for i in range(1, 6):  # week B: 1-5, learner i for 5i minutes; 1-2 attempt a problem
        events.append(Seeded(i, week_b + timedelta(hours=9)))
        events.append(Seeded(i, week_b + timedelta(hours=9, minutes=5 * i)))
        if i <= 2:
            events.append(Seeded(i, week_b + timedelta(hours=9, minutes=1), "problem_check"))
    for i in range(1, 4):  # week C: 1-3, one event each (no time spent)
        events.append(Seeded(i, week_c + timedelta(hours=8)))
    return events


def log_line(event: Seeded) -> str:
    payload: Any = {"id": "i4x-Browser-B101-video-intro", "currentTime": 0, "code": "html5"}
    if event.source == "browser":
        payload = json.dumps(payload)
    elif event.name == "problem_check":
        payload = {"problem_id": "block-v1:Browser+B101+2026+type@problem+block@p1"}
    else:
        payload = {}
    return json.dumps(
        {
            "username": f"learner{event.learner}",
            "event_type": event.name,
            "event_source": event.source,
            "time": event.at.isoformat(),
            "event": payload,
            "context": {"course_id": COURSE_KEY, "user_id": 100 + event.learner, "path": "/x"},
        }
    )


def week_of(moment: datetime) -> str:
    day = moment.date()
    return (day - timedelta(days=day.weekday())).isoformat()


def expected_weekly_activity() -> dict[str, dict[str, int]]:
    """Trace name → {week start → distinct learners}, from the seeded events alone."""
    sets: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for e in seeded_events():
        week = week_of(e.at)
        sets["Active"][week].add(e.learner)
        if e.name == "play_video" and e.source == "browser":
            sets["Played a video"][week].add(e.learner)
        if e.name == "problem_check" and e.source == "server":
            sets["Attempted a problem"][week].add(e.learner)
    return {name: {w: len(s) for w, s in weeks.items()} for name, weeks in sets.items()}


def expected_seconds_per_week() -> dict[str, dict[int, float]]:
    """Week start → learner → seconds: gaps strictly under 30 minutes, per learner."""
    by_learner: dict[int, list[datetime]] = defaultdict(list)
    for e in seeded_events():
        by_learner[e.learner].append(e.at)
    result: dict[str, dict[int, float]] = defaultdict(dict)
    for learner, times in by_learner.items():
        times.sort()
        for t in times:
            result[week_of(t)].setdefault(learner, 0.0)
        for before, after in itertools.pairwise(times):
            if after - before < CUTOFF:
                result[week_of(after)][learner] += (after - before).total_seconds()
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass
class Watch:
    """What a browser context reported: console errors, page errors, page responses."""

    errors: list[str] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)


def seed(tool: Flask, platform_row: Platform, folder: Path) -> None:
    log = folder / "tracking.log"
    log.write_text("\n".join(log_line(e) for e in seeded_events()) + "\n", encoding="utf-8")
    report = ingest_tracking_logs(db.session, [log], platform_row, workers=0)
    assert report.as_dict()["events_ingested"] == len(seeded_events())

    @tool.get("/test/planted-csp-violation")
    def planted() -> str:  # a page that breaks the CSP on purpose (an inline script)
        return (
            '<!doctype html><html lang="en"><head><title>planted</title></head><body>'
            "<p>planted</p><script>window.planted = true;</script></body></html>"
        )


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The LMS course is the Open edX course of the seeded logs; the student is learner 1."""
    folder = tmp_path_factory.mktemp("dashboards")
    users = {name: dict(user) for name, user in DEV_USERS.items()}
    users["student"]["preferred_username"] = "learner1"
    options = {
        "context": {"id": COURSE_KEY, "label": "B101", "title": "Browsers 101"},
        "users": users,
    }
    with running_stack(
        https_servers, folder, options, lambda tool, row: seed(tool, row, folder)
    ) as running:
        yield running


def new_context(browser: Browser, bypass_csp: bool = False) -> tuple[BrowserContext, Watch]:
    context = browser.new_context(
        ignore_https_errors=True, bypass_csp=bypass_csp, viewport={"width": 1440, "height": 900}
    )
    context.add_init_script(CSP_LISTENER)
    watch = Watch()

    def on_console(message: Any) -> None:
        if message.type == "error":
            watch.errors.append(f"console: {message.text}")

    def on_response(response: Any) -> None:
        watch.responses[response.url.split("?")[0]] = response

    context.on("console", on_console)
    context.on("weberror", lambda error: watch.errors.append(f"page error: {error.error}"))
    context.on("response", on_response)
    return context, watch


def open_tool(
    context: BrowserContext, stack: Stack, user: str, width: int = 1000, height: int = 1400
) -> tuple[Page, Frame]:
    """The LMS course page with the tool launched in its iframe, as `user`."""
    page = context.new_page()
    page.goto(f"{stack.lms_origin}/course?as={user}&width={width}&height={height}")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    return page, frame


def drawn_figures(frame: Frame) -> dict[str, list[dict[str, Any]]]:
    """Every drawn chart on the page: chart id → its traces as Plotly holds them."""
    frame.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=TIMEOUT_MS,
    )
    return frame.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('div.chart'), d => [
            d.id, (d.data || []).map(t => ({name: t.name, x: Array.from(t.x || []),
                                            y: Array.from(t.y || [])}))]))"""
    )


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def visit(frame: Frame, link_text: str) -> None:
    """Follow a link of the course navigation inside the frame."""
    nav_link(frame, link_text).click()
    frame.wait_for_load_state("load")


def test_staff_overview_draws_the_seeded_numbers(browser: Browser, stack: Stack) -> None:
    context, watch = new_context(browser)
    try:
        page, frame = open_tool(context, stack, "instructor")
        figures = drawn_figures(frame)

        # Learners per week: every trace, every point, as worked out from the seeded events
        # (a week in which nobody did it is drawn as 0).
        expected = expected_weekly_activity()
        every = sorted({w for weeks in expected.values() for w in weeks})
        drawn = {
            t["name"]: dict(zip(t["x"], t["y"], strict=True))
            for t in figures["chart-weekly-activity"]
            if t["name"] in expected
        }
        assert drawn == {
            name: {w: weeks.get(w, 0) for w in every} for name, weeks in expected.items()
        }
        table = frame.eval_on_selector_all(
            "#table-weekly-activity tbody tr",
            "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))",
        )
        # The table says the labels in the legend's plain words, not ACTIVE or PLAYED_VIDEO.
        assert sorted((w, label, int(n)) for w, label, n in table) == sorted(
            (w, label, n)
            for label in ("Active", "Played a video", "Attempted a problem")
            for w, n in expected[label].items()
        )

        # Time spent per week: the median line, in hours.
        seconds = expected_seconds_per_week()
        [median_trace] = [t for t in figures["chart-weekly-time"] if t["name"] == "Median"]
        assert dict(zip(median_trace["x"], median_trace["y"], strict=True)) == {
            week: round(median(list(learners.values())) / 3600, 2)
            for week, learners in sorted(seconds.items())
        }

        # The CSV export of the same report, fetched with the page's own session token.
        course_id = stack.course_id()
        token = frame.url.split("t=", 1)[1].split("&", 1)[0]
        answer = frame.evaluate(
            """async ([url, token]) => {
                const r = await fetch(url, {headers: {Authorization: "Bearer " + token}});
                return {status: r.status, text: await r.text()};
            }""",
            [f"/api/v1/courses/{course_id}/reports/weekly-activity?format=csv", token],
        )
        assert answer["status"] == 200, answer
        exported = {
            (r["week_start"], r["label"]): int(r["count"])
            for r in csv.DictReader(io.StringIO(answer["text"]))
        }
        assert exported == {
            (w, label): n
            for label, weeks in {
                "ACTIVE": expected["Active"],
                "PLAYED_VIDEO": expected["Played a video"],
                "ATTEMPTED_PROBLEM": expected["Attempted a problem"],
            }.items()
            for w, n in weeks.items()
        }

        # The exact CSP, and nothing broke it or the page.
        response = watch.responses[f"{stack.tool_origin}/courses/{course_id}/"]
        with stack.tool.test_request_context():
            expected_csp = content_security_policy()
        assert response.header_value("content-security-policy") == expected_csp
        assert f"frame-ancestors 'self' {stack.lms_origin}" in expected_csp
        assert "script-src 'self';" in expected_csp
        assert frame.evaluate("window.__cspViolations") == []
        assert watch.errors == []
        screenshot(page, "overview")
        visit(frame, "Learners")
        frame.locator("#table-learners").wait_for(timeout=TIMEOUT_MS)
        assert frame.locator("#table-learners tbody tr").count() == 8  # the seeded class
        screenshot(page, "learners")
    finally:
        context.close()


def test_student_sees_their_own_time_and_nobody_else(browser: Browser, stack: Stack) -> None:
    context, watch = new_context(browser)
    try:
        page, frame = open_tool(context, stack, "student")
        assert "/me?" in frame.url
        figures = drawn_figures(frame)
        mine = expected_seconds_per_week()
        you = [t for traces in figures.values() for t in traces if t["name"] == "You"]
        assert you, figures
        drawn_weeks = dict(zip(you[0]["x"], you[0]["y"], strict=True))
        # From the course's first week on to this week: the seeded weeks as they were, the
        # weeks since without activity as 0:00
        assert min(drawn_weeks) == min(mine)
        assert {w: h for w, h in drawn_weeks.items() if w in mine} == {
            week: round(learners.get(1, 0.0) / 3600, 2) for week, learners in sorted(mine.items())
        }
        assert all(h == 0 for w, h in drawn_weeks.items() if w not in mine)
        html = frame.content()
        for other in range(2, 9):
            assert f"learner{other}" not in html
        assert DEV_USERS["instructor"]["name"] not in html
        assert frame.evaluate("window.__cspViolations") == []
        assert watch.errors == []
        screenshot(page, "student")
    finally:
        context.close()


def test_the_csp_listener_catches_a_planted_violation(browser: Browser, stack: Stack) -> None:
    context, watch = new_context(browser)
    try:
        page = context.new_page()
        page.goto(f"{stack.tool_origin}/test/planted-csp-violation")
        page.wait_for_function("() => window.__cspViolations.length > 0", timeout=TIMEOUT_MS)
        assert page.evaluate("window.__cspViolations") == ["script-src-elem inline"]
        assert page.evaluate("window.planted === undefined")  # the inline script never ran
        assert any("Content Security Policy" in e for e in watch.errors)
    finally:
        context.close()


def axe_violations(frame: Frame) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the frame's document."""
    frame.evaluate(AXE.read_text(encoding="utf-8"))
    result = frame.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
    )
    return result


def staff_pages(frame: Frame) -> Iterator[str]:
    """Each staff page reachable from the course navigation, visited in turn."""
    yield "overview"
    links = frame.eval_on_selector_all(
        "nav a", "links => links.map(a => a.textContent.trim()).filter(t => t)"
    )
    for name in links:
        if name.lower() in ("overview", "privacy"):
            continue
        visit(frame, name)
        yield name


@pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI") != "true",
    reason="axe-core not installed (npm ci --prefix tests/browser)",
)
def test_every_page_passes_axe_core(browser: Browser, stack: Stack) -> None:
    # axe is injected as a script: allowed in this context only (the CSP is asserted elsewhere).
    context, _ = new_context(browser, bypass_csp=True)
    try:
        found: dict[str, list[dict[str, Any]]] = {}
        _, frame = open_tool(context, stack, "instructor")
        for name in staff_pages(frame):
            drawn_figures(frame)
            found[name] = axe_violations(frame)
        _, frame = open_tool(context, stack, "student")
        drawn_figures(frame)
        found["student"] = axe_violations(frame)
        assert len(found) >= 3, found
        assert {name: v for name, v in found.items() if v} == {}
    finally:
        context.close()


@pytest.mark.parametrize("width", [320, 1400])
def test_pages_fit_narrow_and_wide_iframes(browser: Browser, stack: Stack, width: int) -> None:
    context, watch = new_context(browser)
    try:
        overflow: dict[str, int] = {}
        for user in ("instructor", "student"):
            _, frame = open_tool(context, stack, user, width=width)
            pages = staff_pages(frame) if user == "instructor" else iter(["student"])
            for name in pages:
                drawn_figures(frame)
                extra = frame.evaluate(
                    "() => document.documentElement.scrollWidth"
                    " - document.documentElement.clientWidth"
                )
                if extra > 1:
                    overflow[name] = extra
        assert overflow == {}, f"pages wider than a {width}px iframe: {overflow}"
        assert watch.errors == []
    finally:
        context.close()


# The LMS page records what the tool's frame asks of it (init scripts run in every frame).
FRAME_RESIZE_LISTENER = """
window.__frameResize = [];
window.addEventListener("message", function (e) {
  if (e.data && e.data.subject === "lti.frameResize") { window.__frameResize.push(e.data.height); }
});
"""


def test_the_tool_asks_the_lms_frame_for_its_height(browser: Browser, stack: Stack) -> None:
    context, watch = new_context(browser)
    context.add_init_script(FRAME_RESIZE_LISTENER)
    try:
        for user in ("instructor", "student"):
            page, frame = open_tool(context, stack, user, height=600)
            drawn_figures(frame)
            height = frame.evaluate("document.documentElement.scrollHeight")
            assert height > 600  # taller than the frame: without the message, it would scroll
            page.wait_for_function(
                "h => window.__frameResize.length"
                " && Math.abs(window.__frameResize.at(-1) - h) <= 1",
                arg=height,
                timeout=TIMEOUT_MS,
            )
            assert watch.errors == []
            if user == "instructor":
                # A short page after a long one asks for a short frame again (found by looking:
                # the frame kept the overview's height on an error page).
                course, _, query = frame.url.partition("?")
                frame.goto(f"{course.rstrip('/')}/learners/999999?{query}")
                page.wait_for_function(
                    "() => window.__frameResize.at(-1) < 600", timeout=TIMEOUT_MS
                )
                watch.errors.clear()  # the 404 page's own "failed to load" line, expected
            page.close()
    finally:
        context.close()
