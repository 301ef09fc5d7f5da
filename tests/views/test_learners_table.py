"""The learners table's layout choices: the column chooser kept per person and course on the
server (view_preference), and at-risk learners first when nobody chose an order."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import learner_summary
from lti_tool.kpis.learners import FIELDS
from lti_tool.models import CourseSettings, Enrollment, Person, ViewPreference
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views import preferences
from lti_tool.views.learners import OPTIONAL, RISK_FIRST, ClassRows, risk_first, table_rows
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, session_token

# Once the inactivity rule is out of the way (the class's days are months before today): Bob B
# and D (no name: a pseudonym; no activity recorded at all) are high, L (a pseudonym) is watch
# (completion behind), Ada, Cy and Eve are not at risk.
HIGH_NAMED = "Bob B"


def _names(html: str) -> list[str]:
    """Learner names in table order (the links to their pages)."""
    return re.findall(r'<a href="/courses/1/learners/\d+\?t=[^"]+">([^<]*)</a>', html)


def _caption(html: str) -> str:
    found = re.search(r'<table id="table-learners"[^>]*>\s*<caption>(.*?)</caption>', html, re.S)
    assert found, "no learners table"
    return found.group(1)


def _hidden(html: str) -> set[str]:
    """The optional columns the table hides (its hide-<column> classes)."""
    found = re.search(r'<table id="table-learners" class="([^"]*)"', html)
    assert found, "no learners table"
    return {c[len("hide-") :] for c in found.group(1).split() if c.startswith("hide-")}


def _ticked(html: str) -> set[str]:
    """The columns ticked in the chooser."""
    return set(re.findall(r'name="show" value="([a-z_0-9]+)" checked', html))


def _only_some_at_risk(app: Flask) -> None:
    """Switch the inactivity rule off (no learner of the class was active for months), so only
    some learners are at risk: B and D high, L watch."""
    with app.app_context():
        db.session.merge(CourseSettings(course_id=1, risk_inactive_days=100_000))
        db.session.commit()


def _rows_of_level(html: str, level: str) -> list[str]:
    """The names in rows marked at risk with one level, in table order."""
    return re.findall(
        rf'<tr class="risk risk-{level}">\s*<th scope="row"[^>]*>.*?<a [^>]*>([^<]*)</a>', html
    )


def test_at_risk_learners_come_first_when_nobody_chose_an_order(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    _only_some_at_risk(app)
    t = seeded["t"]
    html = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    names = _names(html)
    high, watch = _rows_of_level(html, "high"), _rows_of_level(html, "watch")
    assert len(high) == 2 and HIGH_NAMED in high and len(watch) == 1
    # high first, then watch (by name among themselves), then the others by name
    assert names[:2] == sorted(high, key=str.casefold) and names[2:3] == watch
    assert names[3:] == ["Ada A", "Cy C", "Eve E"]
    assert "those at risk first (high, then watch), then by name" in _caption(html)
    # the level is written in the cell (not a colour alone), its reasons in the disclosure
    cells = re.findall(r'<span class="level level-(\w+)">(\w+)</span>', html)
    assert cells == [("high", "High"), ("high", "High"), ("watch", "Watch")]
    # no header claims an order the rows are not in
    assert "aria-sort" not in html
    # an explicit sort still wins, and says so
    by_name = client.get(f"/courses/1/learners?t={t}&sort=name").get_data(as_text=True)
    assert _names(by_name)[:2] == ["Ada A", "Bob B"]
    assert "sorted by name" in _caption(by_name) and 'aria-sort="ascending"' in by_name
    by_time = client.get(f"/courses/1/learners?t={t}&sort=time_total&dir=desc")
    assert _names(by_time.get_data(as_text=True))[:3] == ["Ada A", "Cy C", "Eve E"]
    # sorting on the at-risk column: high, watch, none (and the other way round)
    # (ties, as on every column, in the direction asked)
    by_level = _names(client.get(f"/courses/1/learners?t={t}&sort=at_risk&dir=desc").text)
    assert set(by_level[:2]) == set(high) and by_level[2:3] == watch
    by_level_up = _names(client.get(f"/courses/1/learners?t={t}&sort=at_risk").text)
    assert by_level_up[3:4] == watch and set(by_level_up[4:]) == set(high)
    # the filters keep the order: at risk only is high or watch; a level filter keeps one
    risky = client.get(f"/courses/1/learners?t={t}&risk=1").get_data(as_text=True)
    assert _names(risky) == names[:3]
    only_high = client.get(f"/courses/1/learners?t={t}&level=high").get_data(as_text=True)
    assert _names(only_high) == names[:2]
    assert '<option value="high" selected>High</option>' in only_high
    only_watch = client.get(f"/courses/1/learners?t={t}&risk=1&level=watch")
    assert _names(only_watch.get_data(as_text=True)) == watch
    # an unknown level is no filter
    anything = client.get(f"/courses/1/learners?t={t}&level=bogus").get_data(as_text=True)
    assert _names(anything) == names
    # the CSV follows the level filter
    csv_high = client.get(f"/courses/1/learners.csv?t={t}&level=high").get_data(as_text=True)
    assert [r["risk_level"] for r in csv.DictReader(io.StringIO(csv_high))] == ["high", "high"]
    # the Name header's link asks for a name sort, not the default
    assert re.search(r'href="[^"]*sort=name[^"]*">Name</a>', html)


def test_risk_first_order_and_anyone_at_risk() -> None:
    rows = [
        {"person": 1, "name": "bo", "at_risk": False, "risk_level": ""},
        {"person": 2, "name": "Al", "at_risk": True, "risk_level": "watch"},
        {"person": 3, "name": "Cy", "at_risk": True, "risk_level": "high"},
        {"person": 4, "name": "al", "at_risk": True, "risk_level": "high"},
        {"person": 5, "name": "Ab", "at_risk": False, "risk_level": ""},
    ]
    assert [r["person"] for r in risk_first(rows)] == [4, 3, 2, 5, 1]
    table = ClassRows(rows)
    assert table.anyone_at_risk()
    assert table.sorted_by(RISK_FIRST, False) is table.sorted_by(RISK_FIRST, False)
    calm = ClassRows([{**r, "at_risk": False, "risk_level": ""} for r in rows])
    assert not calm.anyone_at_risk()


def test_nobody_at_risk_keeps_the_name_order(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: Any
) -> None:
    # Nobody flagged: the default is the name order, and the caption says that.
    # (The page reads the learner summary's state: that it says nobody is flagged.)
    real = learner_summary.current
    monkeypatch.setattr(
        learner_summary,
        "current",
        lambda *args, **kwargs: dataclasses.replace(real(*args, **kwargs), anyone_at_risk=False),
    )
    html = client.get(f"/courses/1/learners?t={seeded['t']}").get_data(as_text=True)
    assert _names(html)[:4] == ["Ada A", "Bob B", "Cy C", "Eve E"]
    assert "sorted by name" in _caption(html)


def test_column_choice_is_kept_per_person_and_course(
    app: Flask, client: FlaskClient, platform: FakePlatform, seeded: dict[str, Any]
) -> None:
    t = seeded["t"]
    first = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    # by default only the six columns that fit a 1000 px frame show; every cell is still there
    assert _hidden(first) == set(OPTIONAL) and _ticked(first) == set()
    assert '<a href="mailto:a@example.edu">a@example.edu</a>' in first
    assert 'class="c-email" data-label="E-mail"' in first

    # the chooser without a script: a form post, then back to the table as it was
    saved = client.post(
        "/courses/1/learners/columns",
        data={
            "t": t,
            "show": ["email", "segment", "bogus"],
            "sort": "time_total",
            "dir": "desc",
            "q": "a",
            "page": "1",
            "per": "25",
        },
    )
    assert saved.status_code == 303
    location = saved.headers["Location"]
    assert location.startswith("/courses/1/learners?")
    for part in ("sort=time_total", "dir=desc", "q=a", "per=25", "t="):
        assert part in location, location
    again = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    assert _hidden(again) == set(OPTIONAL) - {"email", "segment"}
    assert _ticked(again) == {"email", "segment"}
    assert "2 more shown" in again
    with app.app_context():
        kept = db.session.scalars(select(ViewPreference)).all()
        assert [(p.person_id, p.course_id, p.view, p.value) for p in kept] == [
            (seeded["viewer"], 1, "learners.columns", ["email", "segment"])
        ]

    # the page's script saves in the background: no page back
    quiet = client.post(
        "/courses/1/learners/columns", data={"t": t, "show": ["sessions"], "quiet": "1"}
    )
    assert quiet.status_code == 204 and quiet.get_data() == b""
    assert _hidden(client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)) == set(
        OPTIONAL
    ) - {"sessions"}

    # another staff member of the course sees the defaults
    colleague = session_token(platform.launch(client, sub="teacher-2"))
    assert _hidden(client.get(f"/courses/1/learners?t={colleague}").get_data(as_text=True)) == (
        set(OPTIONAL)
    )
    # the same person in another course sees the defaults there, and chooses apart
    other = platform.launch(client, **{CLAIM + "context": {"id": "ctx-2", "title": "Other"}})
    other_course = int(re.search(r"/courses/(\d+)", other.headers["Location"])[1])
    other_t = session_token(other)
    assert other_course != 1
    with app.app_context():
        learner = Person(name="Zed Z")
        db.session.add(learner)
        db.session.flush()
        db.session.add(
            Enrollment(course_id=other_course, person_id=learner.id, course_role="learner")
        )
        db.session.commit()
    html = client.get(f"/courses/{other_course}/learners?t={other_t}").get_data(as_text=True)
    assert "Zed Z" in html and _hidden(html) == set(OPTIONAL)
    client.post(
        f"/courses/{other_course}/learners/columns",
        data={"t": other_t, "show": "time_total", "quiet": "1"},
    )
    with app.app_context():
        assert preferences.load(other_course, seeded["viewer"], "learners.columns") == [
            "time_total"
        ]
        assert preferences.load(1, seeded["viewer"], "learners.columns") == ["sessions"]

    # the CSV keeps every column whatever the table shows
    exported = client.get(f"/courses/1/learners.csv?t={t}").get_data(as_text=True)
    assert tuple(next(csv.reader(io.StringIO(exported)))) == FIELDS


def test_only_the_courses_staff_may_choose_columns_and_only_with_the_token(
    app: Flask, client: FlaskClient, platform: FakePlatform, seeded: dict[str, Any]
) -> None:
    learner = session_token(platform.launch(client, roles=LEARNER, sub="learner-9"))
    assert (
        client.post("/courses/1/learners/columns", data={"t": learner, "show": "email"}).status_code
        == 403
    )
    # the cookie alone cannot make a change: the form must carry the token
    assert client.post("/courses/1/learners/columns", data={"show": "email"}).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(ViewPreference)).all() == []


def test_preferences_are_replaced_and_go_with_the_person(
    app: Flask, seeded: dict[str, Any]
) -> None:
    with app.app_context():
        preferences.save(1, seeded["A"], "learners.columns", ["email"])
        db.session.commit()
        preferences.save(1, seeded["A"], "learners.columns", ["segment"])
        preferences.save(1, seeded["A"], "other.view", {"x": 1})
        db.session.commit()
        assert preferences.load(1, seeded["A"], "learners.columns") == ["segment"]
        assert preferences.load(1, seeded["A"], "other.view") == {"x": 1}
        assert preferences.load(1, seeded["B"], "learners.columns") is None
        # deleting a person (an erasure request) takes their preferences with them
        db.session.delete(db.session.get(Person, seeded["A"]))
        db.session.commit()
        assert db.session.scalars(select(ViewPreference)).all() == []


def test_the_rows_written_by_the_view_escape_every_value(app: Flask) -> None:
    # The learners table's rows are written in Python (views.learners.table_rows), not by the
    # template's autoescaping: every value from the LMS or the logs is escaped there.
    row = {
        "person": 7,
        "name": 'Ann <b>"Bold"</b>',
        "email": 'a"b<c>@x.test',
        "at_risk": True,
        "risk_level": "high",
        "at_risk_reasons": ["no activity <i>since</i> May"],
        "last_active": None,
        "time_7d": 0.0,
        "completion": None,
        "current_score": None,
        "sections": ["Lab & <1>"],
        "time_total": 0.0,
        "lms_activity_seconds": None,
        "sessions": 0,
        "videos_watched": 0,
        "segment": "inactive",
    }
    calm = {**row, "person": 8, "at_risk": False, "risk_level": "", "email": None}
    labels = {key: f"<{key}>" for key in ("name", "at_risk", "email", *table_columns())}
    with app.test_request_context("/"):
        html = str(
            table_rows(
                [row, calm],
                {"inactive": "Inactive <now>"},
                {"high": "High <!>"},
                labels,
                lambda person: f"/courses/1/learners/{person}?t=a&b",
                emails_hidden=True,
            )
        )
    assert "<b>" not in html and "<i>" not in html and "<1>" not in html and "<now>" not in html
    assert 'aria-label="Select Ann &lt;b&gt;&#34;Bold&#34;&lt;/b&gt;"' in html
    assert '<a href="/courses/1/learners/7?t=a&amp;b">Ann &lt;b&gt;' in html
    assert '<a href="mailto:a%22b%3Cc%3E@x.test">a&#34;b&lt;c&gt;@x.test</a>' in html
    assert "<li>no activity &lt;i&gt;since&lt;/i&gt; May</li>" in html
    assert "High &lt;!&gt;</span>" in html and ">Inactive &lt;now&gt;</td>" in html
    assert 'data-label="&lt;email&gt;"' in html and ">Lab &amp; &lt;1&gt;</td>" in html
    # Two rows, the first flagged; the other says why it has no address, and "no" risk.
    assert html.count("<tr") == 2 and html.startswith('<tr class="risk risk-high">')
    assert '<span class="muted">hidden by Canvas</span>' in html.split("\n")[1]


def table_columns() -> tuple[str, ...]:
    """The figure columns of the table (after the name and the risk flag)."""
    from lti_tool.views.learners import COLUMNS

    return tuple(key for key, _label, _sort in COLUMNS if key not in ("name", "at_risk"))
