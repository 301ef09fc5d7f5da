"""Pseudo-localisation of the launch's pages: refused logins and launches (the reason, what to
do), the cookie check of a login in a frame, the deep-linking choice. Technical details quoted
for administrators (the LTI library's message, the stage's code) are data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from tests.helpers.platform import TOOL, FakePlatform
from tests.helpers.pseudo import unmarked
from tests.launch.test_deep_linking import deep_link_request

DATA = ("Course Analytics",)


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _check(html: str) -> None:
    assert PSEUDO_OPEN in html
    # The library's own words, quoted for administrators, and the stage's code.
    quoted = [unescape(q) for q in re.findall(r"<code>(.*?)</code>", html, re.S)]
    stages = re.findall(r"stage: ([a-z]+)", html)
    assert unmarked(html, [*DATA, *quoted, *stages]) == []


def test_a_refused_login_is_all_marked(client: FlaskClient, pseudo: None) -> None:
    page = client.post("/lti/login", data={})
    assert page.status_code == 400
    _check(page.get_data(as_text=True))


def test_a_refused_launch_is_all_marked(client: FlaskClient, pseudo: None) -> None:
    page = client.post("/lti/launch", data={"state": "state-x", "id_token": "not-a-jwt"})
    assert page.status_code in (400, 401)
    _check(page.get_data(as_text=True))


def test_a_launch_from_an_unknown_platform_is_all_marked(
    client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    page = client.post(
        "/lti/login",
        data={
            "iss": "https://unknown.example.edu",
            "login_hint": "u",
            "target_link_uri": TOOL + "/lti/launch",
            "client_id": "nobody",
        },
    )
    assert page.status_code == 403
    _check(page.get_data(as_text=True))


def test_the_cookie_check_is_all_marked(
    client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    page = client.post(
        "/lti/login",
        data={
            "iss": platform.issuer,
            "login_hint": "s1",
            "target_link_uri": TOOL + "/lti/launch",
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
            "lti_storage_target": "_parent",
        },
    )
    html = page.get_data(as_text=True)
    assert 'id="lti-cookie-check"' in html
    # The hidden parts (shown by the script when cookies are blocked) are read too.
    _check(html)


def test_the_deep_linking_choice_is_all_marked(
    client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    response: Any = platform.launch(client, mutate=deep_link_request)
    html = response.get_data(as_text=True)
    assert "deep-link-choice" in html
    _check(html)
