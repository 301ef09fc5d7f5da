"""A table's row links routed once (lti_tool.views.links) are the links url_for makes."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.links import id_links, query_links

TOKEN = "a.b-c_d"  # a session token's characters
# Block ids as Open edX and xAPI name videos and problems, and what else an id may hold.
IDS = [
    "block-v1:Org+Course+2026+type@video+block@4f1a",
    "i4x://Org/Course/problem/q1",
    "https://lms.example/xapi/activities/video?id=7&x=1",
    "a b%c#d\u00e9\u2013/e",
    "2147483647",
    "",
]


@pytest.mark.parametrize("course_id", [1, 7, 2_147_483_647])
def test_row_links_equal_url_for(app: Flask, course_id: int) -> None:
    with app.test_request_context("/", base_url="https://tool.test"):
        link = id_links("course.learner", "person_id", course_id=course_id, t=TOKEN)
        for person in (1, 42, 2_147_483_647, 123_456):
            expected = url_for("course.learner", course_id=course_id, person_id=person, t=TOKEN)
            assert link(person) == expected


@pytest.mark.parametrize("section", [None, "Section A & B", "2147483647"])
def test_query_links_equal_url_for(app: Flask, section: str | None) -> None:
    with app.test_request_context("/", base_url="https://tool.test"):
        link = query_links("course.videos", "video", course_id=3, section=section, t=TOKEN)
        for video in IDS:
            expected = url_for("course.videos", course_id=3, video=video, section=section, t=TOKEN)
            assert link(video) == expected


def test_a_slot_the_url_does_not_have_is_refused(app: Flask) -> None:
    with app.test_request_context("/", base_url="https://tool.test"):
        with pytest.raises(ValueError, match="not a path segment"):
            id_links("course.learners", "page", course_id=3)
        with pytest.raises(ValueError, match="not a query parameter"):
            query_links("course.learner", "person_id", course_id=3)
