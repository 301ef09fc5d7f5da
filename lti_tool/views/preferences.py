"""How each person likes a course's pages (view_preference), kept on the server: inside the LMS's
iframe the browser may refuse the tool any storage of its own (third-party storage blocked)."""

from __future__ import annotations

from typing import Any

from lti_tool.extensions import db
from lti_tool.models import ViewPreference


def load(course_id: int, person_id: int, view: str) -> Any | None:
    """The value this person kept for this view of this course, or None."""
    found = db.session.get(ViewPreference, (person_id, course_id, view))
    return None if found is None else found.value


def save(course_id: int, person_id: int, view: str, value: Any) -> None:
    """Keep a value for this person's view of this course (committed by the caller)."""
    found = db.session.get(ViewPreference, (person_id, course_id, view))
    if found is None:
        db.session.add(
            ViewPreference(person_id=person_id, course_id=course_id, view=view, value=value)
        )
    else:
        found.value = value
