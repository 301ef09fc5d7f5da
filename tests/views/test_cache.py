"""The per-process figure cache: reused while the data holds, bounded, least recently used out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, current_app

from lti_tool.extensions import db
from lti_tool.models import Course
from lti_tool.views import cache
from lti_tool.views.cache import course_cached, course_derived


def test_the_cache_reuses_figures_and_drops_the_least_recently_used(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "CACHE_ENTRIES", 2)
    computed: list[str] = []

    def figure(name: str) -> str:
        computed.append(name)
        return name.upper()

    with app.test_request_context():
        course = Course(lti_context_id="c1", lms_course_id="c1", title="Cached")
        db.session.add(course)
        db.session.commit()
        for name in ("a", "b", "a", "c"):  # "a" used again, so "b" is the least recent
            assert course_cached(course, name, lambda name=name: figure(name)) == name.upper()
        assert computed == ["a", "b", "c"]
        kept = current_app.extensions["course_figures_cache"]
        assert list(kept) == [(course.id, "a"), (course.id, "c")]
        course_cached(course, "a", lambda: figure("a"))
        course_cached(course, "b", lambda: figure("b"))
        assert computed == ["a", "b", "c", "b"]


def test_a_figure_of_the_day_is_kept_longer_than_a_minute(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The enrollment page's figures depend on the data and the course's day alone: kept past
    # CACHE_SECONDS (a figure of "now" is not), computed again after DAY_CACHE_SECONDS.
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    computed: list[str] = []

    def figure(name: str) -> str:
        computed.append(name)
        return name

    with app.test_request_context():
        course = Course(lti_context_id="c2", lms_course_id="c2", title="Cached")
        db.session.add(course)
        db.session.commit()
        course_cached(course, "now", lambda: figure("now"))
        course_cached(course, "day", lambda: figure("day"), cache.DAY_CACHE_SECONDS)
        clock[0] += cache.CACHE_SECONDS + 1
        course_cached(course, "now", lambda: figure("now"))
        course_cached(course, "day", lambda: figure("day"), cache.DAY_CACHE_SECONDS)
        assert computed == ["now", "day", "now"]
        clock[0] += cache.DAY_CACHE_SECONDS
        course_cached(course, "day", lambda: figure("day"), cache.DAY_CACHE_SECONDS)
        assert computed == ["now", "day", "now", "day"]


def test_a_derived_result_is_kept_while_its_inputs_are_the_same_objects(app: Flask) -> None:
    # The videos page's table is written once per figures and names: reused while they are the
    # very objects it was made of, made again (and kept) from new ones (a section's figures,
    # new at every request), and again when the data changes.
    made: list[int] = []

    def table(inputs: list[int]) -> int:
        made.append(sum(inputs))
        return sum(inputs)

    first, second = [1, 2], [1, 2]  # equal, not the same
    with app.test_request_context():
        course = Course(lti_context_id="c3", lms_course_id="c3", title="Derived")
        db.session.add(course)
        db.session.commit()
        assert course_derived(course, "t", (first,), lambda: table(first)) == 3
        assert course_derived(course, "t", (first,), lambda: table(first)) == 3
        assert made == [3]
        assert course_derived(course, "t", (second,), lambda: table(second)) == 3
        assert course_derived(course, "t", (second,), lambda: table(second)) == 3
        assert made == [3, 3]
        second.append(4)  # made of the same object: kept (the inputs must not change)
        assert course_derived(course, "t", (second,), lambda: table(second)) == 3
    with app.test_request_context():
        course = db.session.get(Course, course.id)
        assert course is not None
        # As every change of its activity stamps it.
        course.updated_at = datetime(2030, 1, 1, tzinfo=UTC)
        db.session.commit()
        assert course_derived(course, "t", (second,), lambda: table(second)) == 7
        assert made == [3, 3, 7]
