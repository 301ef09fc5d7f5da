"""Purge and retention, and learner deletion: no row left, found from the foreign keys."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Table, func, select

from lti_tool import audit
from lti_tool.api.tokens import create_token
from lti_tool.data.privacy import person_references
from lti_tool.data.retention import PURGE_KEEPS, course_references, run_retention
from lti_tool.extensions import db
from lti_tool.kpis import learner_summary
from lti_tool.models import (
    AccessLog,
    AdminAudit,
    Assignment,
    CarriedRows,
    Course,
    CourseBlock,
    CourseEvent,
    CourseModule,
    CourseSettings,
    LearnerDay,
    LmsCourseActivityDay,
    LmsEnrollment,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ModuleProgress,
    Person,
    PersonIdentity,
    ScoreSnapshot,
    Section,
    SectionMember,
    Submission,
    SyncRun,
    ViewPreference,
    XapiStatement,
)
from lti_tool.models.activity import MAX_GAP_MINUTE
from lti_tool.people.pseudonyms import pseudonym_key
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform
from tests.helpers.problems import enrollment, problem_check
from tests.helpers.tracking_logs import COURSE, VIDEO, event, ingest, with_ip, write

OTHER = "course-v1:edX+Other+2026"
TODAY = datetime.now(UTC).date()
OLD, RECENT = TODAY - timedelta(days=40), TODAY - timedelta(days=10)


def _stamp(day: date, clock: str) -> str:
    return f"{day.isoformat()} {clock}"


def _person(kind: str, value: str) -> int:
    return db.session.scalar(
        select(PersonIdentity.person_id).where(
            PersonIdentity.kind == kind, PersonIdentity.value == value
        )
    )


def _course(key: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.lti_context_id == key))


def _fill(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp: Path
) -> dict[str, int]:
    """learner7 in two courses, peer8 in the first only; a row in every table of both."""
    video = {"id": VIDEO, "code": "html5", "duration": 60}
    lines = []
    for course in (COURSE, OTHER):
        for day in (OLD, RECENT):
            lines += [
                event(_stamp(day, "10:00:00"), course=course),
                event(
                    _stamp(day, "10:05:00"),
                    "play_video",
                    source="browser",
                    payload={**video, "currentTime": 0},
                    course=course,
                ),
                event(
                    _stamp(day, "10:06:00"),
                    "pause_video",
                    source="browser",
                    payload={**video, "currentTime": 60},
                    course=course,
                ),
                # A problem answer and an enrollment mode (learner_problem, enrollment_change).
                problem_check(
                    _stamp(day, "10:07:00"),
                    {"p_2_1": {"answer": "4", "correct": True}},
                    course=course,
                ),
                enrollment(_stamp(day, "10:08:00"), "activated", "audit", course=course),
            ]
    lines += [
        event(_stamp(OLD, "09:00:00"), user=8, username="peer8"),
        event(_stamp(RECENT, "09:00:00"), user=8, username="peer8"),
    ]
    # Addresses give learner_country its rows (the country, never the address, is kept).
    lines = [with_ip(line, "193.0.6.139") for line in lines]
    assert ingest(runner, write(tmp / "t.log", lines))["events_ingested"] == len(lines)
    for course in (COURSE, OTHER):
        launched = platform.launch(
            client,
            roles=LEARNER,
            sub="s7",
            preferred_username="learner7",
            **{CLAIM + "context": {"id": course, "title": course}},
        )
        assert launched.status_code == 303
    with app.app_context():
        ids = {
            "learner": _person("openedx_username", "learner7"),
            "peer": _person("openedx_username", "peer8"),
            "course": _course(COURSE),
            "other": _course(OTHER),
        }
        for key in ("course", "other"):
            course_id, learner = ids[key], ids["learner"]
            db.session.add(CourseSettings(course_id=course_id))
            db.session.add(
                CourseEvent(course_id=course_id, source="staff", title="Exam", at=datetime.now(UTC))
            )
            create_token(
                db.session, f"lab-{key}", "events:write", db.session.get(Course, course_id)
            )
            db.session.add(
                XapiStatement(
                    id=f"00000000-0000-0000-0000-00000000000{len(key)}",
                    digest="0" * 64,
                    course_id=course_id,
                    received_at=datetime.combine(OLD, datetime.min.time(), UTC),
                )
            )
            db.session.add(SyncRun(course_id=course_id, source="canvas", status="succeeded"))
            section = Section(course_id=course_id, lms_section_id="s1", name="Section 1")
            assignment = Assignment(course_id=course_id, lms_assignment_id="a1", name="Essay")
            module = CourseModule(course_id=course_id, lms_module_id="m1", name="Week 1")
            db.session.add_all([section, assignment, module])
            db.session.flush()
            db.session.add(SectionMember(section_id=section.id, person_id=learner))
            db.session.add(Submission(assignment_id=assignment.id, person_id=learner, score=7))
            db.session.add(ModuleProgress(module_id=module.id, person_id=learner, items_done=1))
            db.session.add(LmsLearnerStats(course_id=course_id, person_id=learner, source="canvas"))
            db.session.add(
                ScoreSnapshot(course_id=course_id, person_id=learner, week_start=OLD, score=70)
            )
            db.session.add(
                LmsEnrollment(
                    course_id=course_id,
                    person_id=learner,
                    created_at=datetime.combine(OLD, datetime.min.time(), UTC),
                    mode="student",
                )
            )
            for day in (OLD, RECENT):
                db.session.add(LmsCourseActivityDay(course_id=course_id, day=day, views=3))
                db.session.add(
                    LmsLearnerActivityHour(
                        course_id=course_id,
                        person_id=learner,
                        hour=datetime.combine(day, datetime.min.time(), UTC),
                        views=2,
                    )
                )
            db.session.add(CourseBlock(course_id=course_id, block_id="b1", block_type="video"))
            # learner7 exported a list of learners, and someone looked at learner7's details.
            db.session.add(
                AccessLog(
                    course_id=course_id,
                    viewer_person_id=learner,
                    viewer_label="learner7 as a TA",
                    action="learners_csv",
                    subjects=5,
                )
            )
            db.session.add(
                AccessLog(
                    course_id=course_id,
                    viewer_label="an admin",
                    action="contact_details",
                    subject_person_id=learner,
                )
            )
            # learner7, as a TA, chose the learners table's columns.
            db.session.add(
                ViewPreference(
                    person_id=learner, course_id=course_id, view="learners.columns", value=["email"]
                )
            )
            # An administrator's action on the course, in the audit log.
            audit.record(db.session, "sync_requested", f"course {course_id}", course_id=course_id)
        db.session.commit()
        # The learner summaries as the next page shows them (the rows above went in by hand).
        for key in ("course", "other"):
            course = db.session.get(Course, ids[key])
            learner_summary.current(db.session, course, key=pseudonym_key())
        # learner7's rows as an event batch carries them to the next refresh.
        db.session.add(CarriedRows(course_id=ids["course"], person_id=learner, rows="[]"))
        db.session.commit()
    return ids


def _tables_under_course() -> list[tuple[Table, Any]]:
    """(table, function course_id -> condition) for every table that refers to a course,
    directly or through a parent row, from the models' foreign keys."""
    found: list[tuple[Table, Any]] = []
    direct = course_references()
    for table, column in direct:
        found.append((table, lambda c, t=table, col=column: t.c[col] == c))
    for child in db.metadata.sorted_tables:
        for fk in child.foreign_keys:
            for parent, column in direct:
                if fk.column.table is parent and child is not parent:
                    found.append(
                        (
                            child,
                            lambda c, ch=child, f=fk, p=parent, col=column: ch.c[f.parent.name].in_(
                                select(f.column).where(p.c[col] == c)
                            ),
                        )
                    )
    return found


def _course_rows(course_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table, condition in _tables_under_course():
        n = db.session.scalar(select(func.count()).select_from(table).where(condition(course_id)))
        counts[table.name] = counts.get(table.name, 0) + n
    return counts


def _person_rows(person_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table, column in person_references():
        n = db.session.scalar(
            select(func.count()).select_from(table).where(table.c[column] == person_id)
        )
        counts[f"{table.name}.{column}"] = n
    return counts


def test_purge_course_leaves_no_row_of_its_activity_or_learners(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    ids = _fill(app, runner, client, platform, tmp_path)
    with app.app_context():
        before = _course_rows(ids["course"])
        missing = [name for name, n in before.items() if n == 0]
        assert not missing, f"add rows of {missing} to _fill: every table must be exercised"
        other_before = _course_rows(ids["other"])
    dry = runner.invoke(args=["data", "purge", "--course", COURSE, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["rows"] > 0
    with app.app_context():
        assert _course_rows(ids["course"]) == before  # a dry run changes nothing

    done = runner.invoke(args=["data", "purge", "--course", COURSE, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)["courses"][0]
    assert summary["course_id"] == ids["course"] and summary["people_forgotten"] == 1
    with app.app_context():
        after = _course_rows(ids["course"])
        left = {name: n for name, n in after.items() if n and name not in PURGE_KEEPS}
        assert not left, left
        kept = {name for name, n in after.items() if n}
        assert kept == PURGE_KEEPS  # the course's settings, calendar, runs, tokens, audit
        assert db.session.get(Course, ids["course"]) is not None
        assert _course_rows(ids["other"]) == other_before  # the other course keeps everything
        # peer8 was known only through the purged course: forgotten; learner7 stays.
        assert db.session.get(Person, ids["peer"]) is None
        assert all(n == 0 for n in _person_rows(ids["peer"]).values())
        assert db.session.get(Person, ids["learner"]) is not None
    time_spent = runner.invoke(args=["report", "time-spent", "--course", OTHER])
    assert {r["learner"] for r in json.loads(time_spent.output)} == {"learner7"}
    empty = runner.invoke(args=["report", "time-spent", "--course", COURSE])
    assert json.loads(empty.output) == []


def test_delete_learner_leaves_no_row_in_any_table_that_refers_to_a_person(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    ids = _fill(app, runner, client, platform, tmp_path)
    with app.app_context():
        before = _person_rows(ids["learner"])
        missing = [name for name, n in before.items() if n == 0]
        assert not missing, f"add rows of {missing} to _fill: every table must be exercised"
        peer_before = _person_rows(ids["peer"])
    done = runner.invoke(args=["data", "delete-learner", "--identity", "lti_sub=s7", "--yes"])
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert all(n == 0 for n in _person_rows(ids["learner"]).values())
        assert db.session.get(Person, ids["learner"]) is None
        # (No foreign key to person: a merge deletes the person whose rows it carries.)
        carried = select(func.count()).where(CarriedRows.person_id == ids["learner"])
        assert db.session.scalar(carried) == 0
        assert _person_rows(ids["peer"]) == peer_before  # nobody else loses anything


def _days(course_id: int) -> dict[int, list[date]]:
    rows = db.session.execute(
        select(LearnerDay.person_id, LearnerDay.day)
        .where(LearnerDay.course_id == course_id)
        .order_by(LearnerDay.day)
    )
    found: dict[int, list[date]] = {}
    for person, day in rows:
        found.setdefault(person, []).append(day)
    return found


def _gap_minutes(course_id: int, person_id: int, day: date) -> list[float]:
    packed = db.session.scalar(
        select(LearnerDay.gaps).where(
            LearnerDay.course_id == course_id,
            LearnerDay.person_id == person_id,
            LearnerDay.day == day,
        )
    )
    return orjson.loads(packed)[0::3]


def _dated(course_id: int) -> dict[str, list[Any]]:
    return {
        "hours": sorted(
            db.session.scalars(
                select(LmsLearnerActivityHour.hour).where(
                    LmsLearnerActivityHour.course_id == course_id
                )
            )
        ),
        "days": sorted(
            db.session.scalars(
                select(LmsCourseActivityDay.day).where(LmsCourseActivityDay.course_id == course_id)
            )
        ),
    }


def test_purge_older_than_removes_only_old_activity_and_rebuilds_rollups(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    ids = _fill(app, runner, client, platform, tmp_path)
    with app.app_context():
        assert _days(ids["course"])[ids["learner"]] == [OLD, RECENT]
        # The recent day's first gap reaches back 30 days to the old day: the top bucket.
        assert MAX_GAP_MINUTE in _gap_minutes(ids["course"], ids["learner"], RECENT)
        other_before = _course_rows(ids["other"])
    done = runner.invoke(args=["data", "purge", "--course", COURSE, "--older-than", "30"])
    assert done.exit_code == 0, done.output
    assert "activity_block 2" in done.output  # learner7's and peer8's old days
    with app.app_context():
        days = _days(ids["course"])
        assert days == {ids["learner"]: [RECENT], ids["peer"]: [RECENT]}
        assert MAX_GAP_MINUTE not in _gap_minutes(ids["course"], ids["learner"], RECENT)
        dated = _dated(ids["course"])
        assert [h.date() for h in dated["hours"]] == [RECENT] and dated["days"] == [RECENT]
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(XapiStatement)
                .where(XapiStatement.course_id == ids["course"])
            )
            == 0
        )
        # Not activity: the roster, grades and structure stay.
        assert db.session.scalar(select(func.count()).select_from(Submission)) == 2
        assert _course_rows(ids["other"]) == other_before  # --course: only that course
    weeks = json.loads(runner.invoke(args=["report", "weekly-activity", "--course", COURSE]).output)
    assert {r["week_start"] for r in weeks} == {(RECENT - timedelta(RECENT.weekday())).isoformat()}
    # Without --course: every course.
    everywhere = runner.invoke(args=["data", "purge", "--older-than", "30", "--json"])
    result = json.loads(everywhere.output)
    assert [c["course_id"] for c in result["courses"] if c["rows"]] == [ids["other"]]
    with app.app_context():
        assert _days(ids["other"]) == {ids["learner"]: [RECENT]}
    again = runner.invoke(args=["data", "purge", "--older-than", "30", "--json"])
    assert json.loads(again.output)["rows"] == 0


def test_retention_applies_each_courses_setting(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    ids = _fill(app, runner, client, platform, tmp_path)
    with app.app_context():
        db.session.get(CourseSettings, ids["course"]).retention_days = 30
        db.session.get(CourseSettings, ids["other"]).retention_days = 60
        db.session.commit()
        line = run_retention(db.session)
        assert line.startswith("retention: 2 courses with a retention period")
        assert _days(ids["course"])[ids["learner"]] == [RECENT]
        # 40-day-old activity is inside the other course's 60 days: kept.
        assert _days(ids["other"])[ids["learner"]] == [OLD, RECENT]
        assert len(_dated(ids["other"])["hours"]) == 2
        db.session.get(CourseSettings, ids["other"]).retention_days = 5
        db.session.commit()
        run_retention(db.session)
        assert ids["learner"] not in _days(ids["other"])
        assert _dated(ids["other"])["days"] == []


def test_purge_refuses_bad_input(app: Flask, runner: FlaskCliRunner) -> None:
    nothing = runner.invoke(args=["data", "purge"])
    assert nothing.exit_code == 2 and "give --course COURSE, --older-than DAYS" in nothing.output
    unknown = runner.invoke(args=["data", "purge", "--course", "nope"])
    assert unknown.exit_code == 1 and "no course 'nope'" in unknown.output
    negative = runner.invoke(args=["data", "purge", "--older-than", "-3"])
    assert negative.exit_code == 2
    platform = runner.invoke(args=["data", "purge", "--older-than", "3", "--platform", "x"])
    assert platform.exit_code == 1 and "no platform named 'x'" in platform.output


def test_retention_keeps_the_audit_log_its_number_of_days(app: Flask) -> None:
    with app.app_context():
        old = audit.record(db.session, "key_rotated", "old key")
        old.at = datetime.now(UTC) - timedelta(days=401)
        audit.record(db.session, "key_rotated", "new key")
        db.session.commit()
        line = run_retention(db.session, 400)
        assert "1 audit log rows older than 400 days deleted" in line
        assert [r.target for r in db.session.scalars(select(AdminAudit))] == ["new key"]
        run_retention(db.session)  # no setting: nothing goes
        assert db.session.scalar(select(func.count()).select_from(AdminAudit)) == 1
