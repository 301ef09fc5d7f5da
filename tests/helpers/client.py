"""The test client of the tool: https to tool.test, as a browser inside an LMS talks to it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient


class HttpsClient(FlaskClient):
    """A test client whose requests go to https://tool.test unless told otherwise."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("base_url") and not (args and not isinstance(args[0], str)):
            kwargs["base_url"] = "https://tool.test"
        return super().open(*args, **kwargs)


def https_client(app: Flask) -> FlaskClient:
    """A client talking https to tool.test (so cookies are Secure; SameSite=None)."""
    app.test_client_class = HttpsClient
    return app.test_client()
