"""Course-role authorization from the LTI roles claim: only context (membership) roles count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
TEST_USER = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"
LEGACY_PREFIX = "urn:lti:role:ims/lis/"

# Principal context roles that make someone course staff. TeachingAssistant (a sub-role)
# is not among them: Open edX gives it to forum Community TAs who are learners, and Canvas
# TAs carry membership#Instructor as well.
STAFF_ROLES = frozenset({"Instructor", "ContentDeveloper", "Administrator"})
LEARNER_ROLES = frozenset({"Learner"})
OBSERVER_ROLES = frozenset({"Mentor"})

STAFF, LEARNER, OBSERVER, NONE = "staff", "learner", "observer", "none"


@dataclass(frozen=True)
class CourseRole:
    """What a launch's roles mean for this course."""

    role: str  # staff | learner | observer | none
    context_roles: frozenset[str]
    is_test_user: bool

    @property
    def is_staff(self) -> bool:
        """True for principal course staff."""
        return self.role == STAFF


def context_role_name(uri: str) -> str | None:
    """Return the principal context role named by a role URI or short name, else None.

    Sub-roles (``membership/Instructor#TeachingAssistant``) return "Instructor#TeachingAssistant"
    so that they never match a principal role; institution and system roles return None.
    """
    uri = uri.strip()
    if not uri:
        return None
    if uri.startswith(MEMBERSHIP + "#"):
        return uri[len(MEMBERSHIP) + 1 :]
    if uri.startswith(MEMBERSHIP + "/"):
        return uri[len(MEMBERSHIP) + 1 :]  # a sub-role such as Instructor#TeachingAssistant
    if uri.startswith(LEGACY_PREFIX):
        return uri[len(LEGACY_PREFIX) :].replace("/", "#")
    if ":" in uri or "/" in uri or "#" in uri:
        return None  # institution/*, system/*, or a vocabulary we do not know
    return uri  # a short context role name, e.g. "Instructor" (LTI 1.3 allows it)


def course_role(roles: Iterable[str] | None) -> CourseRole:
    """Decide staff / learner / observer / none from a roles claim."""
    roles = [r for r in (roles or []) if isinstance(r, str)]
    names = frozenset(n for n in (context_role_name(r) for r in roles) if n)
    test_user = TEST_USER in roles
    if names & STAFF_ROLES:
        role = STAFF
    elif names & LEARNER_ROLES:
        role = LEARNER
    elif names & OBSERVER_ROLES:
        role = OBSERVER
    else:
        role = NONE
    return CourseRole(role=role, context_roles=names, is_test_user=test_user)
