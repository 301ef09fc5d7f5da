"""What every fake server of the tests shares: serving a WSGI app on 127.0.0.1 in a thread.

`serve` is the one way the tests serve over a socket (plain http, or https with a TLS context
for the browser tests); `ServedFake` is the base of the fake LMS servers, whose instances are
the WSGI apps they serve.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def serve(
    app: WsgiApp,
    ssl_context: ssl.SSLContext | None = None,
    name: str | None = None,
    quiet: bool = True,
) -> tuple[BaseWSGIServer, threading.Thread]:
    """Serve `app` on a free port of 127.0.0.1, threaded, from a daemon thread."""
    server = make_server(
        "127.0.0.1",
        0,
        app,
        threaded=True,
        ssl_context=ssl_context,
        request_handler=QuietHandler if quiet else None,
    )
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, thread


class ServedFake:
    """A fake whose instances are WSGI apps (`__call__`), served on a free port by `start()`."""

    _server: BaseWSGIServer | None

    def start(self) -> Self:
        """Serve in a daemon thread on a free port."""
        self._server, _ = serve(self)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        """The port the fake listens on."""
        assert self._server is not None
        return self._server.server_port

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT: where the fake answers (its base URL, or issuer)."""
        return f"http://127.0.0.1:{self.port}"
