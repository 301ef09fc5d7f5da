"""Enrollment over time from xAPI (issue 18, item 1): event-routing-backends' registered and
unregistered statements count in the `enrollment-daily` report as the tracking-log events do."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis.enrollment import enrollment_daily
from lti_tool.models import Course
from tests.helpers.api import bearer, make_token
from tests.helpers.platform import FakePlatform

LMS = "https://lms.example.com"
COURSE = "course-v1:ExampleU+CS101+2025_T1"
REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
UNREGISTERED = "http://id.tincanapi.com/verb/unregistered"
MODE = "https://w3id.org/xapi/acrossx/extensions/type"
TRANSFORMER = "https://w3id.org/xapi/openedx/extension/transformer-version"


def statement(user: int, verb: str, stamp: str, mode: str) -> dict[str, Any]:
    """An enrollment statement as event-routing-backends sends it: the object is the course,
    its type extension the mode."""
    actor = {"objectType": "Agent", "account": {"homePage": LMS, "name": str(uuid.UUID(int=user))}}
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{verb}-{user}-{stamp}")),
        "version": "1.0.3",
        "timestamp": stamp,
        "actor": actor,
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": f"{LMS}/course/{COURSE}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/course",
                "name": {"en": "Intro to CS"},
                "extensions": {MODE: mode},
            },
        },
        "context": {"extensions": {TRANSFORMER: "event-routing-backends@10.0.0"}},
    }


def test_registered_and_unregistered_statements_count_as_enrollment_events(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    token = make_token(runner, "erb", bind_platform=platform.name, may_create_courses=True)
    statements = [
        statement(1, REGISTERED, "2025-02-03T06:00:00+00:00", "audit"),
        statement(2, REGISTERED, "2025-02-03T07:00:00+00:00", "verified"),
        statement(1, UNREGISTERED, "2025-02-04T06:00:00+00:00", "audit"),
        statement(1, REGISTERED, "2025-02-05T06:00:00+00:00", "audit"),
    ]
    response = client.post(
        "/xapi/statements",
        json=statements,
        headers={**bearer(token), "X-Experience-API-Version": "1.0.3"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
        assert course is not None
        rows = enrollment_daily(db.session, course, today=date(2025, 2, 5))
    # Learner 1 enrolls (audit), leaves on the 4th and comes back on the 5th; 2 stays (verified).
    assert {(r["date"], r["mode"]): (r["count"], r["cumulative_count"]) for r in rows} == {
        ("2025-02-03", "all"): (2, 2),
        ("2025-02-03", "audit"): (1, 1),
        ("2025-02-03", "verified"): (1, 1),
        ("2025-02-04", "all"): (1, 2),
        ("2025-02-04", "audit"): (0, 1),
        ("2025-02-04", "verified"): (1, 1),
        ("2025-02-05", "all"): (2, 2),
        ("2025-02-05", "audit"): (1, 1),
        ("2025-02-05", "verified"): (1, 1),
    }
