"""Bulk writes: rows come back exactly as written, on SQLite and on PostgreSQL (COPY there)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.activity import sql
from lti_tool.activity.blocks import learner_blocks
from lti_tool.activity.sql import driver_rows, insert_rows, select_in, upsert_many, upsert_rows
from lti_tool.extensions import db
from lti_tool.models import (
    ActivityBlock,
    Course,
    LearnerDay,
    LearnerProblem,
    LearnerResource,
    Person,
)

_UPSERT = (
    "INSERT INTO activity_block (course_id, person_id, day, events, data) "
    "VALUES ({p}, {p}, {p}, {p}, {p}) "
    "ON CONFLICT (course_id, person_id, day) "
    "DO UPDATE SET events = excluded.events, data = excluded.data"
)
_BLOCK_KEY = ("course_id", "person_id", "day")

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


def _blocks() -> list[tuple[date, int, bytes]]:
    rows = db.session.execute(
        select(ActivityBlock.day, ActivityBlock.events, ActivityBlock.data).order_by(
            ActivityBlock.day
        )
    ).all()
    return [(row.day, row.events, bytes(row.data)) for row in rows]


def test_upsert_rows_inserts_then_replaces_the_named_columns(app: Flask) -> None:
    with app.app_context():
        course_id, person_id = _course_and_person()
        first = [
            (course_id, person_id, f"2026-02-{n:02d}", n, f'{{"n":{n}}}'.encode()) for n in (1, 2)
        ]
        upsert_rows(db.session, ActivityBlock, first, _BLOCK_KEY, ("events", "data"))
        awkward = bytes(range(256)) + b"\\\t\n"
        changed = [
            (course_id, person_id, date(2026, 2, 2), 20, awkward),  # a date, not its text
            (course_id, person_id, "2026-02-03", 3, b"{}"),
        ]
        upsert_rows(db.session, ActivityBlock, changed, _BLOCK_KEY, ("data",))
        upsert_rows(db.session, ActivityBlock, [], _BLOCK_KEY, ("data",))  # nothing: no error
        db.session.commit()
        assert _blocks() == [
            (date(2026, 2, 1), 1, b'{"n":1}'),
            (date(2026, 2, 2), 2, awkward),  # events were not among the columns to update
            (date(2026, 2, 3), 3, b"{}"),
        ]


def test_upsert_rows_after_a_rollback_and_in_the_next_transaction(app: Flask) -> None:
    # On PostgreSQL the staging table made in a transaction that rolls back is gone, and one
    # used in a committed transaction is emptied: neither shows in the next upsert.
    with app.app_context():
        course_id, person_id = _course_and_person()
        db.session.commit()
        row = (course_id, person_id, "2026-02-01", 1, b"a")
        upsert_rows(db.session, ActivityBlock, [row], _BLOCK_KEY, ("events", "data"))
        db.session.rollback()
        assert _blocks() == []
        upsert_rows(db.session, ActivityBlock, [row], _BLOCK_KEY, ("events", "data"))
        db.session.commit()
        later = (course_id, person_id, "2026-02-02", 2, b"b")
        upsert_rows(db.session, ActivityBlock, [later], _BLOCK_KEY, ("events", "data"))
        db.session.commit()
        assert _blocks() == [(date(2026, 2, 1), 1, b"a"), (date(2026, 2, 2), 2, b"b")]


def test_insert_rows_writes_nulls_and_dates_into_typed_columns(app: Flask) -> None:
    with app.app_context():
        course_id, person_id = _course_and_person()
        problems = [
            (course_id, person_id, "p1", 2, None, 1.0, 2.5, None, b"{}"),
            (course_id, person_id, "p2", 1, 1, 3.0, 3.0, "", b"[]"),
        ]
        insert_rows(db.session, LearnerProblem, problems)
        insert_rows(
            db.session, LearnerDay, [(course_id, person_id, date(2026, 2, 3), 1, 0, 0, b"")]
        )
        db.session.commit()
        stored = db.session.execute(
            select(
                LearnerProblem.problem_id,
                LearnerProblem.attempts,
                LearnerProblem.correct_at,
                LearnerProblem.first_time,
                LearnerProblem.last_time,
                LearnerProblem.display_name,
            ).order_by(LearnerProblem.problem_id)
        ).all()
        assert [tuple(row) for row in stored] == [row[2:8] for row in problems]
        day = db.session.execute(select(LearnerDay)).scalar_one()
        assert (day.day, day.first_time, bytes(day.gaps)) == (date(2026, 2, 3), 0.0, b"")


def test_select_in_reads_the_rows_of_every_chunk_of_values(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of two values on either database: seven people are four queries.
    monkeypatch.setattr(sql, "IN_CHUNK", 2)
    monkeypatch.setattr(sql, "ANY_CHUNK", 2)
    with app.app_context():
        course_id, _person = _course_and_person()
        people = [Person() for _ in range(9)]
        db.session.add_all(people)
        db.session.flush()
        ids = [person.id for person in people]
        rows = [(course_id, person, "2026-02-01", index, b"x") for index, person in enumerate(ids)]
        upsert_rows(db.session, ActivityBlock, rows, _BLOCK_KEY, ("events", "data"))
        wanted = ids[:7]
        found = list(
            select_in(
                db.session,
                "SELECT person_id, events FROM activity_block "
                "WHERE course_id = {p} AND events >= {p} AND person_id {in}",
                (course_id, 1),
                wanted,
            )
        )
        # Uncommitted rows of this transaction, the other condition applied, driver tuples.
        assert sorted(found) == [(person, index) for index, person in enumerate(wanted)][1:]
        assert {type(row) for row in found} == {tuple}


def test_learner_blocks_reads_each_learners_blocks_as_days_and_bytes_in_day_order(
    app: Flask,
) -> None:
    with app.app_context():
        course_id, first = _course_and_person()
        other, absent = Person(), Person()
        db.session.add_all([other, absent])
        db.session.flush()
        rows = [
            (course_id, first, "2026-02-03", 1, b"c"),
            (course_id, other.id, "2026-02-01", 2, b"o"),
            (course_id, first, "2026-02-01", 3, b"a"),
        ]
        upsert_rows(db.session, ActivityBlock, rows, _BLOCK_KEY, ("events", "data"))
        found = learner_blocks(db.session, course_id, [first, other.id, absent.id])
        assert found == {
            first: [(date(2026, 2, 1), b"a"), (date(2026, 2, 3), b"c")],
            other.id: [(date(2026, 2, 1), b"o")],
            absent.id: [],
        }
        # Exactly these types: the blocks are pickled for the rollup workers (a memoryview
        # would not be) and the rollups take the day's weekday.
        values = [value for blocks in found.values() for block in blocks for value in block]
        assert {type(value) for value in values} == {date, bytes}


def test_driver_rows_are_the_selects_rows_with_in_lists_and_bytes(app: Flask) -> None:
    """What whole-class reads get from the driver's cursor: the rows SQLAlchemy reads, as
    tuples (bytes as bytes or memoryview), an IN list's values bound one by one."""
    with app.app_context():
        course_id, person_id = _course_and_person()
        answers = [b'{"first": {}, "x": "\\u00fc"}', bytes(range(256)), b""]
        rows = [
            (course_id, person_id, problem, 2, None if i else 1, 1.5 + i, 2.5, name, answer)
            for i, (problem, answer, name) in enumerate(
                zip(("p \t 1", "ünï", "p'3"), answers, (None, "Q", "R"), strict=True)
            )
        ]
        insert_rows(db.session, LearnerProblem, rows)
        db.session.commit()
        columns = (
            LearnerProblem.problem_id,
            LearnerProblem.attempts,
            LearnerProblem.correct_at,
            LearnerProblem.first_time,
            LearnerProblem.answers,
        )
        every = select(*columns).where(LearnerProblem.course_id == course_id)
        some = every.where(LearnerProblem.problem_id.in_(["ünï", "p'3", "absent"]))
        for query in (every, some):
            found = sorted(driver_rows(db.session, query))
            assert [(*row[:4], bytes(row[4])) for row in found] == sorted(
                (*row[:4], bytes(row[4])) for row in db.session.execute(query)
            )
        assert len(driver_rows(db.session, some)) == 2
        # Dates bound as stored; datetimes, stored apart on each database, refused.
        insert_rows(
            db.session, LearnerDay, [(course_id, person_id, "2026-02-02", 7, 1.5, 2.5, b"")]
        )
        day = select(LearnerDay.events).where(LearnerDay.day <= date(2026, 2, 2))
        assert driver_rows(db.session, day) == [(7,)]
        assert driver_rows(db.session, day.where(LearnerDay.day > date(2026, 2, 2))) == []
        with pytest.raises(ValueError, match="datetime"):
            driver_rows(db.session, select(Course.id).where(Course.created_at < datetime.now(UTC)))
