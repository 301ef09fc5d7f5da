"""Video events as the event store keeps them: the kinds, the video ids, and each learner's
viewings packed as segment runs (video_learner_views.runs), built at ingest by the rollups.

Viewings are made the way Open edX Insights does (edx-analytics-pipeline video timeline,
``UserVideoViewingTask``); see the README's "How the numbers are made" (Video). Where that prose
leaves room, this module follows the pipeline's code, because our figures must match Insights on
the same logs:

* Offsets are screened per event before any viewing is built: a play/stop without a position,
  a seek without both positions, or any position that is negative, NaN, infinite or over 10 h is
  dropped as if it had never been logged (a pause without a position counts as position 0).
  Hence "viewings longer than 10 h" never survive: both ends lie in [0, 10 h].
* A seek only moves the start of the next viewing when that seek *closed* an open viewing
  (play -> seek -> play). A seek, pause or stop with no viewing open is ignored entirely.
* A play while a viewing is open discards the open viewing and starts afresh.
* Events are ordered like the pipeline's ``sorted(events)`` on tuples: time, then event type
  (pause < play < seek < stop, the alphabetical order of the legacy names), then position.

The video KPIs (lti_tool.kpis.video) read the runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

VIDEO_EVENT_NAMES: dict[str, str] = {
    "play_video": "play",
    "edx.video.played": "play",
    "pause_video": "pause",
    "edx.video.paused": "pause",
    "seek_video": "seek",
    "edx.video.position.changed": "seek",
    "stop_video": "stop",
    "edx.video.stopped": "stop",
    "load_video": "load",
    "edx.video.loaded": "load",
    "complete_video": "complete",
    "edx.video.completed": "complete",
}

SEGMENT_SECONDS = 5
MIN_VIEWING_SECONDS = 0.25
# The pipeline's VIDEO_MAXIMUM_DURATION is checked in _check_time_offset against every event's
# video position (currentTime, old_time, new_time), not against wall-clock time or end - start;
# an offending event is discarded before viewings are formed. We do the same (see _position).
MAX_VIEWING_SECONDS = 10 * 3600
PLAY = "play"
PAUSE = "pause"
STOP = "stop"
SEEK = "seek"

# Tie-break for events with the same timestamp: the pipeline sorts (timestamp, event_type, ...)
# tuples, so legacy names decide: pause_video < play_video < seek_video < stop_video.
_KIND_ORDER = {PAUSE: 0, PLAY: 1, SEEK: 2, STOP: 3}


# One video event as a plain tuple, the fast form rollups use:
# (time, kind, current_time, old_time, new_time, duration), fields as in VideoEvent.
VideoRow = tuple[float, str, float | None, float | None, float | None, float | None]

_PLAY, _PAUSE, _SEEK = _KIND_ORDER[PLAY], _KIND_ORDER[PAUSE], _KIND_ORDER[SEEK]


def _position(value: float | None) -> float | None:
    """Return a usable video position, or None where the pipeline discards the event."""
    if value is None:
        return None
    value = float(value)
    # NaN fails both comparisons; infinities and negatives fall outside the range.
    if 0.0 <= value <= MAX_VIEWING_SECONDS:
        return value
    return None


def known_duration(value: float | None) -> float | None:
    """Return the duration, or None when it is missing or meaningless."""
    # The pipeline maps a missing/null/0 duration to its "unknown" sentinel (-1); negative or NaN
    # values cannot be real durations either, so they are treated as unknown too.
    if value is None or not value > 0:
        return None
    return float(value)


def _steps(rows: Iterable[VideoRow]) -> list[tuple[float, int, float, float, int, float | None]]:
    """Screen events as the pipeline's mapper does, dropping the ones it would drop.

    Each step is (time, kind order, position, old_time, arrival, duration): position is
    currentTime for play/pause/stop and new_time for seek; old_time is the seek's, -inf
    otherwise (Python 2 sorted None first). Sorting the tuples orders events like the
    pipeline's sorted(events); `arrival` keeps full ties in the order they came, as a stable
    sort would.
    """
    steps = []
    for arrival, (time, kind, current, old, new, duration) in enumerate(rows):
        order = _KIND_ORDER.get(kind)
        if order is None:
            continue
        if order == _SEEK:
            position = _position(new)
            old_time = _position(old)
            if old_time is None:
                continue
        else:
            if current is None and order == _PAUSE:
                # Players omit currentTime when paused at the very beginning; the pipeline
                # assumes 0.
                current = 0.0
            position = _position(current)
            old_time = -math.inf
        if position is None:
            continue
        steps.append((time, order, position, old_time, arrival, known_duration(duration)))
    steps.sort()
    return steps


def _kept(start: float, end: float, duration: float | None) -> bool:
    """Apply the pipeline's end_viewing checks, in its order."""
    # +1 s of slack because durations are often whole seconds while positions are not.
    if duration is not None and end > duration + 1:
        return False
    if end < start:
        return False
    return end - start >= MIN_VIEWING_SECONDS


def viewing_spans(
    rows: Iterable[VideoRow], duration: float | None = None
) -> list[tuple[float, float]]:
    """viewings() over plain tuples, as (start, end) pairs: the form rollups use for speed."""
    fallback = known_duration(duration)
    result: list[tuple[float, float]] = []
    open_start: float | None = None
    open_duration: float | None = None
    # new_time of the seek that closed the previous viewing; the next play starts there, since
    # the play emitted right after a seek often still reports the pre-seek currentTime.
    seek_target: float | None = None
    for _time, order, position, old_time, _arrival, step_duration in _steps(rows):
        if order == _PLAY:
            # A play while a viewing is open silently replaces it (the open one is discarded).
            open_start = position if seek_target is None else seek_target
            # Duration comes from the play that opens the viewing (as in the pipeline), else the
            # caller's value (LMS course structure), as the README's video rules say.
            open_duration = step_duration if step_duration is not None else fallback
            seek_target = None
        elif open_start is not None:
            end = old_time if order == _SEEK else position
            if _kept(open_start, end, open_duration):
                result.append((open_start, end))
            # The viewing is closed even when rejected: the pipeline treats it as untrustworthy.
            open_start = None
            seek_target = position if order == _SEEK else None
        # Any other event arrives with no viewing open and is ignored; it deliberately leaves
        # seek_target alone, as the pipeline only updates it when a viewing ends.
    # A viewing still open at the end has no end position and is dropped.
    return result


def segment_runs(spans: Iterable[tuple[float, float]]) -> list[int]:
    """One learner's viewings of a video, packed: [first, last, first, last, …] segments.

    Each viewing adds one view to every segment from its first to its last, both included, so
    the runs are views_per_segment in a form that stays small however long the viewings are.
    """
    runs: list[int] = []
    for start, end in spans:
        runs.append(int(start) // SEGMENT_SECONDS)
        runs.append(int(end) // SEGMENT_SECONDS)
    return runs


def video_id(raw_id: str) -> str:
    """The last hash-like segment of a video id (i4x-, i4x://, block-v1: or a bare hash)."""
    value = raw_id.strip()
    block = value.rfind("block@")
    if block >= 0:
        return value[block + 6 :]
    if value.startswith("i4x://"):
        return value.rsplit("/", 1)[-1]
    if value.startswith("i4x-"):
        # i4x-<org>-<course>-video-<name>: cut at the category so a name with '-' survives.
        marker = value.find("-video-")
        if marker >= 0:
            return value[marker + 7 :]
        return value.rsplit("-", 1)[-1]
    return value
