"""The geography report: learners per last known country, small countries grouped below the
privacy floor, and country names (kpis.geography)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from lti_tool.extensions import db
from lti_tool.kpis import geography
from lti_tool.kpis.reports import find_course
from tests.helpers.tracking_logs import COURSE, event, ingest, report, with_ip, write

US, JP, TH, CL, PRIVATE = "8.8.8.8", "1.0.16.1", "49.231.128.0", "200.7.6.134", "10.0.2.2"


def _class(tmp_path: Path, addresses: list[str | None]) -> Path:
    """Learner n (from 1) active once, from the n-th address (None: an event without one)."""
    lines = []
    for n, address in enumerate(addresses, start=1):
        line = event(f"2026-03-02 10:{n:02d}:00", user=n, username=f"u{n}")
        lines.append(with_ip(line, address) if address else line)
    return write(tmp_path / "class.log", lines)


def test_countries_below_the_privacy_floor_are_grouped_as_other_countries(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # 6 in the United States; Japan 2, Thailand 1 and Chile 1 are under the floor of 5.
    addresses: list[str | None] = [US] * 6 + [JP, JP, TH, CL, PRIVATE, None]
    ingest(runner, _class(tmp_path, addresses))
    rows = report(runner, "geography")
    assert [(r["country_code"], r["country"], r["learners"]) for r in rows] == [
        ("US", "United States", 6),
        ("OTHER", "Other countries", 4),
        ("UNKNOWN", "Country unknown", 1),
        ("NONE", "No location recorded", 1),
    ]
    assert {r["course"] for r in rows} == {COURSE}
    assert "Japan" not in json.dumps(rows) and "Thailand" not in json.dumps(rows)


def test_countries_at_the_floor_are_named_most_learners_first(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _class(tmp_path, [JP] * 5 + [US] * 7 + [TH]))
    result = runner.invoke(args=["report", "geography", "--course", COURSE, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "course,country_code,country,learners",
        f"{COURSE},US,United States,7",
        f"{COURSE},JP,Japan,5",
        f"{COURSE},OTHER,Other countries,1",
    ]


def test_a_lower_floor_names_more_countries_and_people_limit_the_count(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _class(tmp_path, [US, US, JP, TH]))
    with app.app_context():
        course = find_course(db.session, COURSE)
        whole = geography.geography(db.session, course, floor=2)
        assert [(r["country"], r["learners"]) for r in whole] == [
            ("United States", 2),
            ("Other countries", 2),
        ]
        everyone = geography.country_counts(db.session, course, {1, 2, 3, 4})
        assert everyone == {"US": 2, "JP": 1, "TH": 1}
        assert geography.group_small(everyone, 1) == everyone
        assert geography.country_counts(db.session, course, {3}) == {"JP": 1}


def test_country_names_come_from_cldr_in_the_language_asked() -> None:
    assert geography.country_name("US") == "United States"
    assert geography.country_name("KR") == "South Korea"
    assert geography.country_name("US", "es") == "Estados Unidos"
    assert geography.country_name("NO", "nb") == "Norge"
    assert geography.country_name("US", "xx-nowhere") == "United States"
    assert geography.country_name("XY") == "XY"  # a code CLDR does not know: shown as is
    assert geography.country_name(None) == "Country unknown"
