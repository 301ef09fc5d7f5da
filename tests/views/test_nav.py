"""The course navigation: the main tabs, the rest under "More", the current page marked."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.launch.identity import read_token
from tests.helpers.platform import INSTRUCTOR, LEARNER, FakePlatform, launch_token

MAIN = ["Overview", "Learners", "Grades", "Content", "Videos"]
MORE = ["Problems", "Countries", "Enrollment", "Settings", "Student view"]


def _nav(html: str) -> str:
    found = re.search(r'<nav class="tabs course-tabs".*?</nav>', html, re.S)
    assert found, html[:2000]
    return found.group(0)


def _names(html: str) -> list[str]:
    return re.findall(r"<a [^>]*>([^<]+)</a>", html)


def _current(nav: str) -> dict[str, str]:
    """Link text -> its aria-current value, for the links that have one."""
    return dict(
        (name, value) for value, name in re.findall(r'aria-current="(\w+)">([^<]+)</a>', nav)
    )


def _more(nav: str) -> str:
    found = re.search(r"<details>.*?</details>", nav, re.S)
    assert found, nav
    return found.group(0)


def _summary_marked(nav: str) -> bool:
    return re.search(r'<summary aria-current="true">More</summary>', nav) is not None


def test_staff_see_the_main_tabs_then_the_rest_under_more(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token = launch_token(client, platform, INSTRUCTOR, "teacher")
    nav = _nav(client.get(f"/courses/1/?t={token}").get_data(as_text=True))
    more = _more(nav)
    assert _names(nav.replace(more, "")) == MAIN
    assert _names(more) == MORE
    # Each link carries the session: a token naming the launched viewer (signed again for the
    # page, so its timestamp may be a second later than the launch's).
    hrefs = re.findall(r'href="([^"]+)"', nav)
    tokens = [re.search(r"[?&]t=([^&]+)", href) for href in hrefs]
    assert len(hrefs) == len(MAIN + MORE) and all(tokens)
    with app.test_request_context():
        launched = read_token(token)
        assert launched is not None
        assert all(read_token(found.group(1)) == launched for found in tokens if found)


@pytest.mark.parametrize(
    ("path", "page", "in_more"),
    [
        ("", "Overview", False),
        ("learners", "Learners", False),
        ("videos", "Videos", False),
        ("settings", "Settings", True),
        ("countries", "Countries", True),
        ("me", "Student view", True),
    ],
)
def test_the_current_page_is_marked_and_more_when_it_is_inside(
    client: FlaskClient, platform: FakePlatform, path: str, page: str, in_more: bool
) -> None:
    token = launch_token(client, platform, INSTRUCTOR, "teacher")
    response = client.get(f"/courses/1/{path}?t={token}")
    assert response.status_code == 200
    nav = _nav(response.get_data(as_text=True))
    assert _current(nav) == {page: "page"}
    assert _summary_marked(nav) is in_more


def test_a_page_under_a_tab_marks_that_tab_but_not_as_the_page(
    client: FlaskClient, platform: FakePlatform
) -> None:
    token = launch_token(client, platform, INSTRUCTOR, "teacher")
    nav = _nav(client.get(f"/courses/1/access-log?t={token}").get_data(as_text=True))
    assert _current(nav) == {"Learners": "true"}
    assert not _summary_marked(nav)
    nav = _nav(client.get(f"/courses/1/at-risk/track-record?t={token}").get_data(as_text=True))
    assert _current(nav) == {"Settings": "true"}
    assert _summary_marked(nav)


def test_a_learner_sees_only_their_own_page_marked_current(
    client: FlaskClient, platform: FakePlatform
) -> None:
    token = launch_token(client, platform, LEARNER, "student")
    nav = _nav(client.get(f"/courses/1/me?t={token}").get_data(as_text=True))
    assert _names(nav) == ["My progress"]
    assert _current(nav) == {"My progress": "page"}
    assert "<details>" not in nav
