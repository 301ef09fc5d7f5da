"""The overview answers "who needs me this week?" first: the learners at risk, high first, with
their first reason and one click to e-mail them, before the charts; data freshness below."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from lti_tool.models import CourseSettings
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.learners import ClassRows


def _attention(html: str) -> str:
    found = re.search(r'<section id="attention".*?</section>', html, re.S)
    assert found, "no attention list"
    return found.group(0)


def _listed(section: str) -> list[tuple[str, str]]:
    """(level, name) of each learner the attention list names, in order."""
    return re.findall(
        r'<span class="level level-(\w+)">\w+</span>\s*<a href="/courses/1/learners/\d+\?t=[^"]+">'
        r"([^<]*)</a>",
        section,
    )


def test_the_overview_leads_with_the_learners_who_need_attention(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    with app.app_context():  # the inactivity rule out of the way: B and D high, L watch
        db.session.merge(CourseSettings(course_id=1, risk_inactive_days=100_000))
        db.session.commit()
    html = client.get(f"/courses/1/?t={seeded['t']}").get_data(as_text=True)
    section = _attention(html)
    listed = _listed(section)
    assert [level for level, _ in listed] == ["high", "high", "watch"]
    assert "Bob B" in [name for _, name in listed]
    assert "3 learners need attention" in section
    # each with its first reason, and one click e-mails all of them (the learners table's form)
    assert section.count('<span class="muted">· ') == 3
    assert 'name="risk" value="1"' in section and 'name="all" value="1"' in section
    assert "E-mail these 3 learners" in section
    # the list comes before the charts; data freshness after them
    assert html.index('id="attention"') < html.index('id="weekly-activity-title"')
    assert html.index('id="weekly-activity-title"') < html.index('id="freshness"')
    # the e-mail button reaches the same three learners
    emailed = client.post(
        "/courses/1/learners/email", data={"t": seeded["t"], "risk": "1", "all": "1"}
    ).get_data(as_text=True)
    assert "E-mail 3 learners" in emailed and "b@example.edu" in emailed


def test_the_overview_says_so_when_nobody_is_flagged(
    client: FlaskClient, seeded: dict[str, Any], monkeypatch: Any
) -> None:
    # The seeded class always has someone flagged (no activity, missing work): nobody is.
    monkeypatch.setattr(ClassRows, "sorted_by", lambda self, key, desc: [])
    section = _attention(client.get(f"/courses/1/?t={seeded['t']}").get_data(as_text=True))
    assert _listed(section) == []
    assert 'id="nobody-at-risk"' in section and "E-mail these" not in section
