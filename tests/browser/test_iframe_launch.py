"""A real browser launches the tool inside an LMS iframe of another site, over https.

The LMS is a small Flask app on https://lms.test:<port> that signs launches with
`lti_tool.dev.platform.DevPlatform`; the tool runs on https://tool.test:<port>. Chromium, with
its default cookie settings, loads the LMS course page, whose iframe goes through the real
LTI 1.3 OIDC flow: tool /lti/login (the cookie-check page) -> LMS /auth -> form post of the
id_token to tool /lti/launch -> the course page for the launched role. The tool's OIDC cookies
must therefore be `SameSite=None; Secure` (and Partitioned) to survive the cross-site frame.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Frame, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from lti_tool.dev.platform import DEMO_CONTEXT
from tests.helpers.browser import LMS_HOST, TOOL_HOST, SeenRequest, ServerFactory
from tests.helpers.browser_lms import Stack, running_stack

LAUNCH_TIMEOUT_MS = 20_000
SESSION_COOKIE = "lti1p3-session-id"


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The tool and the LMS with the demo course's context, no data."""
    with running_stack(https_servers, tmp_path_factory.mktemp("browser")) as running:
        yield running


def tool_frame(page: Page) -> Frame | None:
    """The frame inside the LMS page's iframe, if it is there."""
    handle = page.query_selector("iframe")
    return handle.content_frame() if handle is not None else None


def diagnostics(page: Page, seen: list[SeenRequest]) -> str:
    """Frame URLs, the iframe's text and the requests the servers received, for failures."""
    lines = ["frames:"]
    for frame in page.frames:
        try:
            text = frame.locator("body").inner_text(timeout=1_000)
        except Exception as exc:  # diagnostics only: never mask the real failure
            text = f"<unreadable: {exc.__class__.__name__}>"
        lines.append(f"  {frame.url}\n    text: {text[:800]!r}")
    lines.append("requests received by the servers:")
    lines += [
        f"  {s.server} {s.method} {s.path} -> {s.status} "
        f"(dest={s.fetch_dest}, site={s.fetch_site}, cookies={s.cookies[:120]!r})"
        for s in seen
    ]
    return "\n".join(lines)


def flow_step(seen: list[SeenRequest], server: str, method: str, path: str) -> SeenRequest:
    """The first request a server received for (method, path); fail if there is none."""
    for s in seen:
        if (s.server, s.method, s.path) == (server, method, path):
            return s
    raise AssertionError(f"{server} never received {method} {path}")


@pytest.mark.browser
@pytest.mark.parametrize(
    ("user", "suffix", "role_text"),
    [("instructor", "/", "Course staff"), ("student", "/me", None)],
)
def test_tool_launches_inside_cross_site_iframe(
    browser: Browser, stack: Stack, user: str, suffix: str, role_text: str | None
) -> None:
    """The LMS page frames the tool; the OIDC launch in the frame lands on the role's page."""
    context = browser.new_context(ignore_https_errors=True)  # default cookie settings
    seen = stack.servers.log
    first_request = len(seen)
    try:
        page = context.new_page()
        page.goto(f"{stack.lms_origin}/course?as={user}", wait_until="load")
        framed = page.frame_locator("iframe")
        title = framed.locator("#course-title")
        try:
            # The course page, or the tool's "could not open" page (fail at once on that one).
            framed.locator("#course-title, section.problem").first.wait_for(
                state="visible", timeout=LAUNCH_TIMEOUT_MS
            )
        except PlaywrightTimeoutError:
            pytest.fail(
                f"the {user} launch did not reach a course page within "
                f"{LAUNCH_TIMEOUT_MS / 1000:.0f} s\n" + diagnostics(page, seen[first_request:])
            )
        info = diagnostics(page, seen[first_request:])
        if title.count() == 0:
            pytest.fail(f"the tool refused the {user} launch\n" + info)

        # The top-level page is the LMS; the tool is in its iframe, over https, on another site.
        assert page.url.startswith(stack.lms_origin + "/course"), info
        frame = tool_frame(page)
        assert frame is not None and frame is not page.main_frame, info
        course_id = stack.course_id()
        assert course_id is not None, info
        expected = rf"{re.escape(stack.tool_origin)}/courses/{course_id}{re.escape(suffix)}\?t=.+"
        assert re.fullmatch(expected, frame.url), info
        assert frame.url.startswith("https://"), info
        assert title.inner_text() == DEMO_CONTEXT["title"], info
        if role_text is not None:
            role = framed.locator("#viewer-role")
            assert role.inner_text() == role_text, info

        # The real OIDC flow, as the two servers saw it, all of it inside the iframe.
        flow = seen[first_request:]
        login = flow_step(flow, TOOL_HOST, "GET", "/lti/login")
        assert (login.scheme, login.fetch_dest, login.status) == ("https", "iframe", 200), info
        script = flow_step(flow, TOOL_HOST, "GET", "/static/js/cookie_check.js")
        assert script.status == 200, info
        auth = flow_step(flow, LMS_HOST, "GET", "/auth")
        assert (auth.fetch_dest, auth.status) == ("iframe", 200), info
        launch = flow_step(flow, TOOL_HOST, "POST", "/lti/launch")
        assert (launch.scheme, launch.fetch_dest, launch.status) == ("https", "iframe", 303), info
        assert launch.fetch_site == "cross-site", info
        # The OIDC session cookie set in the frame came back on the cross-site form post.
        assert SESSION_COOKIE + "=" in launch.cookies, info
        order = [flow.index(step) for step in (login, auth, launch)]
        assert order == sorted(order), info
        landing = flow_step(flow, TOOL_HOST, "GET", f"/courses/{course_id}{suffix}")
        assert (landing.fetch_dest, landing.status) == ("iframe", 200), info

        # Why it works with default settings: the OIDC cookie is SameSite=None; Secure (CHIPS).
        cookies = {c["name"]: c for c in context.cookies(stack.tool_origin + "/")}
        assert SESSION_COOKIE in cookies, f"cookies: {cookies}\n{info}"
        session_cookie = cookies[SESSION_COOKIE]
        assert session_cookie["sameSite"] == "None", session_cookie
        assert session_cookie["secure"] is True, session_cookie
        assert session_cookie["httpOnly"] is True, session_cookie
        # The per-course session cookie set by the launch is a cross-site cookie too.
        course_cookie = f"lti_tool_c{course_id}"
        course_cookies = {
            c["name"]: c for c in context.cookies(f"{stack.tool_origin}/courses/{course_id}/")
        }
        assert course_cookie in course_cookies, f"cookies: {course_cookies}\n{info}"
        assert course_cookies[course_cookie]["sameSite"] == "None", course_cookies
        assert course_cookies[course_cookie]["secure"] is True, course_cookies
        for cookie in (session_cookie, course_cookies[course_cookie]):
            # Partitioned (CHIPS) by the LMS's site, checked only if Playwright exposes it.
            if cookie.get("partitionKey") is not None:
                assert cookie["partitionKey"] == f"https://{LMS_HOST}", cookie
    finally:
        context.close()
