"""The admin area in a real browser: sign in, every page, no CSP violation, axe-core, the
confirmation before a key rotation (admin.js), and the page refusing to be framed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from lti_tool.admin.auth import hash_password
from lti_tool.extensions import db
from lti_tool.models import AdminUser, Course, ToolKey
from tests.helpers.browser import ServerFactory
from tests.helpers.database import make_app
from tests.helpers.platform import FakePlatform

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
PASSWORD = "a browser-typed admin password"
TIMEOUT_MS = 20_000
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
PAGES = (
    "Overview",
    "Platforms",
    "Courses",
    "Tool keys",
    "Data sources",
    "API tokens",
    "Sync health",
    "Access log",
    "Audit log",
    "Refused launches",
)


@pytest.fixture
def tool(https_servers: ServerFactory, tmp_path: Path) -> Any:
    """The tool over https as tool.test, with a platform and an administrator."""
    app = make_app(tmp_path)
    FakePlatform().register(app)
    with app.app_context():
        db.session.add(AdminUser(email="root@example.edu", password_hash=hash_password(PASSWORD)))
        # A course that arrived in logs before any platform: the courses page offers to attach.
        db.session.add(Course(lti_context_id="course-v1:Org+Logs+2026", title="Logged course"))
        db.session.commit()
    server = https_servers.start("tool.test")
    server.serve(app)
    return app, server.origin


def _context(browser: Browser, **options: Any) -> tuple[BrowserContext, list[str]]:
    context = browser.new_context(ignore_https_errors=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_LISTENER)
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, errors


def _sign_in(page: Page, origin: str) -> None:
    page.goto(origin + "/admin/sources")
    assert "/admin/login" in page.url
    page.fill("input[name=email]", "root@example.edu")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(origin + "/admin/sources")  # back where the visit began


def _keys(app: Any) -> int:
    with app.app_context():
        return db.session.query(ToolKey).count()


def test_admin_pages_in_chromium(browser: Browser, tool: Any) -> None:
    app, origin = tool
    context, errors = _context(browser)
    try:
        page = context.new_page()
        _sign_in(page, origin)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in PAGES:
            page.click(f"nav >> text={name}")
            page.wait_for_load_state()
            assert page.evaluate("window.__cspViolations") == [], name
            page.screenshot(path=str(SCREENSHOTS / f"admin-{name.lower().replace(' ', '-')}.png"))
        assert errors == []

        # Every page fits 1000 px and a phone: wide tables scroll inside their wrapper, or are
        # cards (card-rows) with each cell labelled from its header (table_labels.js).
        for width in (1000, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for name, path in (
                ("overview", "/admin/"),
                ("platform", "/admin/platforms/1"),
                ("tokens", "/admin/tokens"),
                ("courses", "/admin/courses"),
                ("audit", "/admin/audit"),
                ("platforms", "/admin/platforms"),
                ("sources", "/admin/sources"),
                ("keys", "/admin/keys"),
                ("sync", "/admin/sync"),
                ("access-log", "/admin/access-log"),
                ("launch-errors", "/admin/launch-errors"),
            ):
                page.goto(origin + path)
                sideways = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                page.screenshot(path=str(SCREENSHOTS / f"admin-{name}-{width}.png"), full_page=True)
                assert sideways <= 1, (name, width, sideways)
                if width == 390:
                    cards = page.eval_on_selector_all(
                        "table.card-rows > tbody > tr",
                        "rows => rows.map(r => [getComputedStyle(r).display,"
                        " Array.from(r.cells).every(c => c.getAttribute('data-label')"
                        " || c.colSpan === r.closest('table').tHead.rows[0].cells.length)])",
                    )
                    assert all(c == ["block", True] for c in cards), (name, cards)
        assert page.locator("select[name=lms]").count() == 0  # the tokens page
        page.goto(origin + "/admin/platforms/1")
        assert page.locator("select[name=lms] option[selected]").inner_text() == "Other"
        page.set_viewport_size({"width": 1280, "height": 720})

        # admin.js asks before a key rotation: dismissed, nothing happens; accepted, a new key.
        page.goto(origin + "/admin/keys")
        before = _keys(app)
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("text=Rotate: make a new signing key")
        page.wait_for_timeout(300)
        assert _keys(app) == before
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.click("text=Rotate: make a new signing key")
        assert _keys(app) == before + 1

        # Another site cannot frame the admin area (frame-ancestors 'none').
        framer = context.new_page()
        framer.set_content(f'<iframe id="f" src="{origin}/admin/"></iframe>')
        framer.wait_for_timeout(1000)
        frame = framer.frame_locator("#f")
        assert frame.locator("text=Administration").count() == 0
        assert any("frame-ancestors" in e or "Refused to frame" in e for e in errors), errors
    finally:
        context.close()


@pytest.mark.skipif(
    not AXE.exists() and os.environ.get("CI") != "true",
    reason="axe-core not installed (npm ci --prefix tests/browser)",
)
def test_admin_pages_pass_axe_core(browser: Browser, tool: Any) -> None:
    _app, origin = tool
    # axe is injected as a script: allowed in this context only (the CSP is asserted above).
    context, _ = _context(browser, bypass_csp=True)
    try:
        page = context.new_page()
        found: dict[str, Any] = {}
        page.goto(origin + "/admin/login")
        found["login"] = _axe(page)
        _sign_in(page, origin)
        for name in PAGES:
            page.click(f"nav >> text={name}")
            page.wait_for_load_state()
            found[name] = _axe(page)
        assert {name: v for name, v in found.items() if v} == {}
    finally:
        context.close()


def _axe(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return violations


@pytest.mark.parametrize(("accept", "language"), [("es-CL", "es"), ("nb-NO", "nb")])
def test_admin_timestamps_in_the_language_at_both_widths(
    browser: Browser, tool: Any, accept: str, language: str
) -> None:
    """Keys and sync runs dated as the language writes dates (issue 19): no ISO dates."""
    import re
    from datetime import UTC, datetime

    from lti_tool.lti import keys
    from lti_tool.models import SyncRun

    app, origin = tool
    with app.app_context():
        keys.active_key()
        course_id = db.session.query(Course.id).scalar()
        db.session.add(
            SyncRun(
                course_id=course_id,
                source="nrps",
                status="failed",
                error="boom",
                finished_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
            )
        )
        db.session.commit()
    context, errors = _context(browser, extra_http_headers={"Accept-Language": accept})
    try:
        page = context.new_page()
        _sign_in(page, origin)
        assert page.evaluate("document.documentElement.lang") == language
        for width in (1000, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for name in ("keys", "sync"):
                page.goto(f"{origin}/admin/{name}")
                text = page.locator("main").inner_text()
                assert not re.search(r"\d{4}-\d{2}-\d{2}", text), (name, text[:800])
                sideways = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                page.screenshot(
                    path=str(SCREENSHOTS / f"admin-{name}-{language}-{width}.png"), full_page=True
                )
                assert sideways <= 1, (name, width, sideways)
        assert errors == []
    finally:
        context.close()
