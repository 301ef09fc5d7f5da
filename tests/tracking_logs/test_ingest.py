"""Tracking-log ingest through `flask ingest tracking-logs`, and the KPIs it feeds.

Small hand-built logs; expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.activity import workers as workers_module
from lti_tool.activity.blocks import stored_events
from lti_tool.activity.workers import Workers
from lti_tool.events.sink import EventSink, IncomingEvent
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import ActivityBlock, Course, PersonIdentity
from lti_tool.people.merge import merge_people
from lti_tool.tracking_logs import ingest as log_ingest
from lti_tool.tracking_logs import parse as tracking_log
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.database import make_app
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform
from tests.helpers.tracking_logs import (
    COURSE,
    VIDEO,
    VIDEO_ID,
    event,
    ingest,
    report,
    write,
)


def test_time_spent_cutoff_and_sessions(runner: FlaskCliRunner, tmp_path: Path) -> None:
    # gaps: 10 min, exactly 30 min, 5 min
    log = write(
        tmp_path / "tracking.log",
        [
            event("2026-03-02 10:00:00"),
            event("2026-03-02 10:10:00"),
            event("2026-03-02 10:40:00"),
            event("2026-03-02 10:45:00"),
        ],
    )
    assert ingest(runner, log)["events_ingested"] == 4
    # cutoff 30: 600 + 300 (the 30-minute gap is not strictly shorter) = 900 s, 2 sessions
    [row] = report(runner, "time-spent")
    assert (row["learner"], row["seconds"], row["sessions"], row["events"]) == (
        "learner7",
        900.0,
        2,
        4,
    )
    # cutoff 31: every gap counts: 600 + 1800 + 300 = 2700 s, one session
    [row] = report(runner, "time-spent", "--cutoff-minutes", "31")
    assert (row["seconds"], row["sessions"]) == (2700.0, 1)
    # cutoff 5 (the conservative figure): no gap is under 5 minutes
    [row] = report(runner, "time-spent", "--cutoff-minutes", "5")
    assert (row["seconds"], row["sessions"]) == (0.0, 4)


def test_gap_belongs_to_the_day_of_the_event_that_ends_it(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(tmp_path / "t.log", [event("2026-03-02 23:50:00"), event("2026-03-03 00:10:00")])
    ingest(runner, log)
    rows = {r["day"]: r for r in report(runner, "time-spent")}
    assert rows["2026-03-02"]["seconds"] == 0.0 and rows["2026-03-02"]["sessions"] == 1
    assert rows["2026-03-03"]["seconds"] == 1200.0 and rows["2026-03-03"]["sessions"] == 0


def test_weekly_activity_labels_iso_weeks_task_and_enrollment_events(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    play = {"id": VIDEO, "currentTime": 0, "code": "html5"}
    log = write(
        tmp_path / "t.log",
        [
            # Thursday 2026-12-31 and Sunday 2027-01-03 share the ISO week of Monday 2026-12-28
            event("2026-12-31 09:00:00", user=1, username="a"),
            event(
                "2027-01-03 09:00:00",
                "problem_check",
                user=2,
                username="b",
                payload={"problem_id": "p1", "success": "correct"},
            ),
            event(
                "2027-01-03 09:05:00",
                "problem_check",
                user=3,
                username="c",
                source="browser",
                payload="input_1=2",
            ),  # a browser problem_check is not an attempt
            event(
                "2027-01-03 09:06:00",
                "play_video",
                user=3,
                username="c",
                source="browser",
                payload=play,
            ),
            # Monday 2027-01-04 starts the next week
            event(
                "2027-01-04 09:00:00",
                "edx.video.played",
                user=4,
                username="d",
                source="mobile",
                payload={"id": VIDEO, "currentTime": 0},
            ),
            event("2027-01-04 09:10:00", "edx.forum.thread.created", user=1, username="a"),
            event(
                "2027-01-04 09:20:00",
                "edx.grades.problem.submitted",
                user=5,
                username="e",
                source="task",
            ),
            event("2027-01-04 09:30:00", "edx.course.enrollment.activated", user=6, username="f"),
        ],
    )
    ingest(runner, log)
    counts = {(r["week_start"], r["label"]): r["count"] for r in report(runner, "weekly-activity")}
    assert counts == {
        ("2026-12-28", "ACTIVE"): 3,  # users 1, 2, 3
        ("2026-12-28", "ATTEMPTED_PROBLEM"): 1,
        ("2026-12-28", "PLAYED_VIDEO"): 1,
        ("2027-01-04", "ACTIVE"): 2,  # users 4 and 1; not the task (5) nor enrollment (6)
        ("2027-01-04", "PLAYED_VIDEO"): 1,  # the mobile edx.video.played counts too
        ("2027-01-04", "POSTED_FORUM"): 1,
    }


def test_reingest_renamed_and_gzipped_copy_changes_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    lines = [event(f"2026-03-02 10:{m:02d}:00") for m in range(0, 50, 7)]
    log = write(tmp_path / "tracking.log", lines)
    first = ingest(runner, log)
    before = (report(runner, "time-spent"), report(runner, "weekly-activity"))
    assert first["events_ingested"] == len(lines)
    again = ingest(runner, log)
    assert again["events_ingested"] == 0 and again["files_unchanged"] == 1
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    shutil.copy(log, rotated / "tracking.log.1")
    with open(log, "rb") as src, gzip.open(rotated / "tracking.log.2.gz", "wb") as dst:
        dst.write(src.read())
    log.unlink()
    third = ingest(runner, rotated)
    assert third["files"] == 2 and third["events_ingested"] == 0
    assert (report(runner, "time-spent"), report(runner, "weekly-activity")) == before
    with app.app_context():
        assert len(stored_events(db.session)) == len(lines)


def test_grown_file_with_unterminated_last_line(runner: FlaskCliRunner, tmp_path: Path) -> None:
    full = [event(f"2026-03-02 10:0{m}:00") for m in range(5)]
    log = tmp_path / "tracking.log"
    partial = full[3][: len(full[3]) // 2]
    log.write_text("\n".join(full[:3]) + "\n" + partial, encoding="utf-8")
    first = ingest(runner, log)
    assert first["events_ingested"] == 3 and first["lines"] == 3
    log.write_text("\n".join(full) + "\n", encoding="utf-8")  # the writer finished the line
    second = ingest(runner, log)
    assert second["events_ingested"] == 2 and second["lines"] == 2
    assert not second["problems"]
    [row] = report(runner, "time-spent")
    assert row["events"] == 5 and row["seconds"] == 240.0


def test_late_events_update_their_learner_day(runner: FlaskCliRunner, tmp_path: Path) -> None:
    server_a = write(
        tmp_path / "a.log", [event("2026-03-02 10:00:00"), event("2026-03-02 10:40:00")]
    )
    ingest(runner, server_a)
    [row] = report(runner, "time-spent")
    assert (row["seconds"], row["sessions"]) == (0.0, 2)  # a 40-minute gap
    server_b = write(tmp_path / "b.log", [event("2026-03-02 10:20:00")])  # arrives later
    ingest(runner, server_b)
    [row] = report(runner, "time-spent")
    assert (row["seconds"], row["sessions"], row["events"]) == (2400.0, 1, 3)


def test_malformed_lines_are_counted_reported_and_skipped(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    good = event("2026-03-02 10:00:00")
    no_time = json.loads(good)
    del no_time["time"]
    no_course = json.loads(good)
    no_course["context"]["course_id"] = ""
    wrong_types = json.loads(good)
    wrong_types["context"] = "not an object"
    log = tmp_path / "bad.log"
    with open(log, "wb") as out:
        out.write(b"# a comment line\n\n")
        out.write(good.encode() + b"\n")  # line 3
        out.write(b'{"username": "x", "time": \n')  # line 4: broken JSON
        out.write(json.dumps(no_time).encode() + b"\n")  # line 5
        out.write(json.dumps(no_course).encode() + b"\n")  # line 6
        out.write(json.dumps(wrong_types).encode() + b"\n")  # line 7
        out.write(b'{"username": "' + b"x" * 10_000_000 + b'"}\n')  # line 8: 10 MB
        out.write(good.replace("learner7", "l\xe9arner").encode("latin-1") + b"\n")  # line 9
        out.write(event("2026-03-02 10:05:00").encode() + b"\n")  # line 10
        # line 11: an escaped NUL, which PostgreSQL cannot store
        out.write(good.replace("learner7", "learner\\u0000").encode() + b"\n")
    result = ingest(runner, log)
    assert result["exit_code"] == 0
    assert result["events_ingested"] == 2
    assert result["skipped"] == {
        "broken_json": 2,
        "missing_time": 1,
        "missing_course": 1,
        "wrong_types": 1,
        "line_too_long": 1,
        "invalid_utf8": 1,
    }
    assert f"{log}:4: broken json" in result["problems"]
    assert f"{log}:8: line too long" in result["problems"]
    assert f"{log}:9: invalid utf8" in result["problems"]
    assert f"{log}:11: broken json" in result["problems"]


def test_truncated_gz_and_unreadable_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    lines = "\n".join(event(f"2026-03-02 10:{m:02d}:00") for m in range(40)) + "\n"
    packed = gzip.compress(lines.encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    result = ingest(runner, cut, tmp_path / "missing.log")
    assert result["exit_code"] == 0  # something could be read
    assert result["skipped"]["truncated_file"] == 1 and result["skipped"]["unreadable_file"] == 1
    assert 0 < result["events_ingested"] < 40
    assert any("missing.log: unreadable" in p for p in result["problems"])
    nothing = ingest(runner, tmp_path / "missing.log")
    assert nothing["exit_code"] == 1


def test_video_reports_from_ingested_logs(runner: FlaskCliRunner, tmp_path: Path) -> None:
    def video(stamp: str, name: str, user: int, **data: Any) -> str:
        payload = {"id": VIDEO, "code": "html5", "duration": 60, **data}
        return event(stamp, name, user=user, username=f"u{user}", source="browser", payload=payload)

    log = write(
        tmp_path / "v.log",
        [
            # u1 watches 0 → 60 (the whole video): segments 0..12
            video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
            video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
            # u2 watches 0 → 12: segments 0..2
            video("2026-03-02 10:00:00", "play_video", 2, currentTime=0),
            video("2026-03-02 10:00:12", "stop_video", 2, currentTime=12),
        ],
    )
    ingest(runner, log)
    [summary] = report(runner, "video-summary")
    # end segment: max(60 - 30, 0.95 * 60) = 57 -> 57 // 5 = 11
    assert summary["video_id"] == VIDEO_ID
    assert (summary["duration"], summary["users_at_start"], summary["users_at_end"]) == (60, 2, 1)
    # views: u1 13 segments + u2 3 segments = 16 views * 5 s
    assert summary["total_viewed_seconds"] == 80
    timeline = {
        r["segment"]: (r["num_users"], r["num_views"]) for r in report(runner, "video-timeline")
    }
    assert timeline[0] == (2, 2) and timeline[2] == (2, 2) and timeline[3] == (1, 1)
    coverage = {
        r["learner"]: (r["coverage"], r["completed"]) for r in report(runner, "learner-video")
    }
    assert coverage == {"u1": (1.0, True), "u2": (round(3 / 13, 4), False)}


def test_report_course_by_tool_id_and_csv(runner: FlaskCliRunner, tmp_path: Path) -> None:
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    result = runner.invoke(args=["report", "weekly-activity", "--course", "1", "--format", "csv"])
    assert result.output == (
        f"course,week_start,label,label_name,count\n{COURSE},2026-03-02,ACTIVE,Active,1\n"
    )
    missing = runner.invoke(args=["report", "weekly-activity", "--course", "nope"])
    assert missing.exit_code == 1 and "no course 'nope'" in missing.output


def test_ambiguous_course_asks_for_platform(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    for name, issuer in (("Edge", "https://edge.example"), ("Campus", "https://campus.example")):
        FakePlatform(issuer=issuer, name=name, client_id=name).register(app)
    log = write(tmp_path / "t.log", [event("2026-03-02 10:00:00")])
    for name in ("Edge", "Campus"):
        result = runner.invoke(args=["ingest", "tracking-logs", str(log), "--platform", name])
        assert result.exit_code == 0, result.output
        log.write_text(log.read_text() + event("2026-03-02 11:00:00") + "\n")
    ambiguous = runner.invoke(args=["report", "time-spent", "--course", COURSE])
    assert ambiguous.exit_code == 1 and "--platform" in ambiguous.output
    ok = runner.invoke(args=["report", "time-spent", "--course", COURSE, "--platform", "Edge"])
    assert ok.exit_code == 0 and json.loads(ok.output)[0]["learner"] == "learner7"


def test_learner_seen_in_logs_is_linked_at_launch(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    response = platform.launch(
        client, roles=LEARNER, sub="anon-7f3", preferred_username="learner7", **context
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course)) == 1
        kinds = {(i.kind, i.value) for i in db.session.scalars(select(PersonIdentity))}
        assert kinds == {
            ("openedx_user_id", "7"),
            ("openedx_username", "learner7"),
            ("lti_sub", "anon-7f3"),
        }
        owners = set(db.session.scalars(select(PersonIdentity.person_id)))
        assert len(owners) == 1  # one person, three identities


def test_standalone_course_from_logs_is_not_claimed_by_a_launch(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, tmp_path: Path
) -> None:
    # Before the tenancy work a first launch from any platform claimed the course and its
    # learners; now only an administrator attaches it (tests/launch/test_course_ownership.py).
    ingest(runner, write(tmp_path / "t.log", [event("2026-03-02 10:00:00")]))
    with app.app_context():
        assert db.session.scalar(select(Course)).platform_id is None
    lms = FakePlatform()
    lms.register(app)
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    assert (
        lms.launch(client, roles=LEARNER, preferred_username="learner7", **context).status_code
        == 303
    )
    with app.app_context():
        courses = list(db.session.scalars(select(Course).order_by(Course.id)))
        assert [c.platform_id is None for c in courses] == [True, False]
        alone = set(
            db.session.scalars(
                select(PersonIdentity.platform_id).where(PersonIdentity.kind == "openedx_user_id")
            )
        )
        assert alone == {None}  # the logged learner stays with the course that stands alone


def test_two_rows_for_one_learner_are_merged_when_the_username_arrives(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    # First launch shares no username: the tool cannot know this is learner7 of the logs.
    assert platform.launch(client, roles=LEARNER, sub="anon-7f3", **context).status_code == 303
    ingest(
        runner,
        write(tmp_path / "t.log", [event("2026-03-02 10:00:00"), event("2026-03-02 10:10:00")]),
    )
    with app.app_context():
        assert len(set(db.session.scalars(select(PersonIdentity.person_id)))) == 2
    # Later the course shares usernames: the two rows become one, with the activity.
    assert (
        platform.launch(
            client, roles=LEARNER, sub="anon-7f3", preferred_username="learner7", **context
        ).status_code
        == 303
    )
    with app.app_context():
        owners = set(db.session.scalars(select(PersonIdentity.person_id)))
        assert len(owners) == 1
        assert {e.person_id for e in stored_events(db.session)} == owners
    [row] = report(runner, "time-spent")
    assert (row["learner"], row["events"], row["seconds"]) == ("learner7", 2, 600.0)


def test_worker_processes_ingest_exactly_what_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def video(stamp: str, name: str, user: int, **data: Any) -> str:
        payload = {"id": VIDEO, "code": "html5", "duration": 60, **data}
        return event(stamp, name, user=user, username=f"u{user}", source="browser", payload=payload)

    lines = []
    for day in range(1, 6):
        for user in range(1, 9):
            for minute in range(0, 50, 7):
                stamp = f"2026-03-0{day} {10 + user}:{minute:02d}"
                lines.append(event(f"{stamp}:00", user=user, username=f"u{user}"))
                position = minute % 20
                lines.append(video(f"{stamp}:10", "play_video", user, currentTime=position))
                lines.append(video(f"{stamp}:40", "pause_video", user, currentTime=position + 30))
            lines.append(event(f"2026-03-0{day} 09:00:00", user=user, course="Org/Other/2026"))
        lines.append('{"broken": ')
        lines.append("")
    log = write(tmp_path / "tracking.log", lines)
    cut = tmp_path / "cut.log.gz"
    packed = gzip.compress(log.read_bytes())
    cut.write_bytes(packed[: len(packed) // 2])
    # Chunks of a few lines, and workers even for small files: many chunks go through them.
    monkeypatch.setattr(tracking_log, "CHUNK_BYTES", 3000)
    monkeypatch.setattr(log_ingest, "PARALLEL_FROM_BYTES", 0)
    # Fork as from the `flask` command, whatever idle threads other tests left behind.
    monkeypatch.setattr(workers_module.threading, "active_count", lambda: 1)
    started = []
    start = Workers.start

    def start_and_note(self: Workers, processes: int) -> None:
        start(self, processes)
        started.append(self.started)

    monkeypatch.setattr(Workers, "start", start_and_note)
    outcomes = []
    for workers in (0, 2):
        folder = tmp_path / f"workers{workers}"
        folder.mkdir()
        app = make_app(folder)
        with app.app_context():
            report = ingest_tracking_logs(db.session, [log, cut], None, workers=workers)
            course = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
            kpis = {name: r.run(db.session, course) for name, r in REPORTS.items()}
            db.session.remove()
            db.engine.dispose()
        # The same report, but for how long its commits took to write the summaries.
        found = report.as_dict()
        assert found.pop("summaries_seconds") >= 0
        outcomes.append((found, kpis))
    assert started == [False, True]  # the second run really had worker processes
    sequential, parallel = outcomes
    assert sequential == parallel
    assert sequential[0]["skipped"]["broken_json"] >= 5
    assert sequential[0]["skipped"]["truncated_file"] == 1
    assert sequential[1]["video-summary"][0]["users_at_start"] == 8


def test_merging_people_merges_their_blocks_of_the_same_day(app: Flask) -> None:
    def incoming(user: str, stamp: str, raw: str) -> IncomingEvent:
        moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
        return IncomingEvent(COURSE, user, "lab_user", moment, "step", "lab", {}, raw.encode())

    with app.app_context():
        sink = EventSink(db.session, None)
        # Both rows have 10:00 (the same event, seen under both names) and a day of their own.
        for user, stamp, raw in [
            ("a", "2026-03-02 10:00:00", "shared"),
            ("a", "2026-03-02 10:10:00", "a1"),
            ("a", "2026-03-03 09:00:00", "a2"),
            ("b", "2026-03-02 10:00:00", "shared"),
            ("b", "2026-03-02 10:05:00", "b1"),
            ("b", "2026-03-04 09:00:00", "b2"),
        ]:
            sink.add(incoming(user, stamp, raw))
        assert sink.finish().stored == 6
        keep, drop = (
            db.session.scalar(select(PersonIdentity.person_id).where(PersonIdentity.value == v))
            for v in ("a", "b")
        )
        merge_people(db.session, keep, drop)
        db.session.commit()
        events = stored_events(db.session)
        assert {e.person_id for e in events} == {keep}
        assert [(e.day.isoformat(), e.time % 86400 / 60) for e in events] == [
            ("2026-03-02", 600.0),
            ("2026-03-02", 605.0),
            ("2026-03-02", 610.0),
            ("2026-03-03", 540.0),
            ("2026-03-04", 540.0),
        ]
        blocks = db.session.execute(select(ActivityBlock.day, ActivityBlock.events)).all()
        assert sorted((day.isoformat(), n) for day, n in blocks) == [
            ("2026-03-02", 3),
            ("2026-03-03", 1),
            ("2026-03-04", 1),
        ]
        course = db.session.scalar(select(Course))
        rows = REPORTS["time-spent"].run(db.session, course)
        # 10:00, 10:05, 10:10 -> 600 s in one session; the next days one event each
        assert [(r["day"], r["events"], r["seconds"], r["sessions"]) for r in rows] == [
            ("2026-03-02", 3, 600.0, 1),
            ("2026-03-03", 1, 0.0, 1),
            ("2026-03-04", 1, 0.0, 1),
        ]
