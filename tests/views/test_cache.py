"""The per-process figure cache: reused while the data holds, bounded, least recently used out."""

from __future__ import annotations

import pytest
from flask import Flask, current_app

from lti_tool.extensions import db
from lti_tool.models import Course
from lti_tool.views import cache
from lti_tool.views.cache import course_cached


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
