"""The staff page of where learners are: chart, table, section filter, CSV; learners refused."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import PersonIdentity, Section, SectionMember
from lti_tool.views.charts import NOT_ONE_COUNTRY, countries_figure
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform
from tests.helpers.tracking_logs import COURSE, event, ingest, with_ip, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
# Six learners in Spain, two in Japan, one in Chile: Japan and Chile are under the floor of 5.
ADDRESSES = ["130.206.1.2"] * 6 + ["1.0.16.1", "1.0.16.1", "200.7.6.134"]


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


def _staff(client: FlaskClient, platform: FakePlatform) -> str:
    return platform.launch(client, **CONTEXT).headers["Location"].split("t=")[1]


def _ingest_class(runner: FlaskCliRunner, tmp_path: Path) -> None:
    lines = [
        with_ip(event(f"2026-03-02 10:{n:02d}:00", user=n, username=f"u{n}"), address)
        for n, address in enumerate(ADDRESSES, start=1)
    ]
    ingest(runner, write(tmp_path / "t.log", lines))


def test_countries_page_has_the_chart_and_its_table_small_countries_together(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    _ingest_class(runner, tmp_path)
    token = _staff(client, platform)
    html = _flat(client.get(f"/courses/1/countries?t={token}").get_data(as_text=True))
    assert "<h1>Where learners are</h1>" in html
    assert 'data-target="chart-countries"' in html and 'id="chart-countries"' in html
    assert "<tr><td>Spain</td><td>6</td><td>67 %</td></tr>" in html
    assert '<tr id="other-countries"><td>Other countries</td><td>3</td><td>33 %</td></tr>' in html
    assert "Japan" not in html and "Chile" not in html
    assert "fewer than 5 learners (the privacy floor)" in html
    # The page is linked from the course's tabs.
    overview = client.get(f"/courses/1/?t={token}").get_data(as_text=True)
    assert re.search(r'href="/courses/1/countries\?t=[^"]+">Countries</a>', overview)


def test_countries_csv_has_the_reports_rows(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    _ingest_class(runner, tmp_path)
    token = _staff(client, platform)
    html = client.get(f"/courses/1/countries?t={token}").get_data(as_text=True)
    link = re.search(r'id="csv-link" href="([^"]+)"', html)
    assert link is not None
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="countries-1.csv"' in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines() == [
        "course,country_code,country,learners",
        f"{COURSE},ES,Spain,6",
        f"{COURSE},OTHER,Other countries,3",
    ]


def test_countries_page_by_section(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    platform: FakePlatform,
    tmp_path: Path,
) -> None:
    _ingest_class(runner, tmp_path)
    token = _staff(client, platform)
    with app.app_context():
        section = Section(course_id=1, lms_section_id="s", name="Lab <2>")
        db.session.add(section)
        db.session.flush()
        for name in ("u1", "u7"):  # one in Spain, one in Japan
            person = db.session.scalar(
                select(PersonIdentity.person_id).where(PersonIdentity.value == name)
            )
            db.session.add(SectionMember(section_id=section.id, person_id=person))
        db.session.commit()
    url = f"/courses/1/countries?t={token}&section=Lab+%3C2%3E"
    html = _flat(client.get(url).get_data(as_text=True))
    assert 'id="chosen-section">Lab &lt;2&gt;<' in html
    assert '<tr id="other-countries"><td>Other countries</td><td>2</td><td>100 %</td></tr>' in html
    assert "<td>Spain</td>" not in html  # one learner of the section: under the floor
    csv = client.get(url + "&format=csv").get_data(as_text=True)
    assert csv.splitlines()[1:] == [f"{COURSE},OTHER,Other countries,2"]


def test_countries_page_without_addresses_says_where_they_come_from(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    token = _staff(client, platform)
    html = _flat(client.get(f"/courses/1/countries?t={token}").get_data(as_text=True))
    assert 'id="no-countries"' in html
    assert "1 learner in the class, none with a location yet" in html
    assert "chart-countries" not in html


def test_learner_cannot_open_the_countries_page(
    client: FlaskClient, platform: FakePlatform
) -> None:
    me = platform.launch(client, roles=LEARNER, **CONTEXT).headers["Location"]
    token = me.split("t=")[1]
    assert client.get(f"/courses/1/countries?t={token}").status_code == 403
    assert client.get(f"/courses/1/countries?t={token}&format=csv").status_code == 403


def test_countries_chart_is_horizontal_most_on_top_escaped_and_grey_for_no_one_country() -> None:
    rows = [
        {"country_code": "US", "country": "United States", "learners": 8},
        {"country_code": "XY", "country": "<b>Atlantis</b>", "learners": 6},
        {"country_code": "OTHER", "country": "Other countries", "learners": 3},
        {"country_code": "UNKNOWN", "country": "Country unknown", "learners": 1},
    ]
    [bar] = countries_figure(rows).to_plotly_json()["data"]
    assert bar["orientation"] == "h"
    assert list(bar["x"]) == [1, 3, 6, 8]  # drawn bottom-up: the most learners on top
    assert list(bar["y"])[2] == "&lt;b&gt;Atlantis&lt;/b&gt;"
    colours = list(bar["marker"]["color"])
    assert colours[:2] == [NOT_ONE_COUNTRY, NOT_ONE_COUNTRY] and NOT_ONE_COUNTRY not in colours[2:]
