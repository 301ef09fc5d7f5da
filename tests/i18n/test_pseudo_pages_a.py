"""Pseudo-localisation of the overview and the learners pages (issue 19, part A): rendered with
every marked message wrapped in ⟦…⟧, no text a person reads is left unwrapped — the class's
names, e-mail addresses, course, section, assignment and module names, ids, numbers and dates
aside."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import pseudo_translations
from tests.helpers.platform import FakePlatform, session_token
from tests.helpers.pseudo import unmarked

# The hand-built class (tests/helpers/classes.py) and the launch (tests/helpers/platform.py):
# data, shown as it is in every language.
DATA = (
    "Course Analytics",
    "Physics",
    "Biology 101",
    "ctx-1",
    "Sam Example",
    "sam@example.edu",
    *("Ada A", "Bob B", "Cy C", "Eve E"),
    *("a@example.edu", "b@example.edu", "c@example.edu", "e@example.edu"),
    *("uA", "uB", "uC", "uD", "uE", "uL"),
    *("Sec 1", "Sec 2", "HW 1", "HW 2", "Week 1", "Week 2"),
    *("Exam week", "bring a pen", "UTC", "canvas", "queued"),
)
# Stand-in names of learners without one (kpis.roster.pseudonym): data too.
PSEUDONYM = re.compile(r"Learner [0-9A-F]{6}")


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _check(html: str) -> None:
    assert "\u27e6" in html
    data = [*DATA, *PSEUDONYM.findall(html)]
    assert unmarked(html, data) == []


def test_the_overview_is_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    t = seeded["t"]
    client.post(
        "/courses/1/events",
        data={
            "t": t,
            "title": "Exam week",
            "kind": "exam",
            "at": "2026-03-12T09:00",
            "notes": "bring a pen",
        },
    )
    page = client.get(f"/courses/1/?t={t}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="attention"' in html and "Exam week" in html
    _check(html)
    # a section chosen, and a bad event sent back with its reason
    _check(client.get(f"/courses/1/?t={t}&section=Sec+1").get_data(as_text=True))
    bad = client.post("/courses/1/events", data={"t": t, "title": "", "at": "x"})
    _check(client.get(bad.headers["Location"]).get_data(as_text=True))


def test_the_learners_table_is_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    t = seeded["t"]
    client.post(
        "/courses/1/learners/columns",
        data={
            "t": t,
            "quiet": "1",
            "show": [
                "email",
                "sections",
                "time_total",
                "lms_time",
                "sessions",
                "videos_watched",
                "segment",
            ],
        },
    )
    for query in ("", "&sort=last_active&dir=desc", "&risk=1&per=25", "&q=nobody"):
        page = client.get(f"/courses/1/learners?t={t}{query}")
        assert page.status_code == 200, query
        _check(page.get_data(as_text=True))


def test_a_learners_page_is_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    for letter in "ABDE":
        page = client.get(f"/courses/1/learners/{seeded[letter]}?t={seeded['t']}")
        assert page.status_code == 200, letter
        _check(page.get_data(as_text=True))


def test_the_e_mail_and_access_log_pages_are_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    t = seeded["t"]
    chosen = client.post(
        "/courses/1/learners/email",
        data={"t": t, "person": [seeded["A"], seeded["B"], seeded["D"]]},
    )
    assert chosen.status_code == 200
    _check(chosen.get_data(as_text=True))
    message = client.post(
        "/courses/1/message",
        data={
            "t": t,
            "kind": "assignment",
            "item": "1",
            "who": "below",
            "below": "7.5",
            "unit": "points",
            "section": "Sec 1",
        },
    )
    assert message.status_code == 200
    _check(message.get_data(as_text=True))
    client.get(f"/courses/1/learners/{seeded['A']}?t={t}")
    log = client.get(f"/courses/1/access-log?t={t}")
    assert log.status_code == 200
    _check(log.get_data(as_text=True))


def test_an_empty_course_is_all_marked(
    client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    t = session_token(platform.launch(client))
    for path in ("", "learners", "access-log"):
        page = client.get(f"/courses/1/{path}?t={t}")
        assert page.status_code == 200, path
        _check(page.get_data(as_text=True))
