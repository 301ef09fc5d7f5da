"""How figures read in words, shared by the KPIs' reasons and the pages: durations as h:mm."""

from __future__ import annotations


def hmm(seconds: float | None) -> str:
    """Seconds as h:mm (0:18, 12:05), rounded to the minute; a dash for none."""
    if seconds is None:
        return "\u2013"
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def hmmss(seconds: float) -> str:
    """Seconds as h:mm:ss (0:18:05), rounded to the second."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def hmm_apart(first: float, second: float) -> tuple[str, str]:
    """Two durations as h:mm, or as h:mm:ss when h:mm would show different ones alike ("1:02,
    below 1:02" would read as a contradiction)."""
    if first != second and hmm(first) == hmm(second):
        return hmmss(first), hmmss(second)
    return hmm(first), hmm(second)
