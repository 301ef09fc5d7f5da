"""Merging two person rows that turn out to be one human, with everything attached to them."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lti_tool.models import (
    ActivityEvent,
    Enrollment,
    LearnerDay,
    LearnerDayGap,
    Person,
    PersonIdentity,
    VideoLearnerSegment,
    WeeklyActivity,
)
from lti_tool.sync import rollups


def merge_people(session: Session, keep_id: int, drop_id: int) -> None:
    """Move every identity, enrollment and event of `drop_id` to `keep_id`, then delete it."""
    if keep_id == drop_id:
        return
    keep, drop = session.get(Person, keep_id), session.get(Person, drop_id)
    if keep is None or drop is None:
        raise LookupError("both people must exist to be merged")
    session.flush()
    for attr in ("name", "given_name", "family_name", "email"):
        if getattr(keep, attr) is None:
            setattr(keep, attr, getattr(drop, attr))

    session.execute(
        update(PersonIdentity).where(PersonIdentity.person_id == drop_id).values(person_id=keep_id)
    )
    kept_courses = set(
        session.scalars(select(Enrollment.course_id).where(Enrollment.person_id == keep_id))
    )
    for enrollment in session.scalars(select(Enrollment).where(Enrollment.person_id == drop_id)):
        if enrollment.course_id in kept_courses:
            session.delete(enrollment)  # the kept person's enrollment wins
        else:
            enrollment.person_id = keep_id

    courses = set(
        session.scalars(
            select(ActivityEvent.course_id).where(ActivityEvent.person_id == drop_id).distinct()
        )
    )
    session.execute(
        update(ActivityEvent).where(ActivityEvent.person_id == drop_id).values(person_id=keep_id)
    )
    facts = {
        (c, w, label, keep_id)
        for c, w, label in session.execute(
            select(WeeklyActivity.course_id, WeeklyActivity.week_start, WeeklyActivity.label).where(
                WeeklyActivity.person_id == drop_id
            )
        )
    }
    for model in (WeeklyActivity, LearnerDay, LearnerDayGap, VideoLearnerSegment):
        session.execute(delete(model).where(model.person_id == drop_id))
    if facts:
        rollups.add_weekly_activity(session, facts)
    for course_id in courses:
        rollups.rebuild_learners(session, course_id, [keep_id])
    # Bulk updates bypass the ORM: forget loaded collections before deleting the empty row.
    session.expire_all()
    session.delete(session.get(Person, drop_id))
    session.flush()
