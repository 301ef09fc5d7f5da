"""Learner KPIs on a small hand-built class; every expected value is worked out by hand below.

The class (today is Friday 2026-03-20, UTC): A, B, C, E (named), D (no name or e-mail), L (seen
only in logs, no enrollment). Out of every figure: F (dropped), T (test student), S (staff),
O (observer) — each of them has activity or scores that would change the figures.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import completion, course_settings, grades, learners
from lti_tool.kpis.reports import REPORTS, to_csv
from lti_tool.models import (
    AccessLog,
    Assignment,
    Course,
    PersonIdentity,
)
from lti_tool.people.pseudonyms import pseudonym_key
from tests.helpers.api import make_token
from tests.helpers.classes import NOW, build_class
from tests.helpers.tracking_logs import COURSE, event, ingest, write


@pytest.fixture
def klass(app: Flask) -> Any:
    with app.app_context():
        yield build_class()


def _by_learner(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["learner"]: r for r in rows}


def test_learners_report_rows(app: Flask, klass: dict[str, Any]) -> None:
    rows = _by_learner(learners.learners(db.session, klass["course"], key=b"k", now=NOW))
    # F, T, S and O are out; L (logs only) is in
    assert sorted(rows) == ["uA", "uB", "uC", "uD", "uE", "uL"]
    a = rows["uA"]
    assert a["name"] == "Ada A" and a["email"] == "a@example.edu" and a["sections"] == ["Sec 1"]
    assert a["time_total"] == 1590 and a["time_7d"] == 90 and a["sessions"] == 4
    assert a["videos_watched"] == 2 and a["lms_activity_seconds"] == 5000
    assert a["last_active"] == "2026-03-19T10:00:00+00:00"  # later than Canvas's 03-18
    assert a["completion"] == 1.0 and a["current_score"] == 85.0
    assert a["at_risk"] is False and a["at_risk_reasons"] == [] and a["risk_level"] == ""
    assert (rows["uB"]["at_risk"], rows["uB"]["risk_level"]) == (True, "high")
    assert (rows["uC"]["at_risk"], rows["uC"]["risk_level"]) == (True, "watch")
    assert rows["uB"]["last_active"] == "2026-03-05T10:00:00+00:00"  # Canvas's is later
    # C: 4 + 1 of 6 required items (the removed module does not count)
    assert rows["uC"]["completion"] == round(5 / 6, 4)
    assert rows["uC"]["time_total"] == 1040 and rows["uC"]["sessions"] == 2
    d = rows["uD"]
    assert d["name"].startswith("Learner ") and len(d["name"]) == len("Learner 7F3A9C")
    assert d["email"] is None and d["completion"] == 0.0 and d["last_active"] is None
    assert rows["uL"]["sections"] == [] and rows["uL"]["time_total"] == 250


def test_pseudonyms_are_stable_and_keyed(app: Flask, klass: dict[str, Any]) -> None:
    course = klass["course"]
    first = _by_learner(learners.learners(db.session, course, key=b"k1", now=NOW))
    again = _by_learner(learners.learners(db.session, course, key=b"k1", now=NOW))
    other = _by_learner(learners.learners(db.session, course, key=b"k2", now=NOW))
    assert first["uD"]["name"] == again["uD"]["name"] != other["uD"]["name"]
    assert first["uL"]["name"] != first["uD"]["name"]


def test_at_risk_reasons(app: Flask, klass: dict[str, Any]) -> None:
    rows = _by_learner(learners.at_risk_report(db.session, klass["course"], key=b"k", now=NOW))
    # Time totals of the class: 0 (D), 250, 330, 400, 1040, 1590; p15 at position
    # 0.15 * 5 = 0.75 -> 0 + 0.75 * 250 = 187.5 s: only D is below, and D's completion is below
    # the median, so it counts. Items done: A 6, B 1, C 5, D 0, E 3, L 0 -> median (1 + 3) / 2
    # = 2; more than 1 behind: D and L. Pass mark 50: B (40). Days since last activity (7 or
    # more): B 15, C 9, L 8. Work: B misses HW 2 and was late with HW 1, D misses HW 2, L was
    # late once (one late hand-in is no signal), E's excused HW 1 does not count.
    # C is high for inactivity, but was highly engaged in the week from 03-09: watch.
    assert rows == {
        "uB": {
            "course": "4711",
            "learner": "uB",
            "risk_level": "high",
            "reasons": [
                "no activity for 15 days (rule: 7 or more)",
                "1 assignment missing, past due with nothing handed in (HW 2), and 1 assignment "
                "handed in late (HW 1)",
                "current score 40 % below the pass mark of 50 %",
            ],
        },
        "uC": {
            "course": "4711",
            "learner": "uC",
            "risk_level": "watch",
            "reasons": [
                "no activity for 9 days (rule: 7 or more)",
                "Watch, not High: highly engaged in the last complete week (from 2026-03-09), "
                "among the most active of the class",
            ],
        },
        "uD": {
            "course": "4711",
            "learner": "uD",
            "risk_level": "high",
            "reasons": [
                "no activity recorded",
                "1 assignment missing, past due with nothing handed in (HW 2)",
                "0 items done, 2 behind the class median of 2 (rule: more than 1)",
                "time spent 0:00 in total, in the bottom 15 % of the class (below 0:03), with "
                "completion below the class median",
            ],
        },
        "uL": {
            "course": "4711",
            "learner": "uL",
            "risk_level": "high",
            "reasons": [
                "no activity for 8 days (rule: 7 or more)",
                "0 items done, 2 behind the class median of 2 (rule: more than 1)",
            ],
        },
    }


def test_at_risk_thresholds_come_from_settings(app: Flask, klass: dict[str, Any]) -> None:
    course = klass["course"]
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(
            risk_inactive_days=10, risk_time_percentile=50, risk_completion_behind=5
        ),
    )
    db.session.commit()
    rows = _by_learner(learners.at_risk_report(db.session, course, key=b"k", now=NOW))
    # Median time (330 + 400) / 2 = 365 s: D (0), L (250), B (330) are below, and each is below
    # the class median of completion (2 items; B also of score, 70). 10+ days: B (15) and D
    # (never). Nobody is more than 5 items behind; no pass mark. L has one signal: watch.
    assert {k: (v["risk_level"], len(v["reasons"])) for k, v in rows.items()} == {
        "uB": ("high", 3),
        "uD": ("high", 3),
        "uL": ("watch", 1),
    }
    assert rows["uL"]["reasons"] == [
        "time spent 0:04 in total, in the bottom 50 % of the class (below 0:06), with "
        "completion below the class median"
    ]
    assert rows["uB"]["reasons"][-1] == (
        "time spent 0:05:30 in total, in the bottom 50 % of the class (below 0:06:05), with "
        "completion and score below the class median"
    )


def test_engagement_segments_last_complete_week(app: Flask, klass: dict[str, Any]) -> None:
    rows = learners.engagement(db.session, klass["course"], key=b"k", now=NOW)
    week = {r["learner"]: r["segment"] for r in rows if r["week_start"] == "2026-03-09"}
    # Active that week: A (1500 s, 1 day, 10 events), C (1040 s, 2 days, 8 events),
    # L (250 s, 1 day, 2 events). p85 of seconds = 1040 + 0.7 * 460 = 1362 -> A;
    # of days = 1 + 0.7 * 1 = 1.7 -> C; of events = 8 + 0.7 * 2 = 9.4 -> A.
    # B was active the week before only; D and E were not active either week.
    assert week == {
        "uA": "highly_engaged",
        "uB": "disengaging",
        "uC": "highly_engaged",
        "uD": "inactive",
        "uE": "inactive",
        "uL": "normal",
    }
    weeks = sorted({r["week_start"] for r in rows})
    assert weeks == ["2026-03-02", "2026-03-09", "2026-03-16"]
    table = _by_learner(learners.learners(db.session, klass["course"], key=b"k", now=NOW))
    assert {k: r["segment"] for k, r in table.items()} == week


def test_completion_report(app: Flask, klass: dict[str, Any]) -> None:
    rows = completion.completion(db.session, klass["course"])
    got = {(r["learner"], r["module"]): (r["items_required"], r["items_done"]) for r in rows}
    assert got == {
        ("uA", "Week 1"): (4, 4),
        ("uA", "Week 2"): (2, 2),
        ("uB", "Week 1"): (4, 1),
        ("uB", "Week 2"): (2, 0),
        ("uC", "Week 1"): (4, 4),
        ("uC", "Week 2"): (2, 1),
        ("uD", "Week 1"): (4, 0),
        ("uD", "Week 2"): (2, 0),
        ("uE", "Week 1"): (4, 3),
        ("uE", "Week 2"): (2, 0),
        ("uL", "Week 1"): (4, 0),
        ("uL", "Week 2"): (2, 0),
    }
    done_at = {(r["learner"], r["module"]): r["completed_at"] for r in rows if r["completed_at"]}
    assert done_at == {
        ("uA", "Week 1"): "2026-03-08T12:00:00+00:00",
        ("uA", "Week 2"): "2026-03-15T12:00:00+00:00",
        ("uC", "Week 1"): "2026-03-09T12:00:00+00:00",
    }


def test_grades_reports(app: Flask, klass: dict[str, Any]) -> None:
    course = klass["course"]
    per_learner = {
        r["learner"]: (r["current_score"], r["final_score"])
        for r in grades.grades(db.session, course)
    }
    assert per_learner == {
        "uA": (85.0, 80.0),
        "uB": (40.0, 35.0),
        "uC": (None, None),
        "uD": (None, None),
        "uE": (70.0, 60.0),
        "uL": (None, None),
    }
    rows = {r["assignment"]: r for r in grades.assignment_grades(db.session, course)}
    # HW 1 scores of the class, excused E and test student T left out: 2, 4, 7, 9.
    # q1 at 0.75 -> 2 + 0.75 * 2 = 3.5; median 5.5; q3 at 2.25 -> 7 + 0.25 * 2 = 7.5.
    hw1 = rows["HW 1"]
    assert (hw1["scores"], hw1["q1"], hw1["median"], hw1["q3"]) == (4, 3.5, 5.5, 7.5)
    assert (hw1["late"], hw1["missing"]) == (2, 0)  # B and L; T is a test student
    hw2 = rows["HW 2"]
    assert (hw2["scores"], hw2["median"], hw2["missing"]) == (1, 10.0, 2)  # B, D; not staff S
    assert list(rows) == ["HW 1", "HW 2"]  # by due date


def test_an_unnamed_assignment_is_named_by_its_place(app: Flask, klass: dict[str, Any]) -> None:
    """The LMS may send an assignment without a name: the pages and reports say "Assignment 3"
    (its place in the course's list), never an empty cell."""
    course = klass["course"]
    db.session.add(
        Assignment(
            course_id=course.id,
            lms_assignment_id="h3",
            name="  ",
            due_at=datetime(2026, 3, 18, 23, 59, tzinfo=UTC),
        )
    )
    db.session.commit()
    names = [r["assignment"] for r in grades.assignment_grades(db.session, course)]
    assert names == ["HW 1", "HW 2", "Assignment 3"]


def test_reports_through_the_cli_and_csv(
    app: Flask, runner: FlaskCliRunner, klass: dict[str, Any]
) -> None:
    result = runner.invoke(args=["report", "at-risk", "--course", "4711"])
    assert result.exit_code == 0, result.output
    # The CLI counts from the real today, months after the class's last activity.
    rows = json.loads(result.output)
    assert {r["learner"] for r in rows} == {"uA", "uB", "uC", "uD", "uE", "uL"}
    assert all(r["reasons"][0].startswith("no activity") for r in rows)
    result = runner.invoke(args=["report", "learners", "--course", "4711", "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.splitlines()
    assert header == ",".join(learners.FIELDS)
    assert len(lines) == 6
    for name in ("completion", "grades", "assignment-grades", "engagement"):
        result = runner.invoke(args=["report", name, "--course", "4711", "--format", "csv"])
        assert result.exit_code == 0, (name, result.output)
        assert result.output.splitlines()[0] == ",".join(REPORTS[name].fields)


def test_csv_joins_lists_into_one_cell(app: Flask) -> None:
    text = to_csv([{"a": ["x", "y, z"], "b": 1}], ("a", "b"))
    assert text == 'a,b\n"x; y, z",1\n'
    with app.app_context():
        assert pseudonym_key() == pseudonym_key() and len(pseudonym_key()) == 32


def test_struggling_from_attempts_per_problem(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Learner 1 attempts two problems three times each; learners 2-4 each once."""
    lines = []
    for user in (1, 2, 3, 4):
        tries = 3 if user == 1 else 1
        minute = 0
        for problem in ("p1", "p2"):
            for _ in range(tries):
                lines.append(
                    event(
                        f"2026-03-03 10:{minute:02d}:00",
                        "problem_check",
                        user=user,
                        username=f"s{user}",
                        payload={"problem_id": problem, "success": "incorrect"},
                    )
                )
                minute += 1
    ingest(runner, write(tmp_path / "p.log", lines))
    with app.app_context():
        course = db.session.query(Course).filter_by(lms_course_id=COURSE).one()
        rows = learners.engagement(db.session, course, key=b"k", now=NOW)
    week = {r["learner"]: r["segment"] for r in rows if r["week_start"] == "2026-03-02"}
    # attempts per problem 3, 1, 1, 1: p15 = 1, p85 = 1 + 0.55 * 2 = 2.1 -> s1 struggles.
    # Events 6, 2, 2, 2 and time 300, 60, 60, 60 s put only s1 high; problems 2 each: nobody.
    assert week == {"s1": "struggling", "s2": "normal", "s3": "normal", "s4": "normal"}


def test_reports_through_the_api(app: Flask, runner: FlaskCliRunner, klass: dict[str, Any]) -> None:
    token = make_token(runner, "bi", "reports:read")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    course_id = klass["course"].id
    for name in ("learners", "completion", "grades", "assignment-grades", "engagement", "at-risk"):
        response = client.get(f"/api/v1/courses/{course_id}/reports/{name}", headers=headers)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        assert isinstance(response.get_json(), list)
        response = client.get(
            f"/api/v1/courses/{course_id}/reports/{name}?format=csv", headers=headers
        )
        assert response.get_data(as_text=True).splitlines()[0] == ",".join(REPORTS[name].fields)
    rows = client.get(f"/api/v1/courses/{course_id}/reports/learners", headers=headers).get_json()
    assert {r["learner"]: r["time_total"] for r in rows}["uA"] == 1590


def test_the_learners_report_through_the_api_is_in_the_access_log(
    app: Flask, runner: FlaskCliRunner, klass: dict[str, Any]
) -> None:
    token = make_token(runner, "bi-export", "reports:read")
    client = app.test_client()
    course_id = klass["course"].id
    headers = {"Authorization": f"Bearer {token}"}
    completion = client.get(f"/api/v1/courses/{course_id}/reports/completion", headers=headers)
    assert completion.status_code == 200
    rows = client.get(f"/api/v1/courses/{course_id}/reports/learners", headers=headers).get_json()
    with app.app_context():
        logged = [
            (a.course_id, a.action, a.viewer_label, a.viewer_person_id, a.subjects)
            for a in db.session.scalars(select(AccessLog))
        ]
    # Only the report with e-mail addresses is recorded, with the token's name and row count.
    assert logged == [(course_id, "learners_report", "API token 'bi-export'", None, len(rows))]


def test_class_weekly_time_equals_the_time_spent_report_summed_per_week(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The overview's and student page's weekly quartiles, taken from the class's members, are
    those of the time-spent report's days summed per learner and week (fractions included)."""
    import random
    from collections import defaultdict

    from lti_tool.kpis.activity import class_weekly_time, quartiles, time_spent

    rng = random.Random(7)
    lines = []
    for user in range(1, 8):
        moment = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(hours=user)
        for _ in range(60):
            # Gaps of a fraction of a second to a day: some under the 30-minute cutoff, some not.
            moment += timedelta(seconds=rng.choice([0.37, 12.5, 95.123, 601.7, 2400.0, 86000.0]))
            lines.append(
                event(moment.replace(tzinfo=None).isoformat(), user=user, username=f"w{user}")
            )
    ingest(runner, write(tmp_path / "weeks.log", lines))
    with app.app_context():
        course = db.session.scalars(select(Course)).one()
        data = learners.class_data(db.session, course, key=b"k", now=NOW)
        assert len(data.members) == 7
        some = {p for p in data.members if p % 2}
        for people in (set(data.members), some):
            labels = {data.members[p].learner for p in people}
            per_learner_week: dict[tuple[str, str], float] = defaultdict(float)
            for row in time_spent(db.session, course, 30):
                if row["learner"] in labels:
                    day = date.fromisoformat(row["day"])
                    week = (day - timedelta(days=day.weekday())).isoformat()
                    per_learner_week[(week, row["learner"])] += row["seconds"]
            weeks: dict[str, list[float]] = defaultdict(list)
            for (week, _learner), seconds in per_learner_week.items():
                weeks[week].append(seconds)
            expected = [
                (week, len(values), *(round(q, 1) for q in quartiles(values)))
                for week, values in sorted(weeks.items())
            ]
            got = [
                (r["week_start"], r["learners"], r["q1_seconds"], r["median_seconds"],
                 r["q3_seconds"])
                for r in class_weekly_time(course, data.members, people)
            ]  # fmt: skip
            assert got == expected and len(got) >= 2


def test_recent_events_are_the_latest_across_as_many_days_as_they_take(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # Thirty active days of one to three events each: the latest 50 come from the last of them,
    # newest first, read a few days at a time; asked for more than there are, all of them.
    lines, stamps = [], []
    for day in range(30):
        for minute in range(day % 3 + 1):
            stamp = f"2026-03-{day + 1:02d} 10:{minute:02d}:00"
            lines.append(event(stamp, f"/courses/x/courseware/{day}-{minute}", user=7))
            stamps.append(datetime.fromisoformat(stamp).replace(tzinfo=UTC))
    ingest(runner, write(tmp_path / "days.log", lines))
    newest_first = sorted(stamps, reverse=True)
    with app.app_context():
        course = db.session.scalar(select(Course))
        person = db.session.scalar(
            select(PersonIdentity.person_id).where(PersonIdentity.value == "7")
        )
        assert course is not None and person is not None
        for limit in (1, 5, 50, 1000):
            found = learners.recent_events(db.session, course, person, limit)
            assert [e["at"] for e in found] == newest_first[:limit]
        assert learners.recent_events(db.session, course, person + 1000) == []
