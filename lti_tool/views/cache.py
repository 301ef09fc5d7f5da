"""The per-process cache of course-wide figures: reused while the course's data is unchanged."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g

from lti_tool.extensions import db
from lti_tool.kpis import learner_summary
from lti_tool.launch.language import note_course_language
from lti_tool.models import Course
from lti_tool.models.types import utcnow

T = TypeVar("T")
# How long a figure is reused while the data's fingerprint is unchanged (a figure of "now",
# such as what is overdue, may be a minute old).
CACHE_SECONDS = 60
# The same for a figure of the data and the course's day alone (the day in its name).
DAY_CACHE_SECONDS = 3600
# At most this many figures per process (a dozen per course a page was opened for): the least
# recently used goes first.
CACHE_ENTRIES = 512


def request_marks(course: Course) -> learner_summary.Marks:
    """What the course's figures are computed from, read once a request: the cache's results
    are kept while they stay the same, the summaries' fingerprint is taken of them.

    They change whenever the course-wide figures' inputs do: activity, roster, syncs, settings,
    work falling due (every change to a course's activity rollups stamps `course.updated_at`,
    lti_tool.activity.rollups.touch_courses, so one indexed row stands for all the
    learner-days).
    """
    found: dict[int, learner_summary.Marks] = g.setdefault("course_marks", {})
    if course.id not in found:
        found[course.id] = marks = learner_summary.read_marks(db.session, course, utcnow())
        note_course_language(course.id, marks.settings.language)
    return found[course.id]


def course_cached(
    course: Course, name: str, compute: Callable[[], T], seconds: float = CACHE_SECONDS
) -> T:
    """A course-wide result reused for `seconds` while the data's fingerprint stays the same
    (longer for a result that depends on the data and the day alone, the day in its name).

    Paging, sorting and filtering a large class, or every student opening their page, then costs
    one fingerprint query (taken once per request) instead of reading every learner-day again.
    The cache lives on the app, one per worker process, and holds the CACHE_ENTRIES used last.
    """
    cache: OrderedDict[tuple[int, str], tuple[Any, float, Any]] = current_app.extensions.setdefault(
        "course_figures_cache", OrderedDict()
    )
    marks = request_marks(course)
    key = (course.id, name, marks.data, marks.due)
    now = time.monotonic()
    found = cache.get((course.id, name))
    if found is not None and found[0] == key and now - found[1] < seconds:
        cache.move_to_end((course.id, name))
        cached: T = found[2]
        return cached
    value = compute()
    _keep(cache, course.id, name, (key, now, value))
    return value


def course_derived(
    course: Course, name: str, inputs: tuple[Any, ...], compute: Callable[[], T]
) -> T:
    """What `compute` makes of `inputs` (other results of course_cached: a page's figures, the
    course's names), kept as course_cached keeps its results and while the inputs are the very
    objects it was made of (a section's figures, new at every request, make it again)."""
    kept = course_cached(course, name, lambda: (inputs, compute()))
    if len(kept[0]) == len(inputs) and all(a is b for a, b in zip(kept[0], inputs, strict=True)):
        return kept[1]
    value = compute()
    cache = current_app.extensions["course_figures_cache"]
    marks = request_marks(course)
    key = (course.id, name, marks.data, marks.due)
    _keep(cache, course.id, name, (key, time.monotonic(), (inputs, value)))
    return value


def _keep(
    cache: OrderedDict[tuple[int, str], tuple[Any, float, Any]],
    course_id: int,
    name: str,
    entry: tuple[Any, float, Any],
) -> None:
    """Keep a result as the one used last, the least recently used going beyond CACHE_ENTRIES."""
    cache[(course_id, name)] = entry
    cache.move_to_end((course_id, name))
    while len(cache) > CACHE_ENTRIES:
        cache.popitem(last=False)
