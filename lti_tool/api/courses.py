"""Which course an API item belongs to: the token's course, else the course the item names.

A token bound to a course acts on that course only: items may leave the course out, and an
item naming another course refuses the whole request (403). An unbound token needs the course
in every item, as the LMS's course id (an Open edX course key, a Canvas course number, or the
LTI context id). A course the tool does not know yet is created standing alone, as tracking-log
ingest does, and a launch from that course claims it later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lti_tool.api.tokens import TokenError
from lti_tool.models import ApiToken, Course, Platform


class ItemProblem(ValueError):
    """An item cannot be used; the message says why in words."""


@dataclass
class CourseTarget:
    """The course an item goes to; `course` is None until a new course is created."""

    key: str  # the LMS course id the events carry
    course: Course | None
    platform_id: int | None


@dataclass
class CourseResolver:
    """Resolves course references for one request's token (with a per-request cache)."""

    session: Session
    token: ApiToken
    _targets: dict[str, CourseTarget] = field(default_factory=dict)

    @property
    def bound(self) -> Course | None:
        """The token's course, if it is bound to one."""
        return self.token.course if self.token.course_id is not None else None

    def resolve(self, ref: str | None, index: int) -> CourseTarget:
        """The target course for an item naming `ref` (None: it names none)."""
        bound = self.bound
        if bound is not None:
            if ref is not None and ref not in _names_of(bound):
                raise TokenError(
                    403,
                    f"item {index} names course {ref!r}, but this token is bound to course "
                    f"{bound.id} ({_label(bound)}); nothing was stored",
                    code="insufficient_scope",
                )
            return self._bound_target(bound)
        if ref is None:
            raise ItemProblem(
                "no course: this token is not bound to a course, so every item needs "
                '"course" (the LMS course id, e.g. course-v1:Org+X+2026)'
            )
        cached = self._targets.get(ref)
        if cached is not None:
            return cached
        matches = list(
            self.session.scalars(
                select(Course)
                .where(or_(Course.lms_course_id == ref, Course.lti_context_id == ref))
                .order_by(Course.id)
            )
        )
        if len(matches) > 1:
            raise ItemProblem(
                f"course {ref!r} names courses on several platforms: use a token bound to "
                "the course (flask tokens create --course ID)"
            )
        course = matches[0] if matches else None
        target = CourseTarget(ref, course, course.platform_id if course else None)
        self._targets[ref] = target
        return target

    def _bound_target(self, course: Course) -> CourseTarget:
        key = course.lms_course_id or course.lti_context_id or str(course.id)
        return CourseTarget(key, course, course.platform_id)

    def ensure(self, target: CourseTarget) -> Course:
        """The target's course, created standing alone when the tool does not know it yet."""
        if target.course is None:
            target.course = Course(
                platform_id=None,
                lti_context_id=target.key,
                lms_course_id=target.key,
                title=target.key,
            )
            self.session.add(target.course)
            self.session.flush()
        return target.course

    def platform(self, target: CourseTarget) -> Platform | None:
        """The platform whose identities the target's learners use."""
        if target.platform_id is None:
            return None
        return self.session.get(Platform, target.platform_id)


def _names_of(course: Course) -> set[str]:
    return {n for n in (course.lms_course_id, course.lti_context_id, str(course.id)) if n}


def _label(course: Course) -> str:
    return course.lms_course_id or course.lti_context_id or str(course.id)
