"""Open edX usernames: which values name somebody (no imports: log-parsing workers use it)."""

from __future__ import annotations

from typing import Any

#: Values that Open edX puts in a username field and that name nobody: "" for events of no
#: request user, "anonymous" on some enrollment events, "unknown" on task events.
NOT_USERNAMES = frozenset({"", "anonymous", "unknown"})


def real_username(value: Any) -> str | None:
    """An Open edX username, or None for empty strings, placeholders and non-strings."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return None if value.lower() in NOT_USERNAMES else value
