"""NRPS roster sync against a fake LMS over HTTP: token, pages, data safety, runs, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.jobs import queue, runs
from lti_tool.lti.keys import generate_private_key_pem, public_jwk_from_pem
from lti_tool.models import Enrollment, Person, PersonIdentity, SyncRun
from lti_tool.models.sync import last_succeeded
from lti_tool.models.types import utcnow
from lti_tool.people.roles import TEST_USER
from lti_tool.sync.http import next_link
from tests.helpers.database import database_url
from tests.helpers.fake_nrps import LEARNER, MEMBERSHIPS_PATH, ROSTER, member
from tests.helpers.languages import error_in_languages
from tests.helpers.lms import NRPS_CLAIM, Lms
from tests.helpers.processes import production_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lms(app: Flask, client: FlaskClient) -> Iterator[Lms]:
    app.config["SYNC_RETRY_DELAYS"] = "0,0"
    fake = Lms(app, client, "Moodle", "client-1")
    yield fake
    fake.nrps.stop()


def people(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Person.id))) or 0


def test_launch_stores_memberships_url_and_client_id(app: Flask, lms: Lms) -> None:
    lms.launch()
    with app.app_context():
        course = lms.course()
        assert course.nrps_memberships_url == lms.nrps.memberships_url  # case kept
        assert MEMBERSHIPS_PATH in course.nrps_memberships_url
        assert course.nrps_client_id == "client-1"
    # A later launch without the claim keeps what we know.
    response = lms.platform.launch(lms.client, sub="learner-1", roles=LEARNER)
    assert response.status_code in (302, 303)
    with app.app_context():
        assert lms.course().nrps_memberships_url == lms.nrps.memberships_url


def test_client_id_of_a_launch_with_several_audiences(app: Flask, lms: Lms) -> None:
    def audiences(body: dict[str, Any]) -> None:
        body["aud"] = ["https://another.example", "client-1"]
        body["azp"] = "client-1"
        body[NRPS_CLAIM] = {"context_memberships_url": lms.nrps.memberships_url + "?rlid=7"}

    response = lms.platform.launch(lms.client, mutate=audiences)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    with app.app_context():
        course = lms.course()
        assert course.nrps_client_id == "client-1"
        assert course.nrps_memberships_url == lms.nrps.memberships_url + "?rlid=7"


def test_three_pages_with_case_sensitive_next_links(app: Flask, lms: Lms, runner: Any) -> None:
    lms.launch()  # the instructor, user-1, is known from the launch
    assert people(app) == 1
    result = runner.invoke(args=["sync", "run", "--course", "course-ctx-1", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded" and run["error"] is None
    assert run["counts"]["members"] == 7 and run["counts"]["pages"] == 3
    assert run["counts"]["added"] == 6 and run["counts"]["updated"] == 1
    assert run["counts"]["people_added"] == 6
    assert run["requests"] == 4  # one token, three pages

    # Every next URL was followed exactly as sent: mixed-case path, mixed-case cursor.
    pages = [s for s in lms.nrps.seen if s.startswith("GET ")]
    assert pages == [
        f"GET {MEMBERSHIPS_PATH}",
        f"GET {MEMBERSHIPS_PATH}?page=2&cursor=Pg2XyZ",
        f"GET {MEMBERSHIPS_PATH}?page=3&cursor=Pg3XyZ",
    ]
    # The client-credentials assertion the fake accepted (signature checked against our JWKS).
    [claims] = lms.nrps.assertions
    assert claims["iss"] == claims["sub"] == "client-1"
    assert claims["aud"] == lms.nrps.token_url

    assert people(app) == 7  # the instructor who launched was not duplicated
    snapshot = {row[0]: row for row in lms.snapshot()}
    assert snapshot["learner-1"][1:3] == ("Ada Lovelace", "ada@example.edu")
    assert snapshot["learner-1"][4:] == ("learner", "active", False, "nrps")
    assert snapshot["learner-4"][5] == "inactive"  # "Inactive" on the roster
    assert snapshot["learner-6"][2] is None
    assert snapshot["user-1"][4] == "staff"

    text = runner.invoke(args=["sync", "run", "--course", "course-ctx-1"])
    assert text.exit_code == 0
    assert "succeeded" in text.output and "7 members, 0 added, 0 updated" in text.output

    history = runner.invoke(args=["sync", "history", "--course", "course-ctx-1", "--json"])
    assert history.exit_code == 0
    listed = json.loads(history.stdout)
    assert [r["status"] for r in listed] == ["succeeded", "succeeded"]
    assert [r["trigger"] for r in listed] == ["cli", "cli"] and listed[1]["id"] == run["id"]
    lines = runner.invoke(args=["sync", "history"]).output.splitlines()
    assert len(lines) == 2 and "nrps sync of course" in lines[0]


def test_member_who_leaves_becomes_inactive_and_comes_back(app: Flask, lms: Lms) -> None:
    lms.launch()
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    lms.nrps.members = [m for m in ROSTER if m["user_id"] != "learner-2"]
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["deactivated"] == 1 and run.counts["members"] == 6
    after = {row[0]: row for row in lms.snapshot()}
    assert after["learner-2"][5] == "inactive"  # kept, not deleted
    assert people(app) == 7
    # The same roster again changes nothing.
    again = lms.sync()
    assert again.counts["deactivated"] == 0 and again.counts["updated"] == 0
    assert {row[0]: row for row in lms.snapshot()} == after
    # Back on the roster: active again.
    lms.nrps.members = [dict(m) for m in ROSTER]
    assert lms.sync().counts["updated"] == 1
    assert lms.snapshot() == before


def changed_roster() -> list[dict[str, Any]]:
    """The roster of the next run: one renamed, one gone, one new, one now inactive."""
    roster = [dict(m) for m in ROSTER if m["user_id"] != "learner-3"]
    roster[1] = member("learner-1", "Ada King", "ada.king@example.edu")
    roster[4] = member("learner-5", "Barbara Liskov", "barbara@example.edu", status="Inactive")
    roster.append(member("learner-7", "Katherine Johnson", "kj@example.edu"))
    return roster


@pytest.mark.parametrize("failure", ["500", "malformed"])
def test_failure_half_way_keeps_previous_roster_and_rerun_matches(
    app: Flask, client: FlaskClient, lms: Lms, failure: str
) -> None:
    # A second LMS with the same history, never interrupted: the reference.
    reference = Lms(app, client, "Reference LMS", "client-ref")
    try:
        for fake in (lms, reference):
            fake.launch()
            assert fake.sync().status == "succeeded"
            fake.nrps.members = changed_roster()
        previous = lms.snapshot()

        lms.nrps.fail = {3 if failure == "malformed" else 2: failure}
        failed = lms.sync()
        assert failed.status == "failed"
        if failure == "500":
            assert "HTTP 500 for page 2" in failed.error and "after 3 attempts" in failed.error
            assert failed.requests == 1 + 1 + 3  # token, page 1, page 2 three times
        else:
            assert "roster page 3" in failed.error and "not valid JSON" in failed.error
            assert failed.requests == 1 + 3
        assert failed.finished_at is not None
        assert lms.snapshot() == previous  # nothing of the half-read roster was written

        lms.nrps.fail = {}
        assert lms.sync().status == "succeeded"
        assert reference.sync().status == "succeeded"
        assert lms.snapshot() == reference.snapshot()
        final = {row[0]: row for row in lms.snapshot()}
        assert final["learner-1"][1:3] == ("Ada King", "ada.king@example.edu")
        assert final["learner-3"][5] == "inactive" and final["learner-5"][5] == "inactive"
        assert final["learner-7"][5] == "active"
    finally:
        reference.nrps.stop()


def test_no_duplicate_for_learners_known_from_a_launch_or_from_logs(app: Flask, lms: Lms) -> None:
    # learner-1 launched (with a test-user system role); learner-5 is known from logs only,
    # under an Open edX user id, with the same e-mail as on the roster.
    lms.launch(
        sub="learner-1",
        roles=[*LEARNER, TEST_USER],
        name="Ada L.",
        email="ada@example.edu",
    )
    with app.app_context():
        platform_id = lms.course().platform_id
        logged = Person(name="barbara", email="barbara@example.edu")
        db.session.add(logged)
        db.session.flush()
        db.session.add(
            PersonIdentity(
                person_id=logged.id, platform_id=platform_id, kind="openedx_user_id", value="42"
            )
        )
        db.session.commit()
        logged_id = logged.id
    assert people(app) == 2
    lms.launch()  # the instructor, so that the course exists with the NRPS URL
    assert lms.sync().status == "succeeded"
    assert people(app) == 7
    with app.app_context():
        by_sub = {
            i.value: i.person_id
            for i in db.session.scalars(
                select(PersonIdentity).where(PersonIdentity.kind == "lti_sub")
            )
        }
        assert by_sub["learner-5"] == logged_id  # linked by e-mail, not a second person
        ada = db.session.scalar(
            select(Enrollment).where(Enrollment.person_id == by_sub["learner-1"])
        )
        assert ada is not None
        # NRPS lists context roles only: the launch's system role and test flag stay.
        assert ada.is_test_user and TEST_USER in ada.roles
        assert db.session.get(Person, by_sub["learner-1"]).name == "Ada Lovelace"


def test_refused_token_fails_with_the_reason(app: Flask, lms: Lms) -> None:
    lms.launch()
    other = public_jwk_from_pem(generate_private_key_pem())
    lms.nrps.tool_jwks = {"keys": [other]}  # the platform does not know our key
    run = lms.sync()
    assert run.status == "failed"
    assert run.error.startswith("the platform refused the service token: HTTP 400")
    # The OAuth error code, never the platform's own text (shown on the admin sync page).
    assert "invalid_client" in run.error and "no tool key" not in run.error
    assert run.requests == 1
    assert people(app) == 1


def test_a_refused_roster_request_fails_with_the_reason(app: Flask, lms: Lms) -> None:
    lms.launch()
    lms.nrps.fail = {1: "401"}
    run = lms.sync()
    assert run.status == "failed"
    assert "the platform refused the roster request: HTTP 401 for page 1" in run.error


def test_course_without_nrps_fails_clearly(
    app: Flask, runner: Any, platform: Any, client: FlaskClient
) -> None:
    response = platform.launch(client)
    assert response.status_code in (302, 303)
    result = runner.invoke(args=["sync", "run", "--course", "course-ctx-1"])
    assert result.exit_code == 1
    assert "has no NRPS memberships URL" in result.output
    with app.app_context():
        [run] = db.session.scalars(select(SyncRun))
        assert run.status == "failed" and run.trigger == "cli"
    missing = runner.invoke(args=["sync", "run", "--course", "nope"])
    assert missing.exit_code == 1 and "no course 'nope'" in missing.output


def test_queue_run_queues_once_and_the_queue_runs(app: Flask, lms: Lms) -> None:
    lms.launch()
    with app.app_context():
        course_id = lms.course().id
        first = queue.queue_run(db.session, course_id, "nrps")
        second = queue.queue_run(db.session, course_id, "nrps")
        db.session.commit()
        assert first.id == second.id and first.status == "queued" and first.started_at is None
        assert db.session.scalar(select(func.count(SyncRun.id))) == 1
        done = runs.run_queued(db.session)
        assert [r.id for r in done] == [first.id]
        assert done[0].status == "succeeded" and done[0].started_at is not None
        assert runs.run_queued(db.session) == []
        third = queue.queue_run(db.session, course_id, "nrps")
        db.session.commit()
        assert third.id != first.id
        assert last_succeeded(db.session, course_id).id == first.id


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_abandoned_run_is_marked_failed_and_a_live_one_blocks(
    app: Flask, lms: Lms, runner: Any
) -> None:
    lms.launch()
    with app.app_context():
        course_id = lms.course().id
        host = runs.worker_id().rpartition(":")[0]
        now = utcnow()
        live = SyncRun(
            course_id=course_id,
            source="nrps",
            status="running",
            trigger="schedule",
            queued_at=now,
            started_at=now,
            worker=f"{host}:{os.getppid()}",
        )
        db.session.add(live)
        db.session.commit()
        live_id = live.id
    blocked = runner.invoke(args=["sync", "run", "--course", "course-ctx-1"])
    assert blocked.exit_code == 1
    assert f"another nrps sync of course {course_id} is running (run {live_id}" in blocked.output
    with app.app_context():
        db.session.get(SyncRun, live_id).worker = f"{host}:{dead_pid()}"
        db.session.commit()
    result = runner.invoke(args=["sync", "run", "--course", "course-ctx-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        old = db.session.get(SyncRun, live_id)
        assert old.status == "failed" and old.error.startswith("interrupted: its process")


def test_next_link_keeps_case_and_resolves_relative_urls() -> None:
    class Answer:
        url = "https://lms.test/api/Lti/Courses/7/Names_And_Roles?page=1"
        headers = {"Link": '</api/Lti/Courses/7/Names_And_Roles?page=2&After=Ab>; rel="NEXT"'}

    assert (
        next_link(Answer()) == "https://lms.test/api/Lti/Courses/7/Names_And_Roles?page=2&After=Ab"
    )  # type: ignore[arg-type]


def test_sigkill_part_way_then_rerun_gives_the_uninterrupted_state(
    app: Flask, client: FlaskClient, lms: Lms, tmp_path: Path
) -> None:
    reference = Lms(app, client, "Reference LMS", "client-ref")
    try:
        for fake in (lms, reference):
            fake.launch()
            assert fake.sync().status == "succeeded"
            fake.nrps.members = changed_roster()
        lms.nrps.fail = {2: "slow"}
        page_2 = f"GET {MEMBERSHIPS_PATH}?page=2"
        seen = lms.nrps.count(page_2)
        with app.app_context():
            course_id = lms.course().id
            db.session.remove()
        env = production_env(
            database_url(tmp_path),
            tmp_path,
            SECRET_KEY="sync-test",
            # The tool's key is stored encrypted: the process needs the same data key.
            DATA_ENCRYPTION_KEY=app.config["DATA_ENCRYPTION_KEY"],
            LOG_JSON="0",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "sync", "run", "--course", str(course_id)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lms.nrps.wait_for(page_2, after=seen)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with app.app_context():
            killed = db.session.scalar(select(SyncRun).order_by(SyncRun.id.desc()).limit(1))
            assert killed.status == "running"  # nobody was left to say otherwise
        lms.nrps.fail = {}
        assert lms.sync().status == "succeeded"
        assert reference.sync().status == "succeeded"
        assert lms.snapshot() == reference.snapshot()
        with app.app_context():
            assert db.session.get(SyncRun, killed.id).status == "failed"
    finally:
        reference.nrps.stop()


def test_a_throttled_page_is_retried_after_the_platforms_retry_after(app: Flask, lms: Lms) -> None:
    """NRPS honours Retry-After as the Canvas client does: the pause is the platform's."""
    from lti_tool.sync.nrps import fetch_roster, registration_for

    lms.launch()
    lms.nrps.fail = {2: "429"}
    lms.nrps.retry_after = 3
    pauses: list[float] = []
    with app.app_context():
        course = lms.course()
        roster = fetch_roster(
            registration_for(db.session, course),
            course.nrps_memberships_url or "",
            retry_delays=(0.5, 0.5),
            sleep=pauses.append,
        )
    assert pauses == [3.0]  # the platform's 3 s, not the default 0.5 s
    assert roster.pages == 3 and len(roster.members) == len(lms.nrps.members)
    throttled = [r for r in lms.nrps.seen if "page=2" in r]
    assert len(throttled) == 2  # asked again once, after the pause


@pytest.mark.parametrize("failure", ["500", "malformed", "401", "token"])
def test_a_failed_roster_sync_is_shown_in_the_page_language(
    app: Flask, lms: Lms, failure: str
) -> None:
    lms.launch()
    if failure == "token":
        lms.nrps.tool_jwks = {"keys": [public_jwk_from_pem(generate_private_key_pem())]}
    else:
        lms.nrps.fail = {1: failure}
    run = lms.sync()
    assert run.status == "failed"
    shown = error_in_languages(run.error, run.error_id, run.error_values)
    expected = {
        "500": ("HTTP 500 for page 1", "(after 3 attempts)", "(tras 3 intentos)"),
        "malformed": ("roster page 1 (", "is not valid JSON", "no es un JSON válido"),
        "401": ("the platform refused the roster request: HTTP 401", "", "la plataforma rechazó"),
        "token": ("the platform refused the service token", "invalid_client", "invalid_client"),
    }[failure]
    assert expected[0] in shown["en"] and expected[1] in shown["en"]
    assert expected[2] in shown["es"]
