"""Activity of someone who is not on the roster of a course that has one: kept, listed apart,
out of the class figures."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis.roster import class_member_ids, has_roster, not_on_roster, not_on_roster_ids
from lti_tool.models import Course, PersonIdentity, SyncRun
from lti_tool.models.types import utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.sync.nrps import apply_roster
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, LEARNER, MEMBERSHIP, FakePlatform, launch_into
from tests.helpers.tracking_logs import COURSE, event, write


def learners(runner: FlaskCliRunner) -> set[str]:
    result = runner.invoke(args=["report", "learners", "--course", COURSE])
    assert result.exit_code == 0, result.output
    return {row["learner"] for row in json.loads(result.output)}


def test_people_off_the_roster_leave_the_class_once_a_roster_sync_succeeded(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    launch_into(app, COURSE, LEARNER, "sub-1", "onroster")
    log = write(
        tmp_path / "t.log",
        [
            event("2026-03-02 10:00:00", user=1, username="onroster"),
            event("2026-03-02 10:05:00", user=1, username="onroster"),
            event("2026-03-02 10:00:00", user=2, username="stranger"),  # a typo'd course? a TA?
        ],
    )
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--platform", "Open edX"])
    assert result.exit_code == 0, result.output
    # No roster yet: everyone seen in the logs is a learner of the class.
    assert learners(runner) == {"onroster", "stranger"}

    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None and not has_roster(db.session, course)
        apply_roster(
            db.session,
            course,
            [{"user_id": "sub-1", "status": "Active", "roles": [MEMBERSHIP + "Learner"]}],
        )
        db.session.add(
            SyncRun(course_id=course.id, source="nrps", status="succeeded", finished_at=utcnow())
        )
        db.session.commit()
        assert has_roster(db.session, course)
        stranger = db.session.scalar(
            select(PersonIdentity.person_id).where(PersonIdentity.value == "stranger")
        )
        assert not_on_roster_ids(db.session, course) == {stranger}
        assert stranger not in class_member_ids(db.session, course)
        rows = not_on_roster(db.session, course, pseudonym_key())
        assert [(r["learner"], r["events"]) for r in rows] == [("stranger", 1)]
    assert learners(runner) == {"onroster"}  # the class figures leave them out


def test_a_failed_sync_is_no_roster(app: Flask, tmp_path: Path, runner: FlaskCliRunner) -> None:
    ingest = runner.invoke(
        args=["ingest", "tracking-logs", str(write(tmp_path / "t.log", [event("2026-03-02")]))]
    )
    assert ingest.exit_code == 0, ingest.output
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        db.session.add(SyncRun(course_id=course.id, source="nrps", status="failed"))
        db.session.commit()
        assert not has_roster(db.session, course)
        assert len(class_member_ids(db.session, course)) == 1
        assert not_on_roster_ids(db.session, course) == set()


def test_the_learners_page_and_the_report_list_them_apart(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    platform = FakePlatform(name="Open edX")
    platform.register(app)
    client = https_client(app)
    context = {CLAIM + "context": {"id": COURSE, "title": "Demo", "label": COURSE}}
    staff = platform.launch(client, sub="teacher", **context)
    assert staff.status_code == 303
    log = write(
        tmp_path / "t.log",
        [
            event("2026-03-02 10:00:00", user=2, username="stranger"),
            event("2026-03-02 10:03:00", user=2, username="stranger"),
        ],
    )
    result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--platform", "Open edX"])
    assert result.exit_code == 0, result.output
    page_url = staff.headers["Location"].replace("/courses/1/?", "/courses/1/learners?")
    before = client.get(page_url).get_data(as_text=True)
    assert 'id="not-on-roster"' not in before  # no roster yet: a learner like any other
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        db.session.add(
            SyncRun(course_id=course.id, source="nrps", status="succeeded", finished_at=utcnow())
        )
        db.session.commit()
    after = client.get(page_url).get_data(as_text=True)
    assert 'id="not-on-roster"' in after and "Not on the roster (1)" in after
    assert "stranger" in after.split('id="not-on-roster"')[1]
    assert "stranger" not in after.split('id="not-on-roster"')[0]  # out of the table
    report = runner.invoke(args=["report", "not-on-roster", "--course", COURSE])
    assert report.exit_code == 0, report.output
    assert [(r["learner"], r["events"]) for r in json.loads(report.output)] == [("stranger", 2)]
