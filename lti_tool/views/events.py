"""Course events on the overview: staff add, edit and delete their own; LMS due dates are
read-only here (the sync keeps them in step with the LMS).

A due date may apply to one section only (a Canvas section override, `section_id` set). Staff
see every event; a learner's own charts show the events for everyone and those of their own
sections (learner_events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, g, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.extensions import db
from lti_tool.kpis import course_settings
from lti_tool.launch.identity import staff_required
from lti_tool.models import Course, CourseEvent, SectionMember
from lti_tool.views.course import _course, bp

KINDS = {"due": "Due date", "exam": "Exam", "release": "Release", "other": "Other"}
STAFF_SOURCE = "staff"


class EventProblem(ValueError):
    """A submitted event that cannot be saved, with the reason in words."""


def course_events(session: Session, course: Course) -> list[CourseEvent]:
    """Every event of the course in time order."""
    return list(
        session.scalars(
            select(CourseEvent)
            .where(CourseEvent.course_id == course.id)
            .order_by(CourseEvent.at, CourseEvent.id)
        )
    )


def _assignment_of(event: CourseEvent) -> tuple[str, str | None]:
    """(source, the LMS id of the item) an event dates: a section's date and everyone's date
    of one assignment share it ("<id>" and "<id>:section:<section id>")."""
    lms_id = event.lms_id.split(":section:", 1)[0] if event.lms_id else None
    return event.source, lms_id


def learner_events(session: Session, course: Course, person_id: int) -> list[CourseEvent]:
    """The events one learner's charts show, in time order: those for everyone, and their own
    sections' dates, which replace everyone's date of the same assignment (an override is the
    learner's date; everyone's would be a date that does not apply to them)."""
    sections = set(
        session.scalars(
            select(SectionMember.section_id).where(SectionMember.person_id == person_id)
        )
    )
    events = course_events(session, course)
    replaced = {_assignment_of(e) for e in events if e.section_id in sections}
    return [
        e
        for e in events
        if e.section_id in sections
        or (e.section_id is None and (e.lms_id is None or _assignment_of(e) not in replaced))
    ]


def markers(events: list[CourseEvent], settings: course_settings.Settings) -> list[dict[str, Any]]:
    """Events as chart markers: the day in the course time zone, the title and the kind."""
    return [
        {"at": e.at.astimezone(settings.zone).date().isoformat(), "title": e.title, "kind": e.kind}
        for e in events
    ]


def parse_event(form: Any, settings: course_settings.Settings) -> dict[str, Any]:
    """Title, kind, time (typed in the course time zone, stored in UTC) and notes."""
    title = str(form.get("title", "")).strip()
    if not title:
        raise EventProblem("An event needs a title.")
    if len(title) > 500:
        raise EventProblem("The title is longer than 500 characters.")
    kind = form.get("kind", "other")
    if kind not in KINDS:
        raise EventProblem(f"Unknown kind {kind!r}: one of {', '.join(KINDS)}.")
    raw = str(form.get("at", "")).strip()
    try:
        local = datetime.fromisoformat(raw)
        if local.tzinfo is None:
            local = local.replace(tzinfo=settings.zone)
        at = local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EventProblem(
            f"{raw[:40]!r} is not a date and time (YYYY-MM-DDTHH:MM, in {settings.time_zone})."
        ) from None
    if not 1970 <= at.year <= 2200:
        raise EventProblem(f"{raw[:40]!r} is not a date of a course (years 1970 to 2200).")
    notes = str(form.get("notes", "")).strip()[:5000] or None
    return {"title": title, "kind": kind, "at": at, "notes": notes}


def _back(course: Course, problem: str | None = None) -> Response:
    params: dict[str, Any] = {"course_id": course.id, "t": g.session_token}
    if problem:
        params["event_error"] = problem
    return redirect(url_for("course.overview", **params) + "#events", code=303)


def _staff_event(course: Course, event_id: int) -> CourseEvent:
    event = db.session.get(CourseEvent, event_id)
    if event is None or event.course_id != course.id:
        abort(404, description="No such event in this course.")
    if event.source != STAFF_SOURCE:
        abort(
            403,
            description=f"This event comes from the LMS ({event.source}): change it there; "
            "the next sync brings the change here.",
        )
    return event


@bp.post("/events")
@staff_required
def add_event(course_id: int) -> Response:
    """Add a staff event; a bad value comes back as a message on the overview."""
    course = _course(course_id)
    try:
        values = parse_event(request.form, course_settings.load(db.session, course))
    except EventProblem as problem:
        return _back(course, str(problem))
    db.session.add(CourseEvent(course_id=course.id, source=STAFF_SOURCE, lms_id=None, **values))
    db.session.commit()
    return _back(course)


@bp.post("/events/<int:event_id>")
@staff_required
def edit_event(course_id: int, event_id: int) -> Response:
    """Change a staff event."""
    course = _course(course_id)
    event = _staff_event(course, event_id)
    try:
        values = parse_event(request.form, course_settings.load(db.session, course))
    except EventProblem as problem:
        return _back(course, str(problem))
    for name, value in values.items():
        setattr(event, name, value)
    db.session.commit()
    return _back(course)


@bp.post("/events/<int:event_id>/delete")
@staff_required
def delete_event(course_id: int, event_id: int) -> Response:
    """Delete a staff event."""
    course = _course(course_id)
    db.session.delete(_staff_event(course, event_id))
    db.session.commit()
    return _back(course)
