"""Video KPIs computed the way Open edX Insights does (edx-analytics-pipeline video timeline).

Reference: ``edx/analytics/tasks/insights/video.py`` in edx-analytics-pipeline
(``UserVideoViewingTask`` for viewings, ``VideoUsageTask`` for the timeline and summary);
see the README's "How the numbers are made" (Video). Where that prose leaves room, this module
follows the pipeline's code, because our figures must match Insights on the same logs. The
viewings themselves, and the rules they follow, are lti_tool.activity.video's: the rollups store
them as segment runs at ingest, and these KPIs add the runs up. Insights outputs timeline rows
only up to the video's final segment, and ``total_viewed_seconds`` sums only those rows (see
``reported_segments``).

Pure Python: the callers read the stored runs from the database.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from lti_tool.activity.video import (
    SEGMENT_SECONDS,
    known_duration,
    viewing_spans,
)

DROPOFF_THRESHOLD = 0.05


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


def viewings(events: Iterable[VideoEvent], duration: float | None = None) -> list[Viewing]:
    """Turn one learner's events on one video into Insights-style viewings."""
    rows = ((e.time, e.kind, e.current_time, e.old_time, e.new_time, e.duration) for e in events)
    return [Viewing(start, end) for start, end in viewing_spans(rows, duration)]


def segments(viewing: Viewing) -> range:
    """Return the 5-second segments a viewing touches, both ends included."""
    return range(int(viewing.start) // SEGMENT_SECONDS, int(viewing.end) // SEGMENT_SECONDS + 1)


def seen_runs(runs: Sequence[int]) -> list[tuple[int, int]]:
    """The segments seen at least once, as sorted, disjoint (first, last) runs."""
    if len(runs) == 2:
        return [(runs[0], runs[1])]  # one run (most viewings): nothing to merge
    pairs = sorted(zip(runs[::2], runs[1::2], strict=True))
    merged: list[tuple[int, int]] = []
    for first, last in pairs:
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def covering(starts: Counter[int], stops: Counter[int]) -> dict[int, int]:
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
    return merged_totals((runs, seen_runs(runs)) for runs in learner_runs)


def merged_totals(
    learner_runs: Iterable[tuple[Sequence[int], Sequence[tuple[int, int]]]],
) -> tuple[dict[int, int], dict[int, int]]:
    """runs_totals from every learner's (runs, seen_runs of them): for a caller that needs the
    merged runs for more (merging is most of the cost at 1,000,000 viewings)."""
    # The ends gathered in lists and counted once (Counter's C loop), not counted per viewing.
    view_starts: list[int] = []
    view_lasts: list[int] = []
    user_starts: list[int] = []
    user_lasts: list[int] = []
    for runs, merged in learner_runs:
        view_starts += runs[::2]
        view_lasts += runs[1::2]
        for first, last in merged:
            user_starts.append(first)
            user_lasts.append(last)
    return (
        covering(Counter(view_starts), stops_after(Counter(view_lasts))),
        covering(Counter(user_starts), stops_after(Counter(user_lasts))),
    )


def stops_after(lasts: Counter[int]) -> Counter[int]:
    """Runs' last segments counted as the segments after them (where the runs stop)."""
    return Counter({last + 1: count for last, count in lasts.items()})


def runs_coverage(runs: Sequence[int], duration: float) -> tuple[float, bool]:
    """learner_coverage() of the segments a learner's runs cover, without listing them."""
    return merged_coverage(seen_runs(runs), duration)


def merged_coverage(merged: Sequence[tuple[int, int]], duration: float) -> tuple[float, bool]:
    """runs_coverage from the runs merged (seen_runs)."""
    return coverage(duration)(merged)


def coverage(duration: float) -> Callable[[Sequence[tuple[int, int]]], tuple[float, bool]]:
    """merged_coverage for one duration, its bounds found once (for a video's many viewers)."""
    if math.isnan(duration) or duration < 0:
        raise ValueError(f"duration must be a non-negative number, got {duration!r}")
    last = int(duration) // SEGMENT_SECONDS
    end = end_segment(duration)
    segments = last + 1

    def of(merged: Sequence[tuple[int, int]]) -> tuple[float, bool]:
        if len(merged) == 1:  # most viewers: one run
            first, stop = merged[0]
            return max(0, min(stop, last) - max(first, 0) + 1) / segments, first <= end <= stop
        seen = sum(max(0, min(stop, last) - max(first, 0) + 1) for first, stop in merged)
        return seen / segments, any(first <= end <= stop for first, stop in merged)

    return of


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
    known = known_duration(duration)
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
    known = known_duration(duration)
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
