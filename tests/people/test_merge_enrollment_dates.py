"""Merging two people carries the LMS's enrollment dates (lms_enrollment) to the one kept."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, LmsEnrollment, Person
from lti_tool.people.merge import merge_people

EARLY = datetime(2026, 1, 5, 9, tzinfo=UTC)
LATE = datetime(2026, 2, 5, 9, tzinfo=UTC)


def test_the_dropped_persons_dates_move_unless_the_kept_one_has_their_own(app: Flask) -> None:
    with app.app_context():
        one, two = Course(lti_context_id="c-1"), Course(lti_context_id="c-2")
        keep, drop = Person(name="Kept"), Person(name="Dropped")
        db.session.add_all([one, two, keep, drop])
        db.session.flush()
        db.session.add_all(
            [
                LmsEnrollment(course_id=one.id, person_id=drop.id, created_at=EARLY, mode="audit"),
                LmsEnrollment(
                    course_id=two.id, person_id=keep.id, created_at=LATE, mode="verified"
                ),
                LmsEnrollment(course_id=two.id, person_id=drop.id, created_at=EARLY, mode="audit"),
            ]
        )
        db.session.commit()
        merge_people(db.session, keep.id, drop.id)
        db.session.commit()
        rows = db.session.execute(
            select(LmsEnrollment.course_id, LmsEnrollment.person_id, LmsEnrollment.mode)
        ).all()
        assert sorted(tuple(r) for r in rows) == [
            (one.id, keep.id, "audit"),  # moved
            (two.id, keep.id, "verified"),  # the kept person's own wins
        ]
