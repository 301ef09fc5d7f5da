"""How figures read in words, shared by the KPIs' reasons and the pages: durations as h:mm."""

from __future__ import annotations


def hmm(seconds: float | None) -> str:
    """Seconds as h:mm (0:18, 12:05), rounded to the minute; a dash for none."""
    if seconds is None:
        return "\u2013"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
