"""Merging two person rows that turn out to be one human, with everything attached to them."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select, update

from lti_tool.activity import replaced, rollups
from lti_tool.activity.blocks import Columns, day_number, decode, write_blocks
from lti_tool.activity.countries import move_countries
from lti_tool.models import (
    ActivityBlock,
    Enrollment,
    EnrollmentChange,
    LearnerDay,
    LearnerProblem,
    LearnerSummary,
    LmsEnrollment,
    Person,
    PersonIdentity,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.types import DbSession


def merge_people(session: DbSession, keep_id: int, drop_id: int) -> None:
    """Move every identity, enrollment, event and country of `drop_id` to `keep_id`, then
    delete it.

    Events move block by block; a day both people have events on becomes one block.
    """
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
    # The LMS's enrollment dates follow the enrollments (the kept person's again win).
    dated = set(
        session.scalars(select(LmsEnrollment.course_id).where(LmsEnrollment.person_id == keep_id))
    )
    moved = []
    for row in session.scalars(select(LmsEnrollment).where(LmsEnrollment.person_id == drop_id)):
        moved.append(row.course_id)
        if row.course_id in dated:
            session.delete(row)
        else:
            row.person_id = keep_id
    # The enrollment histories counted from these dates are counted again.
    replaced.dates_moved(session, moved)

    courses = _move_blocks(session, keep_id, drop_id)
    move_countries(session, keep_id, drop_id)
    for course_id in sorted(courses):
        # Its rows go: kept as they were, for the summaries' sums, as a rebuild keeps them.
        replaced.note(session, course_id, [drop_id], [drop_id])
    for model in (LearnerDay, WeeklyActivity, VideoLearnerViews, LearnerProblem, EnrollmentChange):
        session.execute(delete(model).where(model.person_id == drop_id))
    for course_id in sorted(courses):
        rollups.rebuild_learners(session, course_id, [keep_id])
    # The kept person may now be named otherwise (the dropped one's name filled theirs): the
    # courses whose summaries show them write their rows again.
    shown = session.scalars(
        select(LearnerSummary.course_id).where(LearnerSummary.person_id == keep_id)
    )
    rollups.shown_again(session, {course_id: {keep_id} for course_id in shown})
    # Bulk updates bypass the ORM: forget loaded collections before deleting the empty row.
    session.expire_all()
    session.delete(session.get(Person, drop_id))
    session.flush()


def _move_blocks(session: DbSession, keep_id: int, drop_id: int) -> set[int]:
    """Merge the dropped person's blocks into the kept person's; return the courses."""
    dropped: dict[int, dict[tuple[int, int], Columns]] = defaultdict(dict)
    for course_id, day, data in session.execute(
        select(ActivityBlock.course_id, ActivityBlock.day, ActivityBlock.data).where(
            ActivityBlock.person_id == drop_id
        )
    ):
        dropped[course_id][(keep_id, day_number(day))] = decode(data)
    for course_id, blocks in dropped.items():
        # Merging drops events both rows had (same key), as a repeated ingest would.
        write_blocks(session, course_id, blocks)  # (added, filled): nothing to report here
    session.execute(delete(ActivityBlock).where(ActivityBlock.person_id == drop_id))
    return set(dropped)
