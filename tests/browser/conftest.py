"""Browser-test plumbing: a trustme TLS certificate, https servers in threads, headless chromium.

The browser is Debian's chromium driven by Playwright (never `playwright install`). Host names
are mapped to 127.0.0.1 inside chromium with --host-resolver-rules, so `tool.test` and
`lms.test` are two different sites served by two local https servers on random free ports.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path("/usr/bin/chromium")
TOOL_HOST = "tool.test"
LMS_HOST = "lms.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {TOOL_HOST} 127.0.0.1, MAP {LMS_HOST} 127.0.0.1",
]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it (server-side proof of what the browser did)."""

    server: str
    method: str
    path: str
    query: str
    scheme: str
    host: str
    fetch_dest: str | None
    fetch_site: str | None
    cookies: str
    status: int | None = None


class RecordingApp:
    """A WSGI wrapper that records every request; its inner app may be set after binding."""

    def __init__(self, name: str, log: list[SeenRequest]) -> None:
        self.name = name
        self.log = log
        self.app: WsgiApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, f"{self.name}: no application set"
        seen: dict[str, Any] = {
            "server": self.name,
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "scheme": environ["wsgi.url_scheme"],
            "host": environ.get("HTTP_HOST", ""),
            "fetch_dest": environ.get("HTTP_SEC_FETCH_DEST"),
            "fetch_site": environ.get("HTTP_SEC_FETCH_SITE"),
            "cookies": environ.get("HTTP_COOKIE", ""),
        }

        def recording_start_response(status: str, headers: Any, *args: Any) -> Any:
            self.log.append(SeenRequest(**seen, status=int(status.split()[0])))
            return start_response(status, headers, *args)

        return self.app(environ, recording_start_response)


@dataclass
class HttpsServer:
    """A werkzeug https server running in a background thread."""

    server: BaseWSGIServer
    recorder: RecordingApp
    thread: threading.Thread
    host_name: str

    @property
    def port(self) -> int:
        """The port the server really bound."""
        return int(self.server.socket.getsockname()[1])

    @property
    def origin(self) -> str:
        """The https origin the browser uses for this server."""
        return f"https://{self.host_name}:{self.port}"

    def serve(self, app: WsgiApp) -> None:
        """Set the application to answer requests with."""
        self.recorder.app = app

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class ServerFactory:
    """Starts https servers on random free ports and remembers them for shutdown."""

    ssl_context: ssl.SSLContext
    log: list[SeenRequest] = field(default_factory=list)
    servers: list[HttpsServer] = field(default_factory=list)

    def start(self, host_name: str) -> HttpsServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread (app set later)."""
        recorder = RecordingApp(host_name, self.log)
        server = make_server("127.0.0.1", 0, recorder, threaded=True, ssl_context=self.ssl_context)
        thread = threading.Thread(target=server.serve_forever, name=host_name, daemon=True)
        thread.start()
        running = HttpsServer(server, recorder, thread, host_name)
        self.servers.append(running)
        return running

    def stop_all(self) -> None:
        """Stop every server this factory started."""
        for running in self.servers:
            running.stop()


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
