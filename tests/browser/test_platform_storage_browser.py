"""LTI Platform Storage in chromium: the LMS page keeps the OIDC state through postMessages.

Every Set-Cookie of the tool's login and launch answers is stripped on the way to the browser,
by a middleware in front of the tool (Chromium keeps Partitioned cookies even with third-party
cookies blocked, so blocking alone would prove nothing): the launch must succeed on platform
storage alone, and the LMS page must have seen `lti.put_data` and `lti.get_data`. Where the LMS
does not answer, the login falls back to cookies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, running_stack

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000


class StripSetCookie:
    """WSGI middleware: no Set-Cookie on /lti/ answers while `on` (each path recorded)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.on = False
        self.stripped: list[str] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if self.on and path.startswith("/lti/"):
                self.stripped.append(path)
                headers = [(k, v) for k, v in headers if k.lower() != "set-cookie"]
            return start_response(status, headers, *args)

        return self.app(environ, start)


@pytest.fixture(scope="module")
def stripper() -> dict[str, StripSetCookie]:
    return {}


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory,
    tmp_path_factory: pytest.TempPathFactory,
    stripper: dict[str, StripSetCookie],
) -> Iterator[Stack]:
    def wrap(app: Any) -> StripSetCookie:
        stripper["tool"] = StripSetCookie(app)
        return stripper["tool"]

    with running_stack(https_servers, tmp_path_factory.mktemp("storage"), wrap=wrap) as running:
        yield running


@pytest.mark.parametrize("user", ["instructor", "student"])
def test_launch_succeeds_on_platform_storage_without_any_cookie(
    browser: Browser, stack: Stack, stripper: dict[str, StripSetCookie], user: str
) -> None:
    context = browser.new_context(ignore_https_errors=True)
    middleware = stripper["tool"]
    middleware.on, middleware.stripped = True, []
    try:
        page = context.new_page()
        page.goto(f"{stack.lms_origin}/course?as={user}&storage=answer")
        frame = page.frame_locator("iframe")
        frame.locator("#course-title, section.problem").first.wait_for(timeout=TIMEOUT_MS)
        assert frame.locator("#course-title").count() == 1, frame.locator("body").inner_text()
        seen = page.evaluate("window.__seen")
        assert "lti.capabilities" in seen and "lti.put_data" in seen and "lti.get_data" in seen
        assert seen.index("lti.put_data") < seen.index("lti.get_data")
        # The login and both launch posts (the LMS's form, then our page's with the state the
        # LMS kept) went out without a cookie; the browser holds none of the tool's.
        assert middleware.stripped.count("/lti/login") == 1
        assert middleware.stripped.count("/lti/launch") == 2
        assert not [c for c in context.cookies(stack.tool_origin) if c["name"].startswith("lti")]
        url = page.query_selector("iframe").content_frame().url
        assert "/courses/" in url and "t=" in url
    finally:
        middleware.on = False
        context.close()


def test_without_an_answer_from_the_lms_the_login_falls_back_to_cookies(
    browser: Browser, stack: Stack
) -> None:
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"{stack.lms_origin}/course?as=instructor&storage=silent")
        frame = page.frame_locator("iframe")
        frame.locator("#course-title, section.problem").first.wait_for(timeout=TIMEOUT_MS)
        assert frame.locator("#course-title").count() == 1, frame.locator("body").inner_text()
        assert page.evaluate("window.__seen") == ["lti.capabilities"]
        names = {c["name"] for c in context.cookies(stack.tool_origin)}
        assert "lti1p3-session-id" in names  # the cookie path carried the state
    finally:
        context.close()
