"""Course events (due dates, exams, releases) as the charts show them: the course's, one
learner's (their own sections' dates replace everyone's), and as chart markers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from lti_tool.i18n.text import LazyText, lazy_gettext
from lti_tool.kpis import course_settings
from lti_tool.models import Course, CourseEvent, SectionMember
from lti_tool.models.types import DbSession


def course_events(session: DbSession, course: Course) -> list[CourseEvent]:
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


def learner_events(session: DbSession, course: Course, person_id: int) -> list[CourseEvent]:
    """The events one learner's charts show, in time order: those for everyone, and their own
    sections' dates, which replace everyone's date of the same assignment (an override is the
    learner's date; everyone's would be a date that does not apply to them)."""
    # Everyone's events and their own sections' (one read).
    own = select(SectionMember.section_id).where(SectionMember.person_id == person_id)
    events = list(
        session.scalars(
            select(CourseEvent)
            .where(
                CourseEvent.course_id == course.id,
                or_(CourseEvent.section_id.is_(None), CourseEvent.section_id.in_(own)),
            )
            .order_by(CourseEvent.at, CourseEvent.id)
        )
    )
    replaced = {_assignment_of(e) for e in events if e.section_id is not None}
    return [
        e
        for e in events
        if e.section_id is not None or e.lms_id is None or _assignment_of(e) not in replaced
    ]


#: Where staff add their own events (their titles are shown as they wrote them).
STAFF_SOURCE = "staff"


def title(event: CourseEvent) -> str | LazyText:
    """What an event is called on a page: staff's own title, or for an LMS due date the item's
    name and "due" (and the section) in the viewer's language; the LMS gives only the name."""
    if event.source == STAFF_SOURCE:
        return event.title
    item_id, _sep, section_key = (event.lms_id or "").partition(":section:")
    name: str | LazyText = event.title
    if not name:
        name = (
            lazy_gettext("Graded subsection")
            if event.source == "openedx"
            else lazy_gettext("Assignment %(id)s", id=item_id)
        )
    if event.section_id is None and not section_key:
        return lazy_gettext("%(name)s due", name=name)
    section = event.section_name or lazy_gettext("section %(id)s", id=section_key)
    return lazy_gettext("%(name)s due (%(section)s)", name=name, section=section)


def markers(events: list[CourseEvent], settings: course_settings.Settings) -> list[dict[str, Any]]:
    """Events as chart markers: the day in the course time zone, the title and the kind."""
    return [
        {"at": e.at.astimezone(settings.zone).date().isoformat(), "title": title(e), "kind": e.kind}
        for e in events
    ]
