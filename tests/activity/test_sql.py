"""Bulk writes: rows come back exactly as written, on SQLite and on PostgreSQL (COPY there)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask
from sqlalchemy import select

from lti_tool.activity.blocks import _UPSERT
from lti_tool.activity.sql import insert_rows, upsert_many
from lti_tool.extensions import db
from lti_tool.models import ActivityBlock, Course, LearnerDay, LearnerResource, Person

# Characters that delimit COPY's text format, quotes, non-ASCII and a would-be NULL marker.
AWKWARD_IDS = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\x00ff",
    "quote ' and \" both",
    "ünïcødé ✓ 🎓",
    "",
]


def _course_and_person() -> tuple[int, int]:
    course = Course(lti_context_id="ctx-sql", lms_course_id="ctx-sql", title="SQL")
    person = Person()
    db.session.add_all([course, person])
    db.session.flush()
    return course.id, person.id


def test_insert_rows_round_trips_awkward_text_numbers_and_bytes(app: Flask) -> None:
    with app.app_context():
        course_id, person_id = _course_and_person()
        resources = [
            (course_id, person_id, resource, "page", 1_770_000_000.123456 + i, i)
            for i, resource in enumerate(AWKWARD_IDS)
        ]
        gaps = bytes(range(256)) + b"\\\t\n"  # every byte value, escapes included
        days = [(course_id, person_id, "2026-02-02", 7, 1.5, 1e12 + 0.25, gaps)]
        insert_rows(db.session, LearnerResource, resources)
        insert_rows(db.session, LearnerDay, days)
        db.session.commit()

        stored = db.session.execute(
            select(
                LearnerResource.resource_id,
                LearnerResource.kind,
                LearnerResource.first_time,
                LearnerResource.events,
            ).order_by(LearnerResource.events)
        ).all()
        assert [tuple(row) for row in stored] == [row[2:] for row in resources]
        day = db.session.execute(select(LearnerDay)).scalar_one()
        assert (day.day, day.events, day.first_time, day.last_time) == (
            date(2026, 2, 2),
            7,
            1.5,
            1e12 + 0.25,
        )
        assert bytes(day.gaps) == gaps


def test_upsert_many_inserts_then_replaces_on_conflict(app: Flask) -> None:
    with app.app_context():
        course_id, person_id = _course_and_person()
        first = [
            (course_id, person_id, f"2026-02-{n:02d}", n, f'{{"n":{n}}}'.encode()) for n in (1, 2)
        ]
        upsert_many(db.session, _UPSERT, first)
        changed = [(course_id, person_id, "2026-02-02", 20, b'{"n":"\\t\\\\"}')]
        upsert_many(db.session, _UPSERT, changed)
        upsert_many(db.session, _UPSERT, [])  # nothing to write is not an error
        db.session.commit()

        rows = db.session.execute(
            select(ActivityBlock.day, ActivityBlock.events, ActivityBlock.data).order_by(
                ActivityBlock.day
            )
        ).all()
        assert [(row.day, row.events, bytes(row.data)) for row in rows] == [
            (date(2026, 2, 1), 1, b'{"n":1}'),
            (date(2026, 2, 2), 20, b'{"n":"\\t\\\\"}'),
        ]


def test_insert_rows_writes_nulls_and_timestamps(app: Flask) -> None:
    with app.app_context():
        moment = datetime(2026, 2, 2, 10, 30, 15, 250000, tzinfo=UTC)
        columns = [column.name for column in Person.__table__.columns]
        values = {"id": 9001, "created_at": moment, "updated_at": moment, "name": "N\\t"}
        insert_rows(db.session, Person, [tuple(values.get(name) for name in columns)])
        db.session.commit()
        person = db.session.get(Person, 9001)
        assert person is not None
        assert (person.name, person.email, person.given_name) == ("N\\t", None, None)
        assert person.created_at == moment
