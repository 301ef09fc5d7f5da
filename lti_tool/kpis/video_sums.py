"""The class's video figures kept as sums over its learners' viewings (VideoSums), so that the
change of a few learners is added to them instead of adding up the class again: where the
runs of views and of distinct viewers start and stop per video, viewers and completions per
video, the shares watched per video (the typical learner's median) and the learners active
per day. Every figure of the videos page and the typical learner is a function of them
(lti_tool.kpis.video_engagement.video_figures, lti_tool.kpis.student.typical_of_counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

from lti_tool.kpis.video import coverage, covering, seen_runs, stops_after

#: A viewing: video id, its segment runs (video_learner_views.runs), decoded or as stored.
Viewing = tuple[str, Any]
_PER_VIDEO = ("view_starts", "view_stops", "user_starts", "user_stops", "shares")


@dataclass
class VideoSums:
    """Per video (id): segment -> how many runs start there, and stop just before it (of the
    views, and of each viewer's merged runs); viewers and completions; share watched -> how
    many viewers (0.0 for a video without a duration). Per ISO day: learners active."""

    view_starts: dict[str, Counter[int]] = field(default_factory=dict)
    view_stops: dict[str, Counter[int]] = field(default_factory=dict)
    user_starts: dict[str, Counter[int]] = field(default_factory=dict)
    user_stops: dict[str, Counter[int]] = field(default_factory=dict)
    shares: dict[str, Counter[float]] = field(default_factory=dict)
    viewers: Counter[str] = field(default_factory=Counter)
    completions: Counter[str] = field(default_factory=Counter)
    active: Counter[str] = field(default_factory=Counter)

    def add(self, other: VideoSums, sign: int = 1) -> None:
        """Add (sign 1) or take out (-1) another's sums; what comes to nothing is dropped."""
        for name in _PER_VIDEO:
            mine: dict[str, Counter[Any]] = getattr(self, name)
            for video_id, counts in getattr(other, name).items():
                add_counts(mine.setdefault(video_id, Counter()), counts, sign)
                if not mine[video_id]:
                    del mine[video_id]
        for name in ("viewers", "completions", "active"):
            add_counts(getattr(self, name), getattr(other, name), sign)
        # A video's completions are kept (as 0) while it has viewers: the page lists them.
        for video_id in self.viewers:
            self.completions.setdefault(video_id, 0)

    def as_json(self) -> dict[str, Any]:
        """The sums as JSON values (pairs for the counts keyed by numbers)."""
        found: dict[str, Any] = {
            name: {v: sorted(c.items()) for v, c in sorted(getattr(self, name).items())}
            for name in _PER_VIDEO
        }
        found.update(
            viewers=dict(sorted(self.viewers.items())),
            completions=dict(sorted(self.completions.items())),
            active=dict(sorted(self.active.items())),
        )
        return found

    @classmethod
    def from_json(cls, found: Mapping[str, Any]) -> VideoSums:
        """The sums as_json wrote."""
        sums = cls(
            viewers=Counter(found["viewers"]),
            completions=Counter(found["completions"]),
            active=Counter(found["active"]),
        )
        for name in _PER_VIDEO:
            counted = {video_id: Counter(dict(pairs)) for video_id, pairs in found[name].items()}
            setattr(sums, name, counted)
        return sums


def add_counts(mine: Counter[Any], counts: Mapping[Any, int], sign: int = 1) -> None:
    """mine += sign * counts, without the keys that come to zero."""
    for key, count in counts.items():
        total = mine.get(key, 0) + sign * count
        if total:
            mine[key] = total
        else:
            mine.pop(key, None)


def of_viewings(
    viewings: Iterable[Viewing], durations: Mapping[str, float | None], days: Iterable[Any] = ()
) -> VideoSums:
    """The sums of some viewings (each a learner's of one video), with each video's duration as
    settled (lti_tool.kpis.video_engagement.settled_durations), and of some active days (each a
    learner's: an ISO date, or a date)."""
    # A video's viewings one after the other (the class's rows come by video) are counted
    # together: the same runs (many viewers watch a short video whole) are then decoded,
    # merged and covered once (of_alike).
    alike: dict[str, Counter[bytes | str]] = {}
    for video_id, video_viewings in groupby(viewings, itemgetter(0)):
        counted = alike.get(video_id)
        if counted is None:
            counted = alike[video_id] = Counter()
        counted.update(map(_as_key, map(itemgetter(1), video_viewings)))
    return of_alike(alike, durations, days)


def of_alike(
    alike: Mapping[str, Mapping[bytes | str, int]],
    durations: Mapping[str, float | None],
    days: Iterable[Any] = (),
) -> VideoSums:
    """of_viewings' sums from the viewings counted per video and packed runs (as stored: text
    or bytes), and of some active days."""
    # The ends gathered in lists and counted once per video (Counter's C loop), not per viewing;
    # a video's distinct runs share its lists, duration and coverage bounds.
    sums = VideoSums()
    for video_id, counted in alike.items():
        view_starts: list[int] = []
        view_lasts: list[int] = []
        user_starts: list[int] = []
        user_lasts: list[int] = []
        watched: list[float] = []
        duration = durations.get(video_id)
        cover = coverage(duration) if duration else None
        viewers = completions = 0
        for packed, times in counted.items():
            runs = orjson.loads(packed)
            merged = seen_runs(runs)
            view_starts += runs[::2] * times
            view_lasts += runs[1::2] * times
            for first, last in merged:
                user_starts += [first] * times
                user_lasts += [last] * times
            viewers += times
            if cover is None:
                watched += [0.0] * times
                continue
            share, completed = cover(merged)
            watched += [round(share, 4)] * times
            completions += completed * times
        sums.viewers[video_id] += viewers
        sums.completions[video_id] += completions
        sums.view_starts[video_id] = Counter(view_starts)
        sums.view_stops[video_id] = stops_after(Counter(view_lasts))
        sums.user_starts[video_id] = Counter(user_starts)
        sums.user_stops[video_id] = stops_after(Counter(user_lasts))
        sums.shares[video_id] = Counter(watched)
    sums.active = Counter(day if isinstance(day, str) else day.isoformat() for day in days)
    return sums


def _as_key(packed: Any) -> bytes | str:
    """A viewing's runs as a key of the same runs: as stored (text or bytes; PostgreSQL's
    memoryview as bytes), or encoded when given decoded."""
    if isinstance(packed, list):
        return orjson.dumps(packed)
    return bytes(packed) if isinstance(packed, memoryview) else packed


def totals(sums: VideoSums) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    """Per video with viewers: (views per segment, users per segment), as
    lti_tool.kpis.video.merged_totals counts them."""
    return {
        video_id: (
            covering(sums.view_starts[video_id], sums.view_stops[video_id]),
            covering(sums.user_starts[video_id], sums.user_stops[video_id]),
        )
        for video_id in sorted(sums.viewers)
    }
