"""The language of a page: the launch's locale, the course's default language, the browser's
Accept-Language, English — the first of them we offer (lti_tool.i18n)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import bindparam, select

from lti_tool.activity.sql import run
from lti_tool.extensions import db
from lti_tool.i18n import first_offered
from lti_tool.models import CourseSettings

LAUNCH_PRESENTATION = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"


def launch_locale(body: Mapping[str, Any]) -> str | None:
    """The locale a launch asks for (`launch_presentation.locale`), when it names one we offer."""
    claim = body.get(LAUNCH_PRESENTATION)
    tag = claim.get("locale") if isinstance(claim, dict) else None
    return tag if first_offered([tag]) else None


def select_language() -> str | None:
    """The page's language (None: English); before a launch, Accept-Language decides."""
    if not has_request_context():
        return None
    tags: list[str | None] = []
    viewer = g.get("viewer")
    if viewer is not None:
        tags.append(viewer.locale)
        noted: dict[int, str | None] = g.get("course_languages", {})
        if viewer.course_id in noted:
            tags.append(noted[viewer.course_id])
        else:
            tags.append(run(db.session, _COURSE_LANGUAGE, course=viewer.course_id).scalar())
    tags.extend(request.accept_languages.values())
    return first_offered(tags)


def note_course_language(course_id: int, language: str | None) -> None:
    """The course's default language, as a page that has read the course's settings found it:
    the page's language is then chosen without reading it again (for this request)."""
    g.course_languages = {**g.get("course_languages", {}), course_id: language}


# Read on every page of a launch (unless noted), built once (activity.sql.run).
_COURSE_LANGUAGE = select(CourseSettings.language).where(
    CourseSettings.course_id == bindparam("course")
)
