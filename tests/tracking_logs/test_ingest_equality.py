"""The batched ingest path stores exactly what a piecewise reference stores (a property test).

The reference reads the same random log as a growing file, a few lines at a time, one ingest
run per piece: every learner after the first piece is found in the database rather than made
by the batch, every block is merged with a stored one, every rollup replaced rather than
written fresh. The path under test reads the whole file in one run, where the batch makes its
people in one statement, writes blocks without looking them up and inserts rollups without
deleting. Both must leave the same stored events, learners, rollups, countries and reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, select, text

from lti_tool.activity.blocks import stored_events
from lti_tool.events import sink
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import Course
from lti_tool.tracking_logs import parse
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.database import make_app
from tests.helpers.problems import enrollment, part_id, problem_check
from tests.helpers.tracking_logs import COURSE, VIDEO, event, with_ip

OTHER = "Org/Other/2026"
PROBLEM_2 = "block-v1:edX+DemoX+2026+type@problem+block@0123456789abcdef0123456789abcdef"
ADDRESSES = ("81.2.69.160", "8.8.8.8", "10.0.0.1", "2001:4860:4860::8888")
ROLLUP_TABLES = (
    "learner_day",
    "weekly_activity",
    "video_learner_views",
    "learner_resource",
    "learner_problem",
    "enrollment_change",
    "learner_country",
)


def _stamp(second: int) -> str:
    day, rest = divmod(second, 86400)
    return f"2026-03-{2 + day:02d} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


@st.composite
def log_lines(draw: st.DrawFn) -> list[str]:
    """A random log: a few learners (some lines without their username, never another one: a
    user id seen with two usernames keeps the first of each batch), two courses, pages,
    video plays, pauses and seeks, problem checks, enrollments, task events, addresses,
    repeated lines and malformed ones, over four days."""
    count = draw(st.integers(1, 40))
    lines: list[str] = []
    for _ in range(count):
        user = draw(st.integers(1, 6))
        username = draw(st.sampled_from([f"u{user}", f"u{user}", ""]))
        course = draw(st.sampled_from([COURSE, COURSE, OTHER]))
        stamp = _stamp(draw(st.integers(0, 4 * 86400 - 1)))
        kind = draw(st.sampled_from(["page", "video", "seek", "problem", "enroll", "task", "bad"]))
        if kind == "page":
            line = event(
                stamp,
                f"/courses/{course}/courseware/week_1/lesson_{user % 3}/",
                user=user,
                username=username,
                course=course,
            )
        elif kind in ("video", "seek"):
            name = draw(st.sampled_from(["play_video", "pause_video", "stop_video"]))
            position = draw(st.integers(0, 120))
            payload: dict[str, Any] = {"id": VIDEO, "code": "html5", "duration": 120}
            if kind == "seek":
                name = "seek_video"
                payload |= {"old_time": position, "new_time": draw(st.integers(0, 120))}
            else:
                payload["currentTime"] = position
            line = event(
                stamp,
                name,
                user=user,
                username=username or f"u{user}",
                source="browser",
                payload=payload,
                course=course,
            )
        elif kind == "problem":
            problem = draw(st.sampled_from([COURSE_PROBLEM, PROBLEM_2]))
            correct = draw(st.booleans())
            parts = {part_id(problem, 0): {"answer": "A" if correct else "B", "correct": correct}}
            line = problem_check(
                stamp, parts, user=user, username=f"u{user}", problem=problem, course=course
            )
        elif kind == "enroll":
            action = draw(st.sampled_from(["activated", "mode_changed", "deactivated"]))
            line = enrollment(
                stamp,
                action,
                draw(st.sampled_from(["audit", "verified"])),
                user=user,
                course=course,
            )
        elif kind == "task":
            line = event(
                stamp,
                "edx.grades.subsection.grade_calculated",
                user=user,
                username="unknown",
                source="task",
                course=course,
            )
        else:
            line = draw(st.sampled_from(['{"broken": ', json.dumps({"event_type": "x"})]))
        if kind != "bad" and draw(st.booleans()):
            line = with_ip(line, draw(st.sampled_from(ADDRESSES)))
        lines.append(line)
        if draw(st.integers(0, 9)) == 0:
            lines.append(line)  # the same event twice: stored once
    return lines


COURSE_PROBLEM = "block-v1:edX+DemoX+2026+type@problem+block@a0effb954cca4759994f1ac9e9434bf4"


def _reset(app: Flask) -> None:
    """An empty schema (the tests' PostgreSQL database is one for both runs)."""
    with app.app_context():
        existing = MetaData()
        existing.reflect(bind=db.engine)
        existing.drop_all(bind=db.engine)
        db.create_all()


def _person_names() -> dict[int, tuple[tuple[str, str], ...]]:
    """Each person by their identities: person ids may differ between runs, people may not."""
    names: dict[int, list[tuple[str, str]]] = {}
    for person, kind, value in db.session.execute(
        text("SELECT person_id, kind, value FROM person_identity")
    ):
        names.setdefault(person, []).append((kind, value))
    return {person: tuple(sorted(found)) for person, found in names.items()}


def _ordered(rows: Any) -> list[Any]:
    """Rows in a fixed order (by their text: None beside text cannot be compared)."""
    return sorted(rows, key=repr)


def _snapshot() -> dict[str, Any]:
    """Everything an ingest stores, with people and courses by name, and every report."""
    people = _person_names()
    courses = {c.id: c.lms_course_id for c in db.session.scalars(select(Course))}
    events = _ordered(
        (
            courses[e.course_id],
            people[e.person_id],
            str(e.day),
            e.time,
            e.key,
            e.name,
            e.source,
            e.active,
            e.label,
            e.object_id,
            e.video_kind,
            e.video_time,
            e.video_old_time,
            e.video_new_time,
            e.video_duration,
            orjson.dumps(e.detail, option=orjson.OPT_SORT_KEYS),
        )
        for e in stored_events(db.session)
    )

    def named(column: str, value: Any) -> Any:
        if column == "course_id":
            return courses[value]
        if column == "person_id":
            return people[value]
        return bytes(value) if isinstance(value, memoryview) else value

    tables = {}
    for table in ROLLUP_TABLES:
        rows = db.session.execute(text(f"SELECT * FROM {table}")).mappings()  # noqa: S608
        tables[table] = _ordered(
            tuple(sorted((column, named(column, value)) for column, value in row.items()))
            for row in rows
        )
    reports = {}
    for course in db.session.scalars(select(Course).order_by(Course.lms_course_id)):
        reports[course.lms_course_id] = {
            name: report.run(db.session, course) for name, report in REPORTS.items()
        }
    videos = _ordered(
        (courses[c], v, d)
        for c, v, d in db.session.execute(text("SELECT course_id, video_id, duration FROM video"))
    )
    return {
        "events": events,
        "people": _ordered(people.values()),
        "tables": tables,
        "reports": reports,
        "videos": videos,
    }


def _ingest(app: Flask, log: Path) -> dict[str, Any]:
    with app.app_context():
        ingest_tracking_logs(db.session, [log], None, workers=0)
        snapshot = _snapshot()
        db.session.remove()
    return snapshot


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=log_lines(), pieces=st.integers(2, 5), chunk_bytes=st.sampled_from([2000, 1 << 22]))
def test_batched_ingest_stores_what_a_piecewise_ingest_stores(
    tmp_path_factory: Any, lines: list[str], pieces: int, chunk_bytes: int
) -> None:
    folder = tmp_path_factory.mktemp("equal")
    app = make_app(folder)
    try:
        whole = folder / "whole.log"
        whole.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        with pytest.MonkeyPatch.context() as patch:
            # Chunks of a few lines and small batches, as a large file has many of each.
            patch.setattr(parse, "CHUNK_BYTES", chunk_bytes)
            patch.setattr(sink, "FLUSH_EVENTS", 8)
            batched = _ingest(app, whole)

        _reset(app)
        growing = folder / "growing.log"
        growing.write_bytes(b"")
        size = max(1, -(-len(lines) // pieces))
        with app.app_context():
            for start in range(0, len(lines), size):
                with open(growing, "a", encoding="utf-8") as out:
                    out.writelines(line + "\n" for line in lines[start : start + size])
                ingest_tracking_logs(db.session, [growing], None, workers=0)
            reference = _snapshot()
            db.session.remove()
        assert batched == reference
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
