"""Pseudo-localisation of LTI Dynamic Registration's pages: the success page an LMS
administrator sees (invited and approved at once, or waiting for approval), and a refused
registration's explanation. The platform's name, ids and the command quoted are data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from lti_tool.models import LaunchError
from tests.helpers.pseudo import unmarked
from tests.helpers.registration import fake_lms, start
from tests.launch.test_dynamic_registration import invite

DATA = ("Course Analytics",)


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _check(html: str, data: tuple[str, ...] = ()) -> None:
    assert PSEUDO_OPEN in html
    # Ids, names and commands are quoted as code or in bold: what the LMS and the tool call them.
    quoted = [unescape(q) for q in re.findall(r"<(?:code|strong)>([^<]*)</", html)]
    assert unmarked(html, [*DATA, *data, *quoted]) == []


@responses.activate
def test_an_invited_registrations_success_page_is_all_marked(
    client: FlaskClient, runner: FlaskCliRunner, pseudo: None
) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "10000000000123", "42:abcdef")
    page = start(client, base, invite(runner, "--lms", "canvas"))
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'id="lti-registered"' in html and "10000000000123" in html
    _check(html, ("canvas canvas.university.test",))


@responses.activate
def test_a_pending_registrations_success_page_is_all_marked(
    client: FlaskClient, pseudo: None
) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "")
    page = start(client, base)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert "AbCdEf123" in html
    _check(html, ("moodle moodle.college.test",))


@responses.activate
def test_a_refused_registrations_explanation_is_all_marked(
    client: FlaskClient, pseudo: None
) -> None:
    base = "https://evil.test"
    fake_lms(base, "canvas", "1", "1", issuer="https://canvas.instructure.com")
    page = start(client, base)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    _check(html, (base, "https://canvas.instructure.com"))
    # The explanation is a message of its own (marked inside the sentence that quotes it).
    reason = unescape(re.search(r'<p class="reason">(.*?)</p>', html, re.S)[1])
    assert f"complete: {PSEUDO_OPEN}the configuration's issuer" in reason


@responses.activate
def test_a_refused_registration_explained_in_spanish_and_recorded_in_english(
    app: Flask, client: FlaskClient
) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "1", "1", registration_status=401)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = start(client, base)
    assert page.status_code == 400
    html = unescape(page.get_data(as_text=True))
    assert "la plataforma rechazó el token de registro (puede haber vencido)" in html
    assert "refused the registration token" not in html
    with app.app_context():
        [reason] = db.session.scalars(select(LaunchError.reason)).all()
    assert "the platform refused the registration token (it may have expired)" in reason
