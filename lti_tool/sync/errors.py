"""The errors a sync stops with: their messages say why in words, never a secret or remote text
(they are shown on admin pages)."""

from __future__ import annotations

import re
from typing import Any


class SyncError(Exception):
    """A sync that cannot finish; the message says why, in words, without secrets."""

    def __init__(self, message: str, requests_made: int = 0, counts: dict[str, Any] | None = None):
        super().__init__(message)
        self.requests_made = requests_made
        self.counts = counts or {}


class Stopped(SyncError):
    """The process is shutting down; the run stops before writing anything."""


#: What an OAuth error code looks like (RFC 6749 §5.2: invalid_client, …); anything else is prose.
OAUTH_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
