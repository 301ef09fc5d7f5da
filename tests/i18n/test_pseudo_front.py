"""Pseudo-localisation of the pages outside any course: the front door and the privacy page
(before a launch, and from a course, with its way back)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from tests.helpers.pseudo import unmarked

# The brand, and the addresses the front door shows LMS administrators.
DATA = ("Course Analytics", "/lti/canvas.json", "/lti/jwks", "Canvas", "Open edX", "Moodle")


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def test_the_front_door_is_all_marked(app: Flask, client: FlaskClient, pseudo: None) -> None:
    html = client.get("/").get_data(as_text=True)
    assert PSEUDO_OPEN in html
    assert unmarked(html, DATA) == []


def test_the_privacy_page_is_all_marked(client: FlaskClient, pseudo: None) -> None:
    html = client.get("/privacy").get_data(as_text=True)
    assert PSEUDO_OPEN in html
    assert unmarked(html, DATA) == []


def test_the_privacy_page_from_a_course_is_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    html = client.get(f"/privacy?t={seeded['t']}").get_data(as_text=True)
    assert 'id="back-to-course"' in html
    assert unmarked(html, DATA) == []
