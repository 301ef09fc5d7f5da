"""Nothing in the LMS frame is a dead end: error and privacy pages lead back to the course."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.platform import INSTRUCTOR, LEARNER, FakePlatform, session_token


def _launch(
    client: FlaskClient, platform: FakePlatform, roles: list[str], sub: str
) -> tuple[str, str]:
    """Launch; return the course's path prefix and the session token."""
    response = platform.launch(client, roles=roles, sub=sub)
    assert response.status_code in (302, 303)
    course = re.search(r"/courses/\d+", response.headers["Location"])
    assert course
    return course.group(0), session_token(response)


def _back_link(html: str) -> str | None:
    found = re.search(r'id="back-to-course" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_a_missing_learner_page_leads_staff_back_to_the_overview(
    client: FlaskClient, platform: FakePlatform
) -> None:
    course, token = _launch(client, platform, INSTRUCTOR, "teacher")
    response = client.get(f"{course}/learners/999999?t={token}")
    assert response.status_code == 404
    back = _back_link(response.get_data(as_text=True))
    assert back is not None and back.startswith(f"{course}/?t=")
    assert client.get(back).status_code == 200


def test_an_unknown_course_page_leads_back_through_the_cookie_or_token(
    client: FlaskClient, platform: FakePlatform
) -> None:
    course, token = _launch(client, platform, INSTRUCTOR, "teacher")
    response = client.get(f"{course}/no-such-page?t={token}")
    assert response.status_code == 404
    assert _back_link(response.get_data(as_text=True)) is not None


def test_a_learner_on_a_staff_page_is_led_to_their_own_page(
    client: FlaskClient, platform: FakePlatform
) -> None:
    course, token = _launch(client, platform, LEARNER, "student")
    response = client.get(f"{course}/learners?t={token}")
    assert response.status_code == 403
    back = _back_link(response.get_data(as_text=True))
    assert back is not None and back.startswith(f"{course}/me?t=")
    assert client.get(back).status_code == 200


def test_without_a_session_the_error_page_says_to_open_the_tool_from_the_lms(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    course, _ = _launch(client, platform, INSTRUCTOR, "teacher")
    stranger = app.test_client()  # no session cookie
    response = stranger.get(f"{course}/learners?t=forged")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert _back_link(html) is None
    assert 'id="go-back"' in html
    assert "open the tool from the course in your LMS" in html


def test_the_privacy_page_leads_back_to_the_course_it_was_opened_from(
    client: FlaskClient, platform: FakePlatform
) -> None:
    course, token = _launch(client, platform, INSTRUCTOR, "teacher")
    overview = client.get(f"{course}/?t={token}").get_data(as_text=True)
    privacy = re.search(r'href="(/privacy\?t=[^"]+)"', overview)
    assert privacy, "the footer's privacy link carries the session"
    back = _back_link(client.get(privacy.group(1).replace("&amp;", "&")).get_data(as_text=True))
    assert back is not None and back.startswith(f"{course}/?t=")
    assert _back_link(client.get("/privacy").get_data(as_text=True)) is None
    assert _back_link(client.get("/privacy?t=forged").get_data(as_text=True)) is None
