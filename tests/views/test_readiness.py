"""Is this course ready for analytics? (kpis.readiness, the settings page's section, the
overview's line, the `readiness` report) on the hand-built class made complete, then with one
item missing at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from lti_tool.activity.blocks import append_row, empty, encode, event_row
from lti_tool.extensions import db
from lti_tool.kpis import course_settings, readiness
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import (
    ActivityBlock,
    Assignment,
    Course,
    CourseModule,
    DataSource,
    Enrollment,
    LmsLearnerStats,
    SyncRun,
    Video,
)
from tests.helpers.classes import build_class
from tests.helpers.platform import LEARNER, FakePlatform, session_token


def _block(course_id: int, person_id: int, at: datetime, source: str) -> None:
    """One learner event of a source at a time, stored as the event sink would store it."""
    columns = empty()
    append_row(columns, event_row(at.timestamp(), hash((source, at)), "page_view", source, {}))
    db.session.add(
        ActivityBlock(
            course_id=course_id,
            person_id=person_id,
            day=at.date(),
            events=1,
            data=encode(columns),
        )
    )


def _complete(course: Course, people: dict[str, Any]) -> None:
    """The hand-built class with everything readiness looks for."""
    now = datetime.now(UTC)
    course.nrps_memberships_url = "https://lms.test/nrps"
    db.session.add(
        SyncRun(
            course_id=course.id,
            source="nrps",
            status="succeeded",
            finished_at=now - timedelta(hours=1),
            counts={"members": 9},
        )
    )
    _block(course.id, people["A"].id, now - timedelta(days=1), "browser")
    # The LMS's own analytics (Canvas) of the class: seen yesterday too.
    db.session.execute(
        update(LmsLearnerStats)
        .where(LmsLearnerStats.person_id == people["A"].id)
        .values(last_activity_at=now - timedelta(days=1))
    )
    for video, name in (("v1", "Intro"), ("v2", "Forces")):
        db.session.add(Video(course_id=course.id, video_id=video, duration=300, display_name=name))
    settings = course_settings.load(db.session, course)
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(**{**settings.__dict__, "time_zone": "Europe/Paris"}),
    )
    db.session.commit()


@pytest.fixture
def ready(app: Flask, client: FlaskClient, platform: FakePlatform) -> str:
    """A staff launch into course 1, which holds the hand-built class made complete."""
    token = session_token(platform.launch(client))
    with app.app_context():
        course = db.session.get(Course, 1)
        people = build_class(course)
        _complete(course, people)
    return token


def _statuses(html: str) -> dict[str, str]:
    """Check id -> its status (as the item's class), from the settings page."""
    return {
        key: status for status, key in re.findall(r'check-([a-z-]+)" id="check-([a-z-]+)"', html)
    }


def test_a_complete_course_has_nothing_to_fix(app: Flask, client: FlaskClient, ready: str) -> None:
    html = client.get(f"/courses/1/settings?t={ready}").get_data(as_text=True)
    statuses = _statuses(html)
    assert statuses == {
        "roster-nrps": "ok",
        "activity-tracking-logs": "ok",
        "activity-lms": "ok",
        "videos": "ok",
        "assignments": "ok",
        "modules": "ok",
        "class": "ok",
        "time-zone": "ok",
    }
    assert "To fix:" not in html
    assert "Nothing to fix: the course has what the figures need." in html
    overview = client.get(f"/courses/1/?t={ready}").get_data(as_text=True)
    assert "Readiness: nothing to fix</a>" in overview


def test_the_overview_counts_what_to_fix_with_the_summarys_class_size(
    app: Flask, client: FlaskClient, ready: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counting the class reads every learner-day's person (1.2 s at 100,000 learners and 50
    # million events): the overview's count of checks to fix takes the summary's class size.
    assert "Readiness: nothing to fix</a>" in client.get(f"/courses/1/?t={ready}").get_data(
        as_text=True
    )
    counted: list[int] = []
    real = readiness.class_member_ids
    monkeypatch.setattr(readiness, "class_member_ids", lambda *a: counted.append(1) or real(*a))
    app.extensions["course_figures_cache"].clear()  # as a worker started since would find
    overview = client.get(f"/courses/1/?t={ready}").get_data(as_text=True)
    assert "Readiness: nothing to fix</a>" in overview
    assert counted == []
    with app.app_context():
        # The same check either way: the floor raised above the class says so in both.
        course = db.session.get(Course, 1)
        assert course is not None
        settings = course_settings.load(db.session, course)
        size = len(real(db.session, course))
        for given in (None, size):
            check = readiness.class_check(db.session, course, size + 1, given)
            assert check.status == readiness.TO_FIX
            check = readiness.class_check(db.session, course, settings.privacy_floor, given)
            assert check.status == readiness.OK


def _no_roster(course: Course) -> None:
    course.nrps_memberships_url = None


def _sync_failed(course: Course) -> None:
    db.session.add(
        SyncRun(
            course_id=course.id,
            source="nrps",
            status="failed",
            finished_at=datetime.now(UTC),
            error="the LMS answered 401",
        )
    )


def _canvas_never_synced(course: Course) -> None:
    course.lms_course_id = "4711"
    db.session.add(DataSource(platform_id=course.platform_id, kind="canvas", location="https://c"))


def _activity_stale(course: Course) -> None:
    db.session.execute(delete(ActivityBlock).where(ActivityBlock.course_id == course.id))
    a = db.session.scalar(select(Enrollment.person_id).where(Enrollment.course_id == course.id))
    _block(course.id, a, datetime.now(UTC) - timedelta(days=12), "xapi")


def _no_activity(course: Course) -> None:
    db.session.execute(delete(ActivityBlock).where(ActivityBlock.course_id == course.id))
    db.session.execute(delete(LmsLearnerStats).where(LmsLearnerStats.course_id == course.id))
    # The last event is older than the window the event store is searched in.
    a = db.session.scalar(select(Enrollment.person_id).where(Enrollment.course_id == course.id))
    _block(course.id, a, datetime.now(UTC) - timedelta(days=90), "browser")


def _video_unnamed(course: Course) -> None:
    db.session.execute(
        update(Video).where(Video.video_id == "v2").values(display_name=None, duration=None)
    )


def _assignment_undated(course: Course) -> None:
    db.session.execute(update(Assignment).where(Assignment.name == "HW 2").values(due_at=None))


def _module_bare(course: Course) -> None:
    db.session.execute(
        update(CourseModule).where(CourseModule.name == "Week 2").values(items_required=0)
    )


def _class_small(course: Course) -> None:
    settings = course_settings.load(db.session, course)
    course_settings.save(
        db.session, course, course_settings.Settings(**{**settings.__dict__, "privacy_floor": 8})
    )


def _default_zone(course: Course) -> None:
    settings = course_settings.load(db.session, course)
    course_settings.save(
        db.session, course, course_settings.Settings(**{**settings.__dict__, "time_zone": "UTC"})
    )


@pytest.mark.parametrize(
    ("breaks", "key", "detail", "fix"),
    [
        (_no_roster, "roster", "no roster service from a launch", "Launch the tool once"),
        (_sync_failed, "roster-nrps", "the LMS answered 401", "checks this source"),
        (_canvas_never_synced, "roster-canvas", "never synced", "Press Sync now"),
        (_activity_stale, "activity-xapi", "Last event 12 days ago", "/xapi/statements"),
        (_no_activity, "activity", "No learner activity in the last 60 days", "set one of"),
        (
            _video_unnamed,
            "videos",
            "no known length: Video 1; 1 of 2 have no name: Video 1.",
            "display name",
        ),
        (_assignment_undated, "assignments", "1 of 2 have no due date: HW 2.", "due dates"),
        (_module_bare, "modules", "1 of 2 have no completion requirement: Week 2.", "add"),
        (_class_small, "class", "5 learners; class figures are hidden", "8 learners"),
        (_default_zone, "time-zone", "counted in UTC, the default", "Choose the course"),
    ],
)
def test_a_missing_item_shows_its_fix(
    app: Flask,
    client: FlaskClient,
    ready: str,
    breaks: Callable[[Course], None],
    key: str,
    detail: str,
    fix: str,
) -> None:
    with app.app_context():
        breaks(db.session.get(Course, 1))
        db.session.commit()
    html = client.get(f"/courses/1/settings?t={ready}").get_data(as_text=True)
    statuses = _statuses(html)
    # This item, and only this one, is to fix.
    assert [k for k, s in statuses.items() if s == "to-fix"] == [key]
    item = re.search(rf'id="check-{key}">(.*?)</li>', html, re.S).group(1)
    assert detail in item.replace("&#39;", "'")
    assert "To fix: " in item and fix in item
    assert "1 thing to fix" in html
    overview = client.get(f"/courses/1/?t={ready}").get_data(as_text=True)
    assert '#readiness">Readiness: 1 thing to fix</a>' in overview


def test_not_applicable_without_videos_assignments_or_modules(app: Flask) -> None:
    with app.app_context():
        course = Course(lti_context_id="bare", title="Bare")
        db.session.add(course)
        db.session.commit()
        found = {c.key: c.status for c in readiness.checks(db.session, course)}
    assert found == {
        "roster": "to fix",
        "activity": "to fix",
        "videos": "not applicable",
        "assignments": "not applicable",
        "modules": "not applicable",
        "class": "to fix",
        "time-zone": "to fix",
    }


def test_readiness_report_rows(app: Flask, ready: str) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        _default_zone(course)
        db.session.commit()
        report = REPORTS["readiness"]
        rows = report.run(db.session, course)
    assert report.fields == ("course", "check", "status", "detail", "fix")
    assert all(tuple(row) == report.fields for row in rows)
    zone = next(r for r in rows if r["check"] == "Time zone set")
    assert zone["status"] == "to fix" and zone["fix"].startswith("Choose the course's time zone")
    assert {r["status"] for r in rows if r["check"] != "Time zone set"} == {"ok"}


def test_a_learner_gets_no_readiness(
    client: FlaskClient, platform: FakePlatform, ready: str
) -> None:
    learner = session_token(platform.launch(client, roles=LEARNER, sub="learner-1"))
    assert client.get(f"/courses/1/settings?t={learner}").status_code == 403
