"""Logging that never writes session tokens, id_tokens or query strings to the access log."""

from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"(\"[A-Z]+ [^?\s\"]*)\?[^\s\"]*")
_SECRETS = re.compile(r"((?:id_token|t|token|JWT)=)[^&\s\"]+")


class RedactQueryFilter(logging.Filter):
    """Strip query strings from request lines and redact token-like parameters."""

    def filter(self, record: logging.LogRecord) -> bool:
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
