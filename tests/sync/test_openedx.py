"""Open edX API sync against a fake Open edX over HTTP: enrollments, grades, blocks, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.jobs.queue import COURSE_FINDERS, courses_to_sync
from lti_tool.models import (
    Assignment,
    Course,
    CourseBlock,
    CourseEvent,
    DataSource,
    Enrollment,
    LmsLearnerStats,
    Person,
    PersonIdentity,
    Platform,
    SyncRun,
    Video,
)
from lti_tool.sync import openedx
from tests.helpers.fake_openedx import (
    CLIENT_ID,
    CLIENT_SECRET,
    COURSE_KEY,
    HOMEWORK,
    FakeOpenEdx,
    enrollment,
    grade,
)
from tests.helpers.languages import error_in_languages
from tests.helpers.platform import FakePlatform
from tests.helpers.tracking_logs import event, write

LEARNERS = ["learner7", "ada", "bob", "carol"]


@pytest.fixture
def lms() -> Iterator[FakeOpenEdx]:
    fake = FakeOpenEdx(
        page_size=2,
        enrollments=[enrollment(u, active=u != "carol") for u in LEARNERS],
        grades=[grade("learner7", 0.83, "B"), grade("ada", 0.5), grade("bob", 0.0)],
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def configured(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, lms: FakeOpenEdx, tmp_path: Path
) -> FakeOpenEdx:
    """The course at the platform, and the platform's Open edX API set with the CLI."""
    app.config["SYNC_RETRY_DELAYS"] = "0.01,0.01"
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add(
            Course(
                platform_id=platform_id,
                lti_context_id=COURSE_KEY,
                lms_course_id=COURSE_KEY,
                title="Demo",
            )
        )
        db.session.commit()
    secret = tmp_path / "secret"
    secret.write_text(CLIENT_SECRET + "\n")
    result = runner.invoke(
        args=[
            "platform",
            "set-openedx",
            "--platform",
            "Example LMS",
            "--base-url",
            lms.origin,
            "--client-id",
            CLIENT_ID,
            "--client-secret-file",
            str(secret),
        ]
    )
    assert result.exit_code == 0, result.output
    assert CLIENT_SECRET not in result.output
    return lms


def sync(runner: FlaskCliRunner) -> dict[str, Any]:
    result = runner.invoke(
        args=["sync", "run", "--course", COURSE_KEY, "--source", "openedx", "--json"]
    )
    return json.loads(result.output)


def snapshot(app: Flask) -> dict[str, Any]:
    """Everything the sync writes, comparable across runs."""
    with app.app_context():
        s = db.session
        return {
            "people": s.scalar(select(func.count(Person.id))),
            "enrollments": sorted(
                (i.value, e.status, e.course_role)
                for e, i in s.execute(
                    select(Enrollment, PersonIdentity).join(
                        PersonIdentity, PersonIdentity.person_id == Enrollment.person_id
                    )
                ).tuples()
            ),
            "scores": sorted(
                (i.value, st.current_score, st.current_grade)
                for st, i in s.execute(
                    select(LmsLearnerStats, PersonIdentity).join(
                        PersonIdentity, PersonIdentity.person_id == LmsLearnerStats.person_id
                    )
                ).tuples()
            ),
            "blocks": s.scalar(select(func.count()).select_from(CourseBlock)),
            "videos": sorted(
                (v.video_id, v.display_name, v.duration) for v in s.scalars(select(Video))
            ),
            "events": sorted(
                (e.lms_id, e.title, e.at.isoformat()) for e in s.scalars(select(CourseEvent))
            ),
            "assignments": sorted(
                (a.lms_assignment_id, a.removed) for a in s.scalars(select(Assignment))
            ),
        }


def test_a_full_sync_brings_learners_grades_names_and_due_dates(
    app: Flask, runner: FlaskCliRunner, configured: FakeOpenEdx
) -> None:
    run = sync(runner)
    assert run["status"] == "succeeded", run
    # 1 token + 2 enrollment pages (4 rows, 2 per page) + 2 grade pages + 1 blocks
    assert configured.count() == 6
    assert run["requests"] == 6
    assert run["counts"]["enrollments"] == 4 and run["counts"]["people_added"] == 4
    state = snapshot(app)
    assert state["enrollments"] == [
        ("ada", "active", "learner"),
        ("bob", "active", "learner"),
        ("carol", "inactive", "learner"),
        ("learner7", "active", "learner"),
    ]
    assert state["scores"] == [("ada", 50.0, None), ("bob", 0.0, None), ("learner7", 83.0, "B")]
    assert state["videos"] == [("0b9e39477cdb4b3a8e5b9e5f2c2e0c3f", "Welcome <b>video</b>", 125.0)]
    assert state["events"] == [(HOMEWORK, "Homework 1", "2026-03-09T23:59:00+00:00")]
    assert state["blocks"] == 7
    with app.app_context():
        [source] = db.session.scalars(select(DataSource))
        assert source.secret_encrypted and CLIENT_SECRET not in source.secret_encrypted
        assert COURSE_FINDERS["openedx"](db.session) == [db.session.scalar(select(Course.id))]


def test_a_second_run_changes_nothing_and_one_changes_are_picked_up(
    app: Flask, runner: FlaskCliRunner, configured: FakeOpenEdx
) -> None:
    assert sync(runner)["status"] == "succeeded"
    first = snapshot(app)
    assert sync(runner)["status"] == "succeeded"
    assert snapshot(app) == first

    configured.enrollments[2] = enrollment("bob", active=False)  # bob drops
    configured.enrollments.append(enrollment("dora"))  # dora enrols
    configured.grades[1] = grade("ada", 0.75, "C")  # ada's grade moves
    configured.blocks[HOMEWORK]["due"] = "2026-03-16T23:59:00Z"  # the due date moves
    assert sync(runner)["status"] == "succeeded"
    state = snapshot(app)
    assert ("bob", "inactive", "learner") in state["enrollments"]
    assert ("dora", "active", "learner") in state["enrollments"]
    assert ("ada", 75.0, "C") in state["scores"]
    assert state["events"] == [(HOMEWORK, "Homework 1", "2026-03-16T23:59:00+00:00")]

    del configured.blocks[HOMEWORK]["graded"]  # no longer graded: its due date leaves the charts
    assert sync(runner)["status"] == "succeeded"
    state = snapshot(app)
    assert state["events"] == [] and state["assignments"] == [(HOMEWORK, True)]


def test_a_learner_seen_in_the_logs_is_the_same_person(
    app: Flask, runner: FlaskCliRunner, configured: FakeOpenEdx, tmp_path: Path
) -> None:
    log = write(tmp_path / "tracking.log", [event("2026-03-02 10:00:00", course=COURSE_KEY)])
    result = runner.invoke(
        args=["ingest", "tracking-logs", str(log), "--platform", "Example LMS", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert sync(runner)["status"] == "succeeded"
    with app.app_context():
        owners = set(
            db.session.scalars(
                select(PersonIdentity.person_id).where(PersonIdentity.value.in_(["learner7", "7"]))
            )
        )
        assert len(owners) == 1  # the log's user id 7 and the API's username: one person
        assert db.session.scalar(select(func.count(Person.id))) == 4


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ({"secret": "wrong"}, "the Open edX client credentials were refused (invalid_client)"),
        ({"staff": False}, "needs staff access (is_staff) at the LMS"),
        ({"fail": {"/api/grades/": "401"}}, "the Open edX token was refused reading the grades"),
        ({"fail": {"/api/courses/v1/blocks/": "malformed"}}, "answered malformed JSON"),
        ({"fail": {"/api/enrollment/": "500"}}, "HTTP 500"),
    ],
)
def test_a_failed_run_says_why_and_keeps_the_previous_data(
    app: Flask,
    runner: FlaskCliRunner,
    configured: FakeOpenEdx,
    breakage: dict[str, Any],
    expected: str,
) -> None:
    assert sync(runner)["status"] == "succeeded"
    before = snapshot(app)
    configured.enrollments.append(enrollment("eve"))  # would be written by a good run
    if "secret" in breakage:
        from lti_tool import secrets

        with app.app_context():
            source = db.session.scalar(select(DataSource))
            source.secret_encrypted = secrets.encrypt(breakage["secret"])
            db.session.commit()
    configured.staff = breakage.get("staff", True)
    configured.fail.update(breakage.get("fail", {}))
    run = sync(runner)
    assert run["status"] == "failed"
    assert expected in run["error"]
    assert CLIENT_SECRET not in json.dumps(run)
    assert snapshot(app) == before


def test_a_server_error_once_is_retried(
    app: Flask, runner: FlaskCliRunner, configured: FakeOpenEdx
) -> None:
    configured.fail["/api/grades/"] = "500once"
    run = sync(runner)
    assert run["status"] == "succeeded", run
    assert run["requests"] == 7  # the six of a clean run, and one retry
    assert ("learner7", 83.0, "B") in snapshot(app)["scores"]


def test_check_connection_names_the_service_user_or_the_refusal(
    app: Flask, configured: FakeOpenEdx
) -> None:
    from lti_tool import secrets

    with app.app_context():
        source = db.session.scalar(select(DataSource))
        assert openedx.check_connection(source) == (
            True,
            f"connected to {configured.origin} as analytics_service",
        )
        source.secret_encrypted = secrets.encrypt("nope")
        ok, why = openedx.check_connection(source)
        assert not ok and "refused" in why


def test_a_course_without_an_api_fails_with_the_command_to_fix_it(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        db.session.add(Course(platform_id=platform_id, lms_course_id=COURSE_KEY))
        db.session.commit()
        assert courses_to_sync(db.session, "openedx") == []
    run = sync(runner)
    assert run["status"] == "failed"
    assert "flask platform set-openedx" in run["error"]


def test_enrollment_dates_and_modes_give_a_course_without_events_its_history(
    app: Flask, runner: FlaskCliRunner, configured: FakeOpenEdx, tmp_path: Path
) -> None:
    from datetime import date

    from lti_tool.kpis.enrollment import enrollment_daily
    from lti_tool.models import LmsEnrollment

    configured.enrollments[0]["created"] = "2026-01-30T23:30:00Z"  # learner7, audit
    configured.enrollments[1].update(created="2026-02-03T09:00:00Z", mode="verified")  # ada
    assert sync(runner)["status"] == "succeeded"
    with app.app_context():
        stored = sorted(
            (i.value, row.created_at.isoformat()[:16], row.mode)
            for row, i in db.session.execute(
                select(LmsEnrollment, PersonIdentity).join(
                    PersonIdentity, PersonIdentity.person_id == LmsEnrollment.person_id
                )
            ).tuples()
        )
        course = db.session.scalar(select(Course))
        assert course is not None
        rows = enrollment_daily(db.session, course, today=date(2026, 2, 3))
    assert stored == [
        ("ada", "2026-02-03T09:00", "verified"),
        ("bob", "2026-02-01T10:00", "audit"),
        ("carol", "2026-02-01T10:00", "audit"),
        ("learner7", "2026-01-30T23:30", "audit"),
    ]
    table = {(r["date"], r["mode"]): (r["count"], r["cumulative_count"]) for r in rows}
    # Each learner enrolled on the day the LMS made the enrollment; carol, inactive now, counts
    # in the history from hers but never as enrolled (the LMS does not say when she left).
    assert table == {
        ("2026-01-30", "all"): (1, 1),
        ("2026-01-30", "audit"): (1, 1),
        ("2026-01-31", "all"): (1, 1),
        ("2026-01-31", "audit"): (1, 1),
        ("2026-02-01", "all"): (2, 3),
        ("2026-02-01", "audit"): (2, 3),
        ("2026-02-02", "all"): (2, 3),
        ("2026-02-02", "audit"): (2, 3),
        ("2026-02-03", "all"): (3, 4),
        ("2026-02-03", "audit"): (2, 3),
        ("2026-02-03", "verified"): (1, 1),
    }

    # A learner with enrollment events is counted from them, not from the LMS's date.
    log = tmp_path / "enroll.log"
    log.write_text(
        json.dumps(
            {
                "username": "ada",
                "event_type": "edx.course.enrollment.activated",
                "event_source": "server",
                "time": "2026-02-02T08:00:00+00:00",
                "event": {"course_id": COURSE_KEY, "user_id": 42, "mode": "honor"},
                "context": {"course_id": COURSE_KEY, "user_id": 42, "org_id": "edX"},
            }
        )
        + "\n"
    )
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--json"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        rows = enrollment_daily(db.session, course, today=date(2026, 2, 3))
    table = {(r["date"], r["mode"]): (r["count"], r["cumulative_count"]) for r in rows}
    assert table[("2026-02-02", "honor")] == (1, 1)
    assert table[("2026-02-03", "all")] == (3, 4)
    assert ("2026-02-03", "verified") not in table


@pytest.mark.parametrize(
    ("breakage", "spanish"),
    [
        ({"secret": "wrong"}, "se rechazaron las credenciales de cliente de Open edX"),
        ({"fail": {"/api/courses/v1/blocks/": "malformed"}}, "devolvió un JSON mal formado"),
        ({"fail": {"/api/enrollment/": "500"}}, "HTTP 500 de "),
    ],
)
def test_a_failed_open_edx_sync_is_shown_in_the_page_language(
    app: Flask,
    runner: FlaskCliRunner,
    configured: FakeOpenEdx,
    breakage: dict[str, Any],
    spanish: str,
) -> None:
    if "secret" in breakage:
        from lti_tool import secrets

        with app.app_context():
            source = db.session.scalar(select(DataSource))
            assert source is not None
            source.secret_encrypted = secrets.encrypt(breakage["secret"])
            db.session.commit()
    configured.fail.update(breakage.get("fail", {}))
    assert sync(runner)["status"] == "failed"
    with app.app_context():
        run = db.session.scalar(select(SyncRun).order_by(SyncRun.id.desc()).limit(1))
        assert run is not None and run.status == "failed"
        shown = error_in_languages(run.error, run.error_id, run.error_values)
    assert spanish in shown["es"], shown
