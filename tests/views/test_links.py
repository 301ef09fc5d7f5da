"""A table's row links routed once (lti_tool.views.links) are the links url_for makes."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.links import id_links


@pytest.mark.parametrize("course_id", [1, 7, 2_147_483_647])
def test_row_links_equal_url_for(app: Flask, course_id: int) -> None:
    token = "a.b-c_d"  # a session token's characters
    with app.test_request_context("/", base_url="https://tool.test"):
        link = id_links("course.learner", "person_id", course_id=course_id, t=token)
        for person in (1, 42, 2_147_483_647, 123_456):
            expected = url_for("course.learner", course_id=course_id, person_id=person, t=token)
            assert link(person) == expected


def test_an_id_outside_the_path_is_refused(app: Flask) -> None:
    with app.test_request_context("/", base_url="https://tool.test"):
        with pytest.raises(ValueError, match="not a path segment"):
            id_links("course.learners", "page", course_id=3)
