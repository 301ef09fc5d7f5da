"""The Grades and Content pages on the hand-built class, whole and by section; empty states."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Assignment, Course
from lti_tool.views.charts import score_bins
from tests.helpers.classes import build_class
from tests.helpers.platform import LEARNER, FakePlatform, session_token


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html))


@pytest.fixture
def seeded(app: Flask, client: FlaskClient, platform: FakePlatform) -> str:
    token = session_token(platform.launch(client))
    with app.app_context():
        build_class(db.session.get(Course, 1))
    return token


def test_score_bins() -> None:
    assert score_bins([0, 9.99, 10, 55, 100, 104]) == [
        ("0\u20139", 2),
        ("10\u201319", 1),
        ("20\u201329", 0),
        ("30\u201339", 0),
        ("40\u201349", 0),
        ("50\u201359", 1),
        ("60\u201369", 0),
        ("70\u201379", 0),
        ("80\u201389", 0),
        ("90\u2013100", 2),
    ]


def test_grades_page_whole_class_and_one_section(client: FlaskClient, seeded: str) -> None:
    html = _flat(client.get(f"/courses/1/grades?t={seeded}").get_data(as_text=True))
    # current scores of the class: B 40, E 70, A 85 (T and F are out): median 70,
    # quartiles at 0.5 -> 55 and at 1.5 -> 77.5
    assert "3 learners with a score: median 70.0 %, middle half 55.0\u201377.5 %." in html
    assert "<tr><td>40\u201349</td><td>1</td></tr>" in html
    assert "<tr><td>80\u201389</td><td>1</td></tr>" in html
    # HW 1: scores 2, 4, 7, 9 -> 3.5 / 5.5 / 7.5; late B and L; HW 2: one score, B and D missing
    assert (
        "<td>HW 1</td><td>2026-03-06 23:59</td><td>10</td><td>4</td><td>3.5</td><td>5.5</td>"
        "<td>7.5</td><td>2</td><td>0</td>"
    ) in html
    assert (
        "<td>HW 2</td><td>2026-03-13 23:59</td><td>10</td><td>1</td><td>10</td><td>10</td>" in html
    )
    figure = json.loads(
        re.search(r'data-target="chart-score-distribution">(.*?)</script>', html).group(1)
    )
    assert figure["data"][0]["y"] == [0, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    # Section 1 is A and B (F, who dropped, is out): scores 85 and 40; HW 1: 9 and 4, B late
    html = _flat(client.get(f"/courses/1/grades?t={seeded}&section=Sec+1").get_data(as_text=True))
    assert 'id="chosen-section">Sec 1<' in html
    assert "2 learners with a score: median 62.5 %" in html
    assert "<td>HW 1</td><td>2026-03-06 23:59</td><td>10</td><td>2</td><td>5.25</td>" in html
    assert "<td>6.5</td><td>7.75</td><td>1</td><td>0</td>" in html


def test_content_page_per_module(client: FlaskClient, seeded: str) -> None:
    html = _flat(client.get(f"/courses/1/content?t={seeded}").get_data(as_text=True))
    # Week 1 (4 items): A 4, B 1, C 4, D 0, E 3, L 0 -> 2 completed, 4 started, median 2
    assert "<tr><td>Week 1</td><td>4</td><td>2 of 6</td><td>4 of 6</td><td>2</td></tr>" in html
    # Week 2 (2 items): A 2, C 1, others 0 -> 1 completed, 2 started, median 0
    assert "<tr><td>Week 2</td><td>2</td><td>1 of 6</td><td>2 of 6</td><td>0</td></tr>" in html
    assert "Gone" not in html  # removed at the LMS
    html = _flat(client.get(f"/courses/1/content?t={seeded}&section=Sec+2").get_data(as_text=True))
    assert "<tr><td>Week 1</td><td>4</td><td>1 of 1</td><td>1 of 1</td><td>4</td></tr>" in html
    unknown = client.get(f"/courses/1/content?t={seeded}&section=%3Cb%3E").get_data(as_text=True)
    assert "of 6</td>" in unknown and "&lt;b&gt;" not in unknown  # ignored, not echoed


def test_empty_pages_say_which_source_to_connect(
    client: FlaskClient, platform: FakePlatform
) -> None:
    token = session_token(platform.launch(client))
    grades = client.get(f"/courses/1/grades?t={token}").get_data(as_text=True)
    assert 'id="no-grades"' in grades and "Canvas API" in grades
    content = client.get(f"/courses/1/content?t={token}").get_data(as_text=True)
    assert 'id="no-modules"' in content and "Canvas API" in content


def test_learners_are_refused(client: FlaskClient, platform: FakePlatform) -> None:
    token = session_token(platform.launch(client, roles=LEARNER, sub="s-1"))
    for page in ("grades", "content"):
        assert client.get(f"/courses/1/{page}?t={token}").status_code == 403


def test_assignment_names_are_escaped_in_figures(
    app: Flask, client: FlaskClient, seeded: str
) -> None:
    with app.app_context():
        hw1 = db.session.scalar(select(Assignment).where(Assignment.name == "HW 1"))
        hw1.name = '<a href="javascript:alert(1)">x</a>'
        db.session.commit()
    html = client.get(f"/courses/1/grades?t={seeded}").get_data(as_text=True)
    assert '<a href="javascript:' not in html
    block = re.search(r'data-target="chart-assignment-scores">(.*?)</script>', html).group(1)
    assert "<" not in block
    assert json.loads(block)["data"][0]["x"][0] == (
        "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"
    )


def test_overview_counts_only_the_class_and_filters_by_section(
    client: FlaskClient, seeded: str
) -> None:
    html = _flat(client.get(f"/courses/1/?t={seeded}").get_data(as_text=True))
    # Week of 2026-03-16: A 90 s and E 400 s; F, T and S (9000 s each) are not the class.
    # Quartiles of 90 and 400: 167.5, 245, 322.5 s (h:mm, to the minute).
    assert "<td>2026-03-16</td><td>2</td><td>0:03</td><td>0:04</td><td>0:05</td>" in html
    # Week of 2026-03-09: A 1500, C 1040, L 250 -> 645, 1040, 1270 s
    assert "<td>2026-03-09</td><td>3</td><td>0:11</td><td>0:17</td><td>0:21</td>" in html
    assert 'id="at-risk-count">' in html and "of 6</a>" in html
    html = _flat(client.get(f"/courses/1/?t={seeded}&section=Sec+1").get_data(as_text=True))
    assert 'id="chosen-section">Sec 1</strong> (2 learners)' in html
    assert "<td>2026-03-09</td><td>1</td><td>0:25</td><td>0:25</td><td>0:25</td>" in html
    assert "<td>2026-03-16</td><td>1</td>" in html and "of 2</a>" in html
