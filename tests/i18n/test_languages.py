"""Which language a page is in: the launch's locale (kept for every page of the launch), the
course's default language, the browser's Accept-Language, English; regional tags fall back to
their language, and a language we do not offer is skipped."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from lti_tool.i18n import first_offered, language_of
from lti_tool.i18n.web import page_language
from lti_tool.models import CourseSettings
from tests.helpers.platform import CLAIM, FakePlatform, session_token


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("es-CL", "es"),
        ("es_419", "es"),
        ("ES", "es"),
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn-NO", "nb"),
        ("en-GB", "en"),
        ("fr-FR", None),
        ("", None),
        (None, None),
    ],
)
def test_a_tag_finds_the_language_we_offer(tag: str | None, language: str | None) -> None:
    assert language_of(tag) == language


def test_the_first_offered_tag_wins_and_others_are_skipped() -> None:
    assert first_offered(["fr-FR", "de", "nb-NO", "es"]) == "nb"
    assert first_offered(["fr", "de"]) is None


def _launch(client: FlaskClient, platform: FakePlatform, locale: str | None, **headers: str) -> str:
    def mutate(body: dict[str, Any]) -> None:
        if locale is not None:
            body[CLAIM + "launch_presentation"] = {"document_target": "iframe", "locale": locale}

    token = session_token(platform.launch(client, mutate=mutate))
    return client.get(f"/courses/1/?t={token}", headers=headers).get_data(as_text=True)


def test_a_launch_in_chilean_spanish_shows_spanish_pages(
    client: FlaskClient, platform: FakePlatform
) -> None:
    html = _launch(client, platform, "es-CL")
    assert '<html lang="es">' in html and ">Resumen</a>" in html
    # Every page of that launch, whatever the browser says.
    assert '<html lang="es">' in html


def test_a_launch_in_norwegian_shows_bokmaal(client: FlaskClient, platform: FakePlatform) -> None:
    html = _launch(client, platform, "nb-NO")
    assert '<html lang="nb">' in html and ">Oversikt</a>" in html


def test_a_french_launch_falls_back_to_the_browser_then_english(
    client: FlaskClient, platform: FakePlatform
) -> None:
    assert '<html lang="en">' in _launch(client, platform, "fr-FR")
    spanish_browser = _launch(client, platform, "fr-FR", **{"Accept-Language": "fr, es;q=0.5"})
    assert '<html lang="es">' in spanish_browser


def test_the_launch_locale_wins_over_the_browser_and_is_kept_for_the_launch(
    client: FlaskClient, platform: FakePlatform
) -> None:
    def mutate(body: dict[str, Any]) -> None:
        body[CLAIM + "launch_presentation"] = {"locale": "nb-NO"}

    token = session_token(platform.launch(client, mutate=mutate))
    for path in ("", "learners", "settings"):
        html = client.get(
            f"/courses/1/{path}?t={token}", headers={"Accept-Language": "es"}
        ).get_data(as_text=True)
        assert '<html lang="nb">' in html, path


def test_the_course_default_language_comes_before_the_browser(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token = session_token(platform.launch(client))
    with app.app_context():
        db.session.merge(CourseSettings(course_id=1, language="es"))
        db.session.commit()
    html = client.get(f"/courses/1/?t={token}", headers={"Accept-Language": "nb"})
    assert '<html lang="es">' in html.get_data(as_text=True)


def test_before_a_launch_pages_follow_accept_language(client: FlaskClient) -> None:
    page = client.get("/courses/1/", headers={"Accept-Language": "nb-NO, en;q=0.5"})
    html = page.get_data(as_text=True)
    assert page.status_code in (401, 403) and '<html lang="nb">' in html
    english = client.get("/courses/1/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in english


def test_each_request_keeps_its_own_language_and_none_outlives_it(
    app: Flask, client: FlaskClient
) -> None:
    # The language is held for the rest of a request once chosen (asked a thousand times a
    # page): the next request chooses again, and nothing after a request sees its choice.
    norwegian = client.get("/courses/1/", headers={"Accept-Language": "nb"})
    spanish = client.get("/courses/1/", headers={"Accept-Language": "es"})
    assert '<html lang="nb">' in norwegian.get_data(as_text=True)
    assert '<html lang="es">' in spanish.get_data(as_text=True)
    assert page_language() == "en"
    with app.test_request_context("/courses/1/", headers={"Accept-Language": "nb"}):
        assert page_language() == "nb"


def test_the_settings_page_keeps_a_course_language(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    from tests.helpers.classes import GOOD

    token = session_token(platform.launch(client))
    client.post("/courses/1/settings", data={**GOOD, "language": "nb", "t": token})
    with app.app_context():
        assert db.session.get(CourseSettings, 1).language == "nb"
    bad = client.post("/courses/1/settings", data={**GOOD, "language": "xx", "t": token})
    # The course's language is Norwegian now: so is the form's error.
    assert "er ikke et språk sidene finnes på" in bad.get_data(as_text=True)
