"""Pseudo-localisation of the student page: the learner's own page, staff's preview of a
learner and of the typical learner; every text a person reads there is marked (the class's
names, the course's title, assignment, module and video names are data)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from lti_tool.models import Assignment, CourseModule, Person
from lti_tool.views.charts import weekday_names
from tests.helpers.classes import seed_class
from tests.helpers.platform import LEARNER, FakePlatform, launch_token
from tests.helpers.pseudo import unmarked


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _data(app: Flask) -> list[str]:
    """The names the page shows as they are: people, assignments, modules, the course."""
    with app.app_context():
        found = ["Course Analytics", "Biology 101", "Physics", "Europe/Paris", "UTC"]
        found += [p.name for p in db.session.scalars(select(Person)) if p.name]
        found += [p.given_name for p in db.session.scalars(select(Person)) if p.given_name]
        found += [a.name for a in db.session.scalars(select(Assignment))]
        found += [m.name for m in db.session.scalars(select(CourseModule)) if m.name]
    return found


# Stand-ins the KPIs make for what has no name (kpis.roster's pseudonyms, kpis.names' labels in
# course order): English words from another part of the tool, taken as data here.
_STAND_INS = re.compile(r"Learner [0-9A-F]{6}|Video \d+")


def _check(app: Flask, html: str) -> None:
    assert PSEUDO_OPEN in html
    # Weekday names come from Babel's CLDR data (not the catalogs): data too.
    data = [*_data(app), *weekday_names(), *_STAND_INS.findall(html)]
    assert unmarked(html, data) == []


def _figures(html: str) -> list[dict[str, Any]]:
    return [
        json.loads(found)
        for found in re.findall(r'class="chart-data"[^>]*>(.*?)</script>', html, re.S)
    ]


def test_the_typical_learner_preview_is_all_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    seeded = seed_class(app, client, platform)
    html = client.get(f"/courses/1/me?t={seeded['t']}").get_data(as_text=True)
    _check(app, html)


def test_a_learners_page_previewed_by_staff_is_all_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    seeded = seed_class(app, client, platform)
    page = client.get(f"/courses/1/me?t={seeded['t']}&person={seeded['A']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    _check(app, html)
    # The charts' titles are marked too (the check skips scripts: looked at here).
    titles = [f["layout"]["title"]["text"] for f in _figures(html)]
    assert titles and all(PSEUDO_OPEN in t for t in titles)


def test_the_learners_own_page_is_all_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    seed_class(app, client, platform)
    token = launch_token(client, platform, LEARNER, "learner-9")
    html = client.get(f"/courses/1/me?t={token}").get_data(as_text=True)
    _check(app, html)


def test_refusals_on_the_student_page_are_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    seeded = seed_class(app, client, platform)
    missing = client.get(f"/courses/1/me?t={seeded['t']}&person=999999")
    assert missing.status_code == 404
    assert unmarked(missing.get_data(as_text=True), _data(app)) == []
