"""What every fake LMS server of the tests shares: serving a WSGI app on 127.0.0.1 in a thread."""

from __future__ import annotations

import threading
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class ServedFake:
    """A fake whose instances are WSGI apps (`__call__`), served on a free port by `start()`."""

    _server: BaseWSGIServer | None

    def start(self) -> Self:
        """Serve in a daemon thread on a free port."""
        self._server = make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=QuietHandler
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT: where the fake answers (its base URL, or issuer)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"
