"""Video KPIs computed the way Open edX Insights does (edx-analytics-pipeline video timeline).

Reference: ``edx/analytics/tasks/insights/video.py`` in edx-analytics-pipeline
(``UserVideoViewingTask`` for viewings, ``VideoUsageTask`` for the timeline and summary);
see the README's "How the numbers are made" (Video). Where that prose leaves room, this module
follows the pipeline's code, because our figures must match Insights on the same logs:

* Offsets are screened per event before any viewing is built: a play/stop without a position,
  a seek without both positions, or any position that is negative, NaN, infinite or over 10 h is
  dropped as if it had never been logged (a pause without a position counts as position 0).
  Hence "viewings longer than 10 h" never survive: both ends lie in [0, 10 h].
* A seek only moves the start of the next viewing when that seek *closed* an open viewing
  (play -> seek -> play). A seek, pause or stop with no viewing open is ignored entirely.
* A play while a viewing is open discards the open viewing and starts afresh.
* Events are ordered like the pipeline's ``sorted(events)`` on tuples: time, then event type
  (pause < play < seek < stop, the alphabetical order of the legacy names), then position.
* Insights outputs timeline rows only up to the video's final segment, and
  ``total_viewed_seconds`` sums only those rows (see ``reported_segments``).

Pure Python: the caller reads events from the database and stores the results as rollups.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

SEGMENT_SECONDS = 5
MIN_VIEWING_SECONDS = 0.25
# The pipeline's VIDEO_MAXIMUM_DURATION is checked in _check_time_offset against every event's
# video position (currentTime, old_time, new_time), not against wall-clock time or end - start;
# an offending event is discarded before viewings are formed. We do the same (see _position).
MAX_VIEWING_SECONDS = 10 * 3600
DROPOFF_THRESHOLD = 0.05

PLAY = "play"
PAUSE = "pause"
STOP = "stop"
SEEK = "seek"

# Tie-break for events with the same timestamp: the pipeline sorts (timestamp, event_type, ...)
# tuples, so legacy names decide: pause_video < play_video < seek_video < stop_video.
_KIND_ORDER = {PAUSE: 0, PLAY: 1, SEEK: 2, STOP: 3}


@dataclass(frozen=True, slots=True)
class VideoEvent:
    """One video event of one learner on one video, already normalised by the caller."""

    time: float  # epoch seconds of the event
    kind: str  # "play" | "pause" | "stop" | "seek"; anything else is ignored
    current_time: float | None  # currentTime / current_time of play, pause, stop
    old_time: float | None = None  # seek
    new_time: float | None = None  # seek
    duration: float | None = None  # when the event carries it


@dataclass(frozen=True, slots=True)
class Viewing:
    """A continuous stretch of video played by one learner, in video seconds."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """Per-video figures as in Insights' ``video`` table."""

    duration: float | None
    segment_length: int
    users_at_start: int
    users_at_end: int
    total_viewed_seconds: int


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


def _known_duration(value: float | None) -> float | None:
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
        steps.append((time, order, position, old_time, arrival, _known_duration(duration)))
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
    fallback = _known_duration(duration)
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


def viewings(events: Iterable[VideoEvent], duration: float | None = None) -> list[Viewing]:
    """Turn one learner's events on one video into Insights-style viewings."""
    rows = ((e.time, e.kind, e.current_time, e.old_time, e.new_time, e.duration) for e in events)
    return [Viewing(start, end) for start, end in viewing_spans(rows, duration)]


def segments(viewing: Viewing) -> range:
    """Return the 5-second segments a viewing touches, both ends included."""
    return range(int(viewing.start) // SEGMENT_SECONDS, int(viewing.end) // SEGMENT_SECONDS + 1)


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


def seen_runs(runs: Sequence[int]) -> list[tuple[int, int]]:
    """The segments seen at least once, as sorted, disjoint (first, last) runs."""
    pairs = sorted(zip(runs[::2], runs[1::2], strict=True))
    merged: list[tuple[int, int]] = []
    for first, last in pairs:
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _counts(starts: Counter[int], stops: Counter[int]) -> dict[int, int]:
    """Per segment, how many runs cover it; runs start at `starts` and end before `stops`."""
    counts: dict[int, int] = {}
    edges = sorted(set(starts) | set(stops))
    level = 0
    for edge, following in pairwise(edges):
        level += starts[edge] - stops[edge]
        if level:
            counts.update(dict.fromkeys(range(edge, following), level))
    return counts


def runs_totals(learner_runs: Iterable[Sequence[int]]) -> tuple[dict[int, int], dict[int, int]]:
    """Views per segment and users per segment of a video, from every learner's runs.

    The same figures as summing views_per_segment over learners and counting the learners with
    a view, computed from the runs' ends rather than segment by segment.
    """
    view_starts: Counter[int] = Counter()
    view_stops: Counter[int] = Counter()
    user_starts: Counter[int] = Counter()
    user_stops: Counter[int] = Counter()
    for runs in learner_runs:
        view_starts.update(runs[::2])
        view_stops.update(last + 1 for last in runs[1::2])
        for first, last in seen_runs(runs):
            user_starts[first] += 1
            user_stops[last + 1] += 1
    return _counts(view_starts, view_stops), _counts(user_starts, user_stops)


def runs_coverage(runs: Sequence[int], duration: float) -> tuple[float, bool]:
    """learner_coverage() of the segments a learner's runs cover, without listing them."""
    if math.isnan(duration) or duration < 0:
        raise ValueError(f"duration must be a non-negative number, got {duration!r}")
    last = int(duration) // SEGMENT_SECONDS
    seen = sum(max(0, min(stop, last) - max(first, 0) + 1) for first, stop in seen_runs(runs))
    end = end_segment(duration)
    completed = any(first <= end <= stop for first, stop in seen_runs(runs))
    return seen / (last + 1), completed


def views_per_segment(learner_viewings: Iterable[Viewing]) -> dict[int, int]:
    """Count one learner's views per segment (each viewing adds one to every segment it spans)."""
    counts: Counter[int] = Counter()
    for viewing in learner_viewings:
        counts.update(segments(viewing))
    return dict(sorted(counts.items()))


def end_segment(duration: float) -> int:
    """Return the segment that counts as "watched to the end" (skips last 30 s or 5 %)."""
    return int(max(duration - 30, 0.95 * duration)) // SEGMENT_SECONDS


def _watched(per_segment: Mapping[int, int]) -> list[int]:
    """Segments present in the pipeline's usage map, i.e. watched at least once."""
    return sorted(segment for segment, count in per_segment.items() if count > 0)


def _inferred_final_segment(users_per_segment: Mapping[int, int]) -> int | None:
    """Reproduce VideoUsageTask.get_final_segment; None when nothing was watched."""
    watched = _watched(users_per_segment)
    if not watched:
        return None
    # Walk back over watched segments only (the pipeline's map is sparse). The final segment is
    # the *earlier* one of the first pair, from the end, where the later segment keeps no more
    # than 5 % of the earlier one's users: what follows is taken as stray events past the end.
    final = watched[-1]
    later_users = users_per_segment[final]
    for segment in reversed(watched[:-1]):
        users = users_per_segment[segment]
        if later_users <= users * DROPOFF_THRESHOLD:
            return segment
        later_users = users
    return final


def infer_duration(users_per_segment: Mapping[int, int]) -> float | None:
    """Infer a video's duration from the drop-off in users per segment, as Insights does."""
    final = _inferred_final_segment(users_per_segment)
    if final is None:
        return None
    return float((final + 1) * SEGMENT_SECONDS - 1)


def final_segment(users_per_segment: Mapping[int, int], duration: float | None) -> int | None:
    """Return the last segment Insights reports: from the duration, else inferred."""
    known = _known_duration(duration)
    if known is None:
        return _inferred_final_segment(users_per_segment)
    return int(known) // SEGMENT_SECONDS


def reported_segments(watched_segments: Iterable[int], final: int | None) -> list[int]:
    """Return the timeline segments Insights outputs, given the final segment."""
    ordered = sorted(set(watched_segments))
    # The pipeline emits rows in order and stops *at* the final segment; when nobody watched the
    # final segment it never meets it and so emits every row, including ones past the end.
    if final is None or final not in ordered:
        return ordered
    return [segment for segment in ordered if segment <= final]


def summarize(
    views_per_segment: Mapping[int, int],
    users_per_segment: Mapping[int, int],
    duration: float | None,
) -> VideoSummary:
    """Compute Insights' per-video summary from the aggregated timeline."""
    known = _known_duration(duration)
    if known is None:
        known = infer_duration(users_per_segment)
    final = final_segment(users_per_segment, known)
    users_at_end = 0 if known is None else users_per_segment.get(end_segment(known), 0)
    reported = reported_segments(_watched(views_per_segment), final)
    return VideoSummary(
        duration=known,
        segment_length=SEGMENT_SECONDS,
        users_at_start=users_per_segment.get(0, 0),
        users_at_end=users_at_end,
        total_viewed_seconds=sum(views_per_segment[s] for s in reported) * SEGMENT_SECONDS,
    )


def learner_coverage(seen_segments: set[int], duration: float) -> tuple[float, bool]:
    """Return (share of the video's segments seen, whether the end segment was reached)."""
    if math.isnan(duration) or duration < 0:
        raise ValueError(f"duration must be a non-negative number, got {duration!r}")
    last = int(duration) // SEGMENT_SECONDS
    seen = {segment for segment in seen_segments if 0 <= segment <= last}
    # Completion means the end segment itself was seen, so that completions summed over
    # learners equal Insights' users_at_end.
    return len(seen) / (last + 1), end_segment(duration) in seen_segments


def timeline(per_learner_segments: Mapping[str, Mapping[int, int]]) -> dict[int, tuple[int, int]]:
    """Aggregate per-learner views per segment into segment -> (num_users, num_views)."""
    users: Counter[int] = Counter()
    views: Counter[int] = Counter()
    for learner_views in per_learner_segments.values():
        for segment, count in learner_views.items():
            if count > 0:
                users[segment] += 1
                views[segment] += count
    return {segment: (users[segment], views[segment]) for segment in sorted(users)}
