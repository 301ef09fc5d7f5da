"""Canvas values as stored: timestamps, numbers, ids and text, enrollment types and states,
and an assignment's dates per section (`include[]=all_dates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lti_tool.people.roles import MEMBERSHIP, TEST_USER

ACTIVE_STATES = frozenset({"active", "invited", "creation_pending"})
#: Canvas enrollment types as LTI context roles (Canvas TAs are Instructors too).
TYPE_ROLES = {
    "StudentEnrollment": [MEMBERSHIP + "#Learner"],
    "TeacherEnrollment": [MEMBERSHIP + "#Instructor"],
    "TaEnrollment": [MEMBERSHIP + "#Instructor", MEMBERSHIP + "/Instructor#TeachingAssistant"],
    "DesignerEnrollment": [MEMBERSHIP + "#ContentDeveloper"],
    "ObserverEnrollment": [MEMBERSHIP + "#Mentor"],
    "StudentViewEnrollment": [MEMBERSHIP + "#Learner", TEST_USER],
}


def _dt(value: Any) -> datetime | None:
    """A Canvas timestamp as an aware UTC datetime; None when absent or not a timestamp."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    """A Canvas id as text (ids are integers; SIS-style strings are kept as sent)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _str(value, 255)


@dataclass
class AssignmentDates:
    """An assignment's dates from `include[]=all_dates`: for everyone, and per section override.

    Individual (ADHOC) and group overrides are left out: they are per learner, and each
    learner's submission (`cached_due_date`) already carries the date that applies to them.
    """

    everyone: datetime | None
    #: (Canvas section id, due at, the override's title: the section's name)
    sections: list[tuple[str, datetime, str]] = field(default_factory=list)
    #: Every due date the assignment has (overrides of any kind): when one passes, missing and
    #: late change for someone.
    all_due: list[datetime] = field(default_factory=list)


def _all_dates(row: dict[str, Any]) -> AssignmentDates | None:
    """An assignment's `all_dates` (Canvas's AssignmentDate list), or None when it has none.

    With 25 or more overrides Canvas sends `all_dates_count` and no (or an empty) `all_dates`:
    None then too, and the caller says so. The entry with `base: true` is the date of everyone
    without an override; Canvas drops it when every section has one (nobody is left).
    """
    entries = row.get("all_dates")
    if not isinstance(entries, list) or not entries:
        return None
    everyone = course_wide = None
    has_base = has_course = False
    sections: dict[str, tuple[datetime, str]] = {}
    all_due = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        due = _dt(entry.get("due_at"))
        if due is not None:
            all_due.append(due)
        kind = entry.get("set_type")
        if entry.get("base") is True:
            has_base, everyone = True, due
        elif kind == "Course":
            # An override for the whole course: everyone's date when there is no base entry.
            has_course, course_wide = True, due
        elif kind == "CourseSection":
            section_id = _id(entry.get("set_id"))
            if section_id and due is not None:
                title = _str(entry.get("title")) or ""
                # Two overrides of one section should not happen; the later date wins, as
                # Canvas gives a learner the latest of the dates that apply to them.
                if section_id not in sections or due > sections[section_id][0]:
                    sections[section_id] = (due, title)
        # "ADHOC" (some students) and "Group": no course event. They are per learner, and each
        # submission's cached_due_date already carries the date that applies to its learner.
    if not has_base and has_course:
        everyone = course_wide
    return AssignmentDates(
        everyone=everyone,
        sections=[(k, due, title) for k, (due, title) in sorted(sections.items())],
        all_due=all_due,
    )
