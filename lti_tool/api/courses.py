"""Which course an API item belongs to, and whether the token may write there.

A token's binding decides:

- bound to a course (`flask tokens create --course C`): that course only; items may leave the
  course out, and an item naming another course refuses the whole request (403);
- bound to a platform (`--bind-platform NAME`): the courses of that platform only, found by the
  LMS's course id (an Open edX course key, a Canvas course number, the LTI context id); a
  course the platform does not have yet is created on it only with `--may-create-courses`;
- no binding (tokens made before bindings existed): any course the tool knows, found by its
  LMS course id; it creates none.

An item naming a course the token may not create is refused with the whole request: a 404
that names the course (a typo in a course id used to make a new course silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from lti_tool.api.tokens import TokenError
from lti_tool.models import ApiToken, Course, Platform
from lti_tool.models.types import DbSession


class ItemProblem(ValueError):
    """An item cannot be used; the message says why in words."""


class UnknownCourse(LookupError):
    """An item names a course the token's platform (or the tool) does not have."""

    def __init__(self, ref: str, index: int) -> None:
        super().__init__(ref)
        self.ref = ref
        self.index = index


class UnknownCourses(LookupError):
    """A request named courses that do not exist and may not be created: a 404, nothing stored."""

    def __init__(self, unknown: list[UnknownCourse], token: ApiToken, platform: Platform | None):
        by_ref: dict[str, list[int]] = {}
        for item in unknown:
            by_ref.setdefault(item.ref, []).append(item.index)
        self.courses = list(by_ref)
        names = ", ".join(
            f"{ref!r} (item{'s' if len(at) > 1 else ''} {', '.join(map(str, at))})"
            for ref, at in by_ref.items()
        )
        where = f"platform {platform.name!r}" if platform is not None else "this tool"
        if platform is not None:
            hint = (
                "check the course id; to let this source create the platform's courses, make "
                f"its token with `flask tokens create --bind-platform {platform.name} "
                "--may-create-courses`"
            )
        else:
            hint = (
                "check the course id; a token without a platform binding writes only to "
                "courses the tool knows, so launch the tool from the course first or make the "
                "token with `flask tokens create --bind-platform NAME --may-create-courses`"
            )
        plural = "courses" if len(by_ref) > 1 else "course"
        super().__init__(
            f"{where[0].upper()}{where[1:]} has no {plural} {names}; nothing was stored: {hint}."
        )
        self.message = str(self)
        self.errors = [
            {"index": item.index, "message": f"unknown course {item.ref!r}"} for item in unknown
        ]


@dataclass
class CourseTarget:
    """The course an item goes to; `course` is None until a new course is created."""

    key: str  # the LMS course id the events carry
    course: Course | None
    platform_id: int | None


@dataclass
class CourseResolver:
    """Resolves course references for one request's token (with a per-request cache)."""

    session: DbSession
    token: ApiToken
    _targets: dict[str, CourseTarget] = field(default_factory=dict)

    @property
    def bound(self) -> Course | None:
        """The token's course, if it is bound to one."""
        return self.token.course if self.token.course_id is not None else None

    @property
    def may_create(self) -> bool:
        """Whether items may name a course that does not exist yet (created on the platform)."""
        return self.token.platform_id is not None and bool(self.token.may_create_courses)

    def resolve(self, ref: str | None, index: int) -> CourseTarget:
        """The target course for an item naming `ref` (None: it names none).

        Raises TokenError(403) for a course outside a course-bound token, ItemProblem when the
        item names no course or an ambiguous one, UnknownCourse when the course does not exist
        and the token may not create it.
        """
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
        query = select(Course).where(or_(Course.lms_course_id == ref, Course.lti_context_id == ref))
        platform_id = self.token.platform_id
        if platform_id is not None:
            # A platform-bound token sees its platform's courses only: the same course key on
            # another platform (or a course standing alone) is not one it may write to.
            query = query.where(Course.platform_id == platform_id)
        matches = list(self.session.scalars(query.order_by(Course.id)))
        if len(matches) > 1:
            raise ItemProblem(
                f"course {ref!r} names courses on several platforms: use a token bound to "
                "the platform (flask tokens create --bind-platform NAME) or to the course"
            )
        if not matches and not self.may_create:
            raise UnknownCourse(ref, index)
        course = matches[0] if matches else None
        if course is not None and course.platform_id is None and platform_id is None:
            self._refuse_unplaced(ref)
        target = CourseTarget(ref, course, course.platform_id if course else platform_id)
        self._targets[ref] = target
        return target

    def _refuse_unplaced(self, ref: str) -> None:
        """Events for a course that belongs to no platform, from a token bound to none: with
        several platforms registered, nobody can tell whose learners they are."""
        platforms = self.session.scalars(select(Platform.id).limit(2)).all()
        if len(platforms) > 1:
            raise ItemProblem(
                f"course {ref!r} belongs to no platform, and this token is bound to none while "
                "several platforms are registered: bind the token to the course's platform "
                "(flask tokens create --bind-platform NAME) or have an administrator attach the "
                "course (flask course attach)"
            )

    def _bound_target(self, course: Course) -> CourseTarget:
        key = course.lms_course_id or course.lti_context_id or str(course.id)
        return CourseTarget(key, course, course.platform_id)

    def ensure(self, target: CourseTarget) -> Course:
        """The target's course, created on the token's platform when it does not exist yet."""
        if target.course is None:
            # resolve() hands out a target without a course only to a token that may create.
            assert self.may_create, "a course is created only for a token allowed to"
            target.course = Course(
                platform_id=self.token.platform_id,
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

    def token_platform(self) -> Platform | None:
        """The platform the token is bound to, if any."""
        if self.token.platform_id is None:
            return None
        return self.session.get(Platform, self.token.platform_id)


def _names_of(course: Course) -> set[str]:
    return {n for n in (course.lms_course_id, course.lti_context_id, str(course.id)) if n}


def _label(course: Course) -> str:
    return course.lms_course_id or course.lti_context_id or str(course.id)
