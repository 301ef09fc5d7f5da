"""The event blocks' and rollups' course and person keys: checked per batch on PostgreSQL (by
foreign keys per row elsewhere), and their rows deleted with the person or course either way."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from lti_tool.activity.blocks import empty, write_blocks
from lti_tool.activity.rollups import RollupRows, store_rows
from lti_tool.activity.sql import lock_keys
from lti_tool.extensions import db
from lti_tool.models import (
    ActivityBlock,
    Course,
    EnrollmentChange,
    LearnerDay,
    LearnerProblem,
    LearnerResource,
    Person,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.activity import BATCH_CHECKED

ACTIVITY = (
    ActivityBlock,
    LearnerDay,
    WeeklyActivity,
    VideoLearnerViews,
    LearnerResource,
    LearnerProblem,
    EnrollmentChange,
)


def _rollups(course_id: int, person_id: int) -> RollupRows:
    """One row of every rollup table for a learner of a course."""
    return RollupRows(
        course_id,
        [person_id],
        days=[(course_id, person_id, "2026-03-02", 2, 1.0, 2.0, b"[0,1,1.0]")],
        weeks=[(course_id, "2026-03-02", "ACTIVE", person_id)],
        videos=[(course_id, person_id, "v1", b"[0,3]")],
        resources=[(course_id, person_id, "v1", "video", 1.0, 2)],
        problems=[(course_id, person_id, "p1", 1, 1, 1.0, 1.0, "P", b"{}")],
        enrollments=[(course_id, person_id, 1.0, "edx.course.enrollment.activated", "audit")],
    )


def _block(time: float) -> list[list[object]]:
    columns = empty()
    for column, value in zip(columns, (time, 1, "step", "lab", True, *[None] * 8), strict=True):
        column.append(value)
    return columns


def _write_activity(course_id: int, person_id: int) -> None:
    write_blocks(db.session, course_id, {(person_id, 20514): _block(20514 * 86400.0)})
    store_rows(db.session, _rollups(course_id, person_id))


def _owners() -> dict[str, set[tuple[int, int]]]:
    """(course, person) of the rows of every activity table."""
    return {
        model.__tablename__: set(
            db.session.execute(select(model.course_id, model.person_id)).tuples()
        )
        for model in ACTIVITY
    }


def test_deleting_a_person_or_a_course_deletes_their_blocks_and_rollups(app: Flask) -> None:
    with app.app_context():
        courses = [Course(lti_context_id=f"c{n}", title=f"C{n}") for n in range(2)]
        people = [Person() for _ in range(3)]
        db.session.add_all([*courses, *people])
        db.session.flush()
        c1, c2 = (course.id for course in courses)
        p1, p2, p3 = (person.id for person in people)
        for course_id in (c1, c2):
            for person_id in (p1, p2, p3):
                _write_activity(course_id, person_id)
        db.session.commit()
        assert set(_owners()) == {model.__tablename__ for model in ACTIVITY} == set(BATCH_CHECKED)
        assert all(len(owners) == 6 for owners in _owners().values())

        db.session.delete(people[0])  # the ORM's DELETE of one row
        db.session.execute(delete(Person).where(Person.id == p2))  # a Core statement
        db.session.commit()
        assert all(owners == {(c1, p3), (c2, p3)} for owners in _owners().values())

        db.session.execute(delete(Course).where(Course.id == c2))
        db.session.commit()
        assert all(owners == {(c1, p3)} for owners in _owners().values()), _owners()


@pytest.mark.parametrize("missing", ["person", "course"])
def test_activity_rows_of_a_missing_person_or_course_are_refused(app: Flask, missing: str) -> None:
    with app.app_context():
        course = Course(lti_context_id="c", title="C")
        person = Person()
        db.session.add_all([course, person])
        db.session.commit()
        course_id = course.id + (1000 if missing == "course" else 0)
        person_id = person.id + (1000 if missing == "person" else 0)
        with pytest.raises(IntegrityError):
            store_rows(db.session, _rollups(course_id, person_id))
            db.session.flush()
        db.session.rollback()
        with pytest.raises(IntegrityError):
            write_blocks(db.session, course_id, {(person_id, 20514): _block(20514 * 86400.0)})
            db.session.flush()
        db.session.rollback()
        assert all(db.session.scalar(select(func.count()).select_from(m)) == 0 for m in ACTIVITY)


def test_people_this_transaction_made_are_not_locked_again(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("only PostgreSQL checks and locks the keys per batch")
        course = Course(lti_context_id="c", title="C")
        stored = Person()
        db.session.add_all([course, stored])
        db.session.commit()
        new = Person()
        db.session.add(new)
        db.session.flush()
        lock_keys(db.session, course.id, [stored.id, new.id], {new.id})
        # A row lock marks the row's xmax with this transaction; a row it made is not marked.
        xmax = dict(
            db.session.execute(text("SELECT id, xmax::text::bigint FROM person")).tuples().all()
        )
        assert xmax[new.id] == 0
        assert xmax[stored.id] != 0
        _write_activity(course.id, new.id)  # still written
        db.session.commit()
        assert all(owners == {(course.id, new.id)} for owners in _owners().values())


def test_postgresql_has_no_foreign_key_per_row_on_the_activity_tables(app: Flask) -> None:
    with app.app_context():
        inspector = inspect(db.engine)
        referred = {
            table: sorted(key["referred_table"] for key in inspector.get_foreign_keys(table))
            for table in BATCH_CHECKED
        }
        if db.engine.dialect.name == "postgresql":
            assert all(keys == [] for keys in referred.values()), referred
        else:
            assert all(keys == ["course", "person"] for keys in referred.values()), referred
