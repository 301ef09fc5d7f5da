"""Browser-test fixtures: a trustme TLS certificate, https servers in threads, headless chromium.

The browser is Debian's chromium driven by Playwright (never `playwright install`). Host names
are mapped to 127.0.0.1 inside chromium with --host-resolver-rules, so `tool.test` and
`lms.test` are two different sites served by two local https servers on random free ports.
The servers and the LMS of the tests are in tests/helpers/browser.py and browser_lms.py.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator

import pytest
import trustme
from playwright.sync_api import Browser, sync_playwright

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, LMS_HOST, TOOL_HOST, ServerFactory


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """A server TLS context with a certificate for tool.test and lms.test from a trustme CA."""
    ca = trustme.CA()
    cert = ca.issue_cert(TOOL_HOST, LMS_HOST)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def https_servers(tls_context: ssl.SSLContext) -> Iterator[ServerFactory]:
    """A factory of https servers, all shut down when the module's tests are done."""
    factory = ServerFactory(tls_context)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless chromium with its default cookie settings.

    Skipped when /usr/bin/chromium is missing, except under CI=true, where that is a failure.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing, and browser tests must run under CI=true")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); not under CI")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()
