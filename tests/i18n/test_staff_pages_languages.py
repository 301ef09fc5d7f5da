"""The staff pages of part B in Spanish and Norwegian: their words, numbers with a decimal comma,
dates, country names in the page's language; CSV stays English."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.extensions import db
from lti_tool.i18n import formats
from lti_tool.models import CourseSettings
from tests.helpers.classes import GOOD
from tests.helpers.platform import FakePlatform
from tests.views import test_countries as countries
from tests.views.test_track_record import staff  # noqa: F401 (a fixture)


def _speak(app: Flask, language: str) -> None:
    """The course's default language (the test launches say none)."""
    with app.app_context():
        row = db.session.get(CourseSettings, 1) or CourseSettings(course_id=1)
        row.language = language
        db.session.add(row)
        db.session.commit()


def _flat(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html))


def test_grades_in_spanish_with_a_decimal_comma(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    _speak(app, "es")
    html = _flat(client.get(f"/courses/1/grades?t={seeded['t']}").get_data(as_text=True))
    assert '<html lang="es">' in html and "<h1>Calificaciones</h1>" in html
    assert "3 estudiantes con calificación: mediana 70,0 %, mitad central 55,0\u201377,5 %." in html
    section = client.get(f"/courses/1/grades?t={seeded['t']}&section=Sec+1")
    assert "<td>5,25</td>" in section.get_data(as_text=True)  # HW 1's lower quartile


def test_countries_in_norwegian_and_their_csv_in_english(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    countries._ingest_class(runner, tmp_path)
    token = countries._staff(client, platform)
    _speak(app, "nb")
    html = _flat(client.get(f"/courses/1/countries?t={token}").get_data(as_text=True))
    assert "<h1>Hvor studentene er</h1>" in html
    assert "<tr><td>Spania</td><td>6</td><td>67 %</td></tr>" in html
    assert '<tr id="other-countries"><td>Andre land</td>' in html
    csv = client.get(f"/courses/1/countries?t={token}&format=csv").get_data(as_text=True)
    assert "Spain" in csv and "Other countries" in csv and "Spania" not in csv


def test_the_track_record_in_spanish(
    app: Flask,
    client: FlaskClient,
    staff: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    _speak(app, "es")
    html = _flat(
        client.get(f"/courses/1/at-risk/track-record?t={staff['t']}").get_data(as_text=True)
    )
    assert "<td>Semana 1 (5 ene 2026)</td>" in html
    assert "precisión 100 %" in html and "exhaustividad 100 %" in html
    csv = client.get(f"/courses/1/at-risk/track-record.csv?t={staff['t']}").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("course,")  # the report's English header


def test_the_track_records_pass_mark_with_a_decimal_comma(
    app: Flask,
    client: FlaskClient,
    staff: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    with app.app_context():
        db.session.get(CourseSettings, 1).risk_pass_mark = 55.5
        db.session.commit()
    url = f"/courses/1/at-risk/track-record?t={staff['t']}"
    english = _flat(client.get(url).get_data(as_text=True))
    assert "the pass mark of 55.5 %" in english
    for language, words in (("es", "nota de aprobación de 55,5 %"), ("nb", "55,5 %")):
        _speak(app, language)
        html = _flat(client.get(url).get_data(as_text=True))
        outcome = re.search(r'<p id="outcome">(.*?)</p>', html)
        assert outcome and words in outcome[1] and "55.5" not in html, language


def test_the_track_records_course_end_in_the_pages_date_format(
    app: Flask,
    client: FlaskClient,
    staff: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    with app.app_context():
        row = db.session.get(CourseSettings, 1)
        row.risk_pass_mark, row.ends_on = None, date(2099, 3, 25)
        db.session.commit()
    url = f"/courses/1/at-risk/track-record?t={staff['t']}"
    assert "It ends on 2099-03-25," in _flat(client.get(url).get_data(as_text=True))
    for language in ("es", "nb"):
        _speak(app, language)
        html = _flat(client.get(url).get_data(as_text=True))
        assert formats.day(date(2099, 3, 25), language) in html, language
        assert "2099-03-25" not in html, language


def test_settings_errors_and_readiness_in_norwegian(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    _speak(app, "nb")
    page = client.get(f"/courses/1/settings?t={seeded['t']}").get_data(as_text=True)
    assert "Er dette emnet klart for læringsanalyse?" in page and "Tidssone angitt" in page
    bad = {**GOOD, "language": "nb", "time_cutoff_minutes": "0", "t": seeded["t"]}
    html = client.post("/courses/1/settings", data=bad).get_data(as_text=True)
    assert "Grensen for tidsbruk må være mellom 1 og 240 (fikk 0)." in html
    # A decimal comma in the pass mark is read as one.
    good = {**GOOD, "language": "nb", "risk_pass_mark": "55,5", "t": seeded["t"]}
    assert client.post("/courses/1/settings", data=good).status_code == 303
    with app.app_context():
        assert db.session.get(CourseSettings, 1).risk_pass_mark == 55.5


def test_pseudonyms_in_the_pages_language_and_english_in_csv(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    # D and L have no name: the tool calls them "Learner <code>".
    english = client.get(f"/courses/1/learners?t={seeded['t']}").get_data(as_text=True)
    codes = set(re.findall(r"Learner ([0-9A-F]{6})", english))
    assert len(codes) == 2
    for language, word in (("es", "Estudiante"), ("nb", "Student")):
        _speak(app, language)
        html = client.get(f"/courses/1/learners?t={seeded['t']}").get_data(as_text=True)
        assert set(re.findall(rf"{word} ([0-9A-F]{{6}})", html)) == codes, language
        assert not re.search(r"Learner [0-9A-F]{6}", html), language
        csv = client.get(f"/courses/1/learners.csv?t={seeded['t']}").get_data(as_text=True)
        assert set(re.findall(r"Learner ([0-9A-F]{6})", csv)) == codes, language
