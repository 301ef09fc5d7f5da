"""What a validated launch writes: the course, the person and their identities, the enrollment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from lti_tool.activity.rollups import shown_again, summaries_later
from lti_tool.extensions import db
from lti_tool.models import (
    Course,
    CourseDeployment,
    Enrollment,
    LtiDeployment,
    Person,
    PersonIdentity,
)
from lti_tool.models.types import utcnow
from lti_tool.people.linking import launch_claim, link_person
from lti_tool.people.roles import CourseRole

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CONTEXT = CLAIM + "context"
CUSTOM = CLAIM + "custom"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def upsert_person(platform_id: int, claims: Mapping[str, Any]) -> Person:
    """Find or create the person a launch names and record every identity it carries.

    A launch that names a learner the logs knew (a new identity: their name in the summaries)
    marks the courses' summaries stale rather than rewriting them in the launch: a whole
    course's refresh, over a minute at 100,000 learners, for one person. The refresh job or the
    next page writes them (lti_tool.activity.rollups.summaries_later).
    """
    summaries_later(db.session)
    return link_person(db.session, platform_id, launch_claim(claims))


def context_id(claims: Mapping[str, Any]) -> str | None:
    """The launch's LTI context id, or None when it carries no course."""
    context = claims.get(CONTEXT)
    return _str(context.get("id")) if isinstance(context, dict) else None


def upsert_course(platform_id: int, claims: Mapping[str, Any]) -> Course | None:
    """Find or create the course of the launch's context claim; None without a context."""
    context = claims.get(CONTEXT)
    if not isinstance(context, dict) or not _str(context.get("id")):
        return None
    context_id = _str(context["id"])
    course = db.session.scalar(
        select(Course).where(Course.platform_id == platform_id, Course.lti_context_id == context_id)
    )
    # A course that arrived with no platform (logs, events) is never claimed by a launch: an
    # administrator attaches it (lti_tool.platforms.attach_course). The launch makes its own.
    if course is None:
        course = Course(platform_id=platform_id, lti_context_id=context_id)
        db.session.add(course)
    custom = claims.get(CUSTOM)
    custom = custom if isinstance(custom, dict) else {}
    canvas_course = _str(custom.get("canvas_course_id"))
    if canvas_course and not canvas_course.startswith("$"):
        course.lms_course_id = canvas_course
    elif context_id and context_id.startswith("course-v1:"):
        course.lms_course_id = context_id  # the Open edX course key is the context id
    shown = {
        "title": _str(context.get("title")) or course.title or _str(context.get("label")) or "",
        "label": _str(context.get("label")) or course.label,
    }
    nrps = claims.get(NRPS)
    memberships_url = _str(nrps.get("context_memberships_url")) if isinstance(nrps, dict) else None
    if memberships_url:
        # Kept when a later launch lacks the claim; the launch's client id fetches the roster.
        shown["nrps_memberships_url"] = memberships_url
        shown["nrps_client_id"] = _client_id(claims) or course.nrps_client_id
    _set_aside_from_activity(course, shown)
    db.session.flush()
    return course


def _set_aside_from_activity(course: Course, values: dict[str, Any]) -> None:
    """Give the course values no figure is computed from (its title and label, its roster's
    address) without moving its activity mark (`updated_at`, which the ORM's update would
    stamp): the first launch into a course its logs brought would otherwise make the next
    summary refresh add up the whole class again (15-20 s at 100,000 learners)."""
    changed = {name: value for name, value in values.items() if getattr(course, name) != value}
    if not inspect(course).has_identity:  # new: inserted with them
        for name, value in changed.items():
            setattr(course, name, value)
        return
    if not changed:
        return
    table = Course.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == course.id)
        .values(**changed, updated_at=table.c.updated_at)  # (not the column's onupdate)
    )
    for name, value in changed.items():
        set_committed_value(course, name, value)


def _client_id(claims: Mapping[str, Any]) -> str | None:
    """The client id a validated launch was for: `azp`, else the (single) `aud`."""
    aud = claims.get("aud")
    if isinstance(aud, list):
        aud = aud[0] if len(aud) == 1 else None
    return _str(claims.get("azp")) or _str(aud)


def record_deployment(course: Course, registration_id: int, claims: Mapping[str, Any]) -> None:
    """Note the deployment the course was launched through (what its administrator sees)."""
    deployment_id = _str(claims.get(CLAIM + "deployment_id"))
    deployment = db.session.scalar(
        select(LtiDeployment.id).where(
            LtiDeployment.registration_id == registration_id,
            LtiDeployment.deployment_id == deployment_id,
        )
    )
    if deployment is None:
        return  # validation found it; only a deployment deleted since is missing
    row = db.session.get(CourseDeployment, (course.id, deployment))
    if row is None:
        db.session.add(CourseDeployment(course_id=course.id, deployment_id=deployment))
    else:
        row.last_launch_at = utcnow()
    db.session.flush()


def record_membership(
    course: Course, platform_id: int, claims: Mapping[str, Any], roles: list[str], role: CourseRole
) -> Person:
    """The person of the launch and their enrollment in the course, recorded; the course's
    learner summary marked stale with who they are when either changed in what its rows
    show."""
    started = utcnow()
    person = upsert_person(platform_id, claims)
    if upsert_enrollment(course, person, roles, role) or person_changed(person, started):
        # Marked stale with who, when the launch commits (upsert_person left the summaries
        # for later): the refresh job or the next reader writes this person's row and leaves
        # the others' when nothing they are measured against moved. A launch that changes
        # nothing the rows show (the usual one) leaves them as they are.
        shown_again(db.session, {course.id: {person.id}})
    return person


def upsert_enrollment(course: Course, person: Person, roles: list[str], role: CourseRole) -> bool:
    """Record the person's roles in the course as of this launch; whether the enrollment is new
    or changed in what the learners table reads (role, status, test user, source)."""
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == course.id, Enrollment.person_id == person.id
        )
    )
    new = enrollment is None
    if enrollment is None:
        enrollment = Enrollment(course_id=course.id, person_id=person.id)
        db.session.add(enrollment)
    before = _roster_fields(enrollment)
    enrollment.roles = list(roles)
    enrollment.course_role = role.role
    enrollment.is_test_user = role.is_test_user
    enrollment.status = "active"
    enrollment.source = "lti"
    enrollment.last_launch_at = utcnow()
    changed = new or _roster_fields(enrollment) != before
    if not changed:
        # updated_at is part of the learner summary's fingerprint: a launch that changes only
        # the launch time keeps it (written as it is, so its onupdate does not fire), and the
        # next learners page does not rewrite the whole class.
        flag_modified(enrollment, "updated_at")
    db.session.flush()
    return changed


def _roster_fields(enrollment: Enrollment) -> tuple[Any, ...]:
    """What of an enrollment the learner summary's rows depend on."""
    return (enrollment.course_role, enrollment.status, enrollment.is_test_user, enrollment.source)


def person_changed(person: Person, since: datetime) -> bool:
    """Whether the person was created or changed (names, e-mail, a new identity) since then."""
    if person.created_at >= since or person.updated_at >= since:
        return True
    found = db.session.scalar(
        select(PersonIdentity.id)
        .where(PersonIdentity.person_id == person.id, PersonIdentity.created_at >= since)
        .limit(1)
    )
    return found is not None
