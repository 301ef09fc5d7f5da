"""Course events on the overview: staff add, edit and delete their own; LMS due dates are
read-only here (the sync keeps them in step with the LMS).

A due date may apply to one section only (a Canvas section override, `section_id` set). Staff
see every event; a learner's own charts show the events for everyone and those of their own
sections (learner_events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from lti_tool.extensions import db
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.kpis import course_settings
from lti_tool.kpis.course_events import STAFF_SOURCE
from lti_tool.launch.identity import staff_required
from lti_tool.models import Course, CourseEvent
from lti_tool.views.course import _course, bp

KINDS = {"due": N_("Due date"), "exam": N_("Exam"), "release": N_("Release"), "other": N_("Other")}


class EventProblem(ValueError):
    """A submitted event that cannot be saved, with the reason in words (the page's language)."""


def parse_event(form: Any, settings: course_settings.Settings) -> dict[str, Any]:
    """Title, kind, time (typed in the course time zone, stored in UTC) and notes."""
    title = str(form.get("title", "")).strip()
    if not title:
        raise EventProblem(_("An event needs a title."))
    if len(title) > 500:
        raise EventProblem(_("The title is longer than 500 characters."))
    kind = form.get("kind", "other")
    if kind not in KINDS:
        raise EventProblem(
            _("Unknown kind %(kind)r: one of %(kinds)s.", kind=kind, kinds=", ".join(KINDS))
        )
    raw = str(form.get("at", "")).strip()
    try:
        local = datetime.fromisoformat(raw)
        if local.tzinfo is None:
            local = local.replace(tzinfo=settings.zone)
        at = local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EventProblem(
            _(
                "%(value)r is not a date and time (YYYY-MM-DDTHH:MM, in %(zone)s).",
                value=raw[:40],
                zone=settings.time_zone,
            )
        ) from None
    if not 1970 <= at.year <= 2200:
        raise EventProblem(
            _("%(value)r is not a date of a course (years 1970 to 2200).", value=raw[:40])
        )
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
        abort(404, description=_("No such event in this course."))
    if event.source != STAFF_SOURCE:
        abort(
            403,
            description=_(
                "This event comes from the LMS (%(source)s): change it there; the next sync "
                "brings the change here.",
                source=event.source,
            ),
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
