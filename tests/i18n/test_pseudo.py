"""Pseudo-localisation: every page rendered with every marked message wrapped in ⟦…⟧; any text a
person reads that is not wrapped (names, numbers and other data aside) was never marked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import pseudo_translations
from tests.helpers.pseudo import unmarked

# The brand (TOOL_TITLE) is the deployment's own name: data.
DATA = ("Course Analytics",)


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def test_an_error_page_before_any_launch_is_all_marked(client: FlaskClient, pseudo: None) -> None:
    page = client.get("/courses/1/")
    html = page.get_data(as_text=True)
    assert page.status_code in (401, 403)
    assert "\u27e6" in html
    assert unmarked(html, DATA) == []


def test_a_missing_page_is_all_marked(client: FlaskClient, pseudo: None) -> None:
    html = client.get("/no-such-page").get_data(as_text=True)
    assert unmarked(html, DATA) == []


def test_the_check_finds_text_nobody_marked() -> None:
    """The check itself: unmarked words are found, marked ones and data are not."""
    html = (
        '<p>\u27e6Overview\u27e7</p><p>Ada Lovelace</p><p title="Sort me">12 %</p>'
        "<script>var x = 'not text';</script>"
    )
    assert unmarked(html, ["Ada Lovelace"]) == ["Sort me"]
