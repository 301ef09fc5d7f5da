"""Course-role authorization from the LTI roles claim: only context (membership) roles count.

One exception: Open edX before lti-consumer-xblock 11.1 (April 2026; the Sumac, Teak and Ulmo
releases ship older versions) puts the user's *course* role in institution and system roles and
sends no membership role at all, in launches and NRPS rosters alike. Its `LTI_1P3_ROLE_MAP`
(lti_consumer/lti_1p3/constants.py, v10.0.0 to v11.0.1) sends course staff
`system/person#Administrator` + `institution/person#Instructor`, instructors
`institution/person#Instructor`, students and guests `institution/person#Student`. For a platform
registered as Open edX, roles without any membership role are read through that map. Every
other LMS stays strict: Canvas sends `institution/person#Instructor` to anyone who teaches
anywhere, so institution roles never open a course there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
TEST_USER = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
#: Old Open edX's course roles, as institution/system roles (see the module docstring).
OPENEDX_STAFF_ROLES = frozenset({INSTITUTION + "Instructor", SYSTEM + "Administrator"})
OPENEDX_LEARNER_ROLES = frozenset({INSTITUTION + "Student", INSTITUTION + "Learner"})
#: The LMS kinds a platform may be registered as.
LMS_KINDS = ("canvas", "openedx", "moodle", "other")
OPENEDX = "openedx"
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
    # True when the role came from old Open edX's institution/system roles, not membership ones.
    from_institution_roles: bool = False

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


def course_role(roles: Iterable[str] | None, lms: str = "other") -> CourseRole:
    """Decide staff / learner / observer / none from a roles claim of a platform of `lms` kind."""
    roles = [r.strip() for r in (roles or []) if isinstance(r, str)]
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
    if lms == OPENEDX and not names:
        if OPENEDX_STAFF_ROLES.intersection(roles):
            return CourseRole(STAFF, names, test_user, from_institution_roles=True)
        if OPENEDX_LEARNER_ROLES.intersection(roles):
            return CourseRole(LEARNER, names, test_user, from_institution_roles=True)
    return CourseRole(role=role, context_roles=names, is_test_user=test_user)


def only_institution_roles(roles: Iterable[str] | None) -> bool:
    """True when the claim has institution or system roles and no context role at all."""
    roles = [r.strip() for r in (roles or []) if isinstance(r, str)]
    return any(r.startswith((INSTITUTION, SYSTEM)) for r in roles) and not any(
        context_role_name(r) for r in roles
    )
