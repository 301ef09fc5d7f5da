"""Logging that never writes session tokens, id_tokens or query strings to the access log."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

_QUERY = re.compile(r"(\"[A-Z]+ [^?\s\"]*)\?[^\s\"]*")
_SECRETS = re.compile(r"((?:id_token|t|token|JWT)=)[^&\s\"]+")


class RedactQueryFilter(logging.Filter):
    """Strip query strings from request lines and redact token-like parameters."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without query strings or secrets; keep the record."""
        message = record.getMessage()
        cleaned = _SECRETS.sub(r"\1[redacted]", _QUERY.sub(r"\1", message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_logging() -> None:
    """Install the redaction filter on the loggers that print request lines."""
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryFilter) for f in logger.filters):
            logger.addFilter(RedactQueryFilter())


REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Attach the current request's id (or "-") to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` to the record; keep the record."""
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: str = "INFO") -> None:
    """Structured logs to stdout (production): one JSON line per record, with request ids."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactQueryFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


def init_request_ids(app: Flask) -> None:
    """Give every request an id (the proxy's X-Request-ID when sane) and echo it back."""

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        return response
