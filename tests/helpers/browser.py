"""The browser tests' servers: https on 127.0.0.1 as tool.test and lms.test (chromium maps the
names), each recording the requests it received, and Debian's chromium with its arguments."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer

from tests.helpers.fake_http import WsgiApp, serve

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
        server, thread = serve(recorder, ssl_context=self.ssl_context, name=host_name, quiet=False)
        running = HttpsServer(server, recorder, thread, host_name)
        self.servers.append(running)
        return running

    def stop_all(self) -> None:
        """Stop every server this factory started."""
        for running in self.servers:
            running.stop()
