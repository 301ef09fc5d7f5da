"""The errors a sync stops with: their messages say why in words, never a secret or remote text
(they are shown on admin pages)."""

from __future__ import annotations

import re
from typing import Any

from lti_tool.i18n.text import Explained


class SyncError(Explained):
    """A sync that cannot finish; the message (marked with N_ where raised, and its values) says
    why, in words, without secrets: English in the logs and the CLI, the page's language on a
    page (the run keeps its id, lti_tool.i18n.stored)."""

    def __init__(
        self,
        message: str,
        requests_made: int = 0,
        counts: dict[str, Any] | None = None,
        **variables: Any,
    ) -> None:
        super().__init__(message, **variables)
        self.requests_made = requests_made
        self.counts = counts or {}


class Stopped(SyncError):
    """The process is shutting down; the run stops before writing anything."""


#: What an OAuth error code looks like (RFC 6749 §5.2: invalid_client, …); anything else is prose.
OAUTH_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
