"""Demo data for the embedded default: the development platform and a course with a class."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from lti_tool.dev.demo_activity import load_demo_activity, load_demo_blocks, load_demo_lms
from lti_tool.dev.platform import DEMO_CONTEXT, DEV_USERS, dev_platform, ensure_registered
from lti_tool.extensions import db
from lti_tool.models import ActivityBlock, Course, Enrollment, Person, PersonIdentity, Platform
from lti_tool.people.roles import LEARNER, MEMBERSHIP, STAFF

GIVEN = [
    "Alan",
    "Barbara",
    "Claude",
    "Dorothy",
    "Edsger",
    "Frances",
    "Gordon",
    "Hedy",
    "Ivan",
    "Joan",
    "Ken",
    "Lynn",
    "Margaret",
    "Niklaus",
    "Olga",
    "Peter",
    "Radia",
    "Sophie",
    "Tim",
    "Ursula",
    "Vint",
    "Wendy",
    "Xavier",
    "Yukihiro",
]
FAMILY = [
    "Turing",
    "Liskov",
    "Shannon",
    "Vaughan",
    "Dijkstra",
    "Allen",
    "Moore",
    "Lamarr",
    "Sutherland",
    "Clarke",
    "Thompson",
    "Conway",
    "Hamilton",
    "Wirth",
    "Taussky",
    "Naur",
    "Perlman",
    "Wilson",
    "Berners-Lee",
    "Franklin",
    "Cerf",
    "Hall",
    "Leroy",
    "Matsumoto",
]


def load_demo(
    platform: Platform,
    context: dict[str, Any],
    seed: int = 101,
    extra_people: tuple[tuple[str, str, str, str], ...] = (),
) -> Course:
    """Create (idempotently) the demo course and a class of learners on a platform.

    extra_people are (sub, given name, family name, role) tuples, e.g. the development LMS's
    own users, so that they are part of the class (and of its demo activity) from the start.
    """
    course = db.session.scalar(
        select(Course).where(
            Course.platform_id == platform.id, Course.lti_context_id == context["id"]
        )
    )
    if course is None:
        course = Course(platform_id=platform.id, lti_context_id=context["id"])
        db.session.add(course)
    course.title, course.label = context["title"], context.get("label")
    db.session.flush()
    rng = random.Random(seed)
    people = [
        (f"demo-learner-{i + 1}", g, f, LEARNER)
        for i, (g, f) in enumerate(zip(GIVEN, FAMILY, strict=True))
    ]
    people.append(("demo-ta-1", "Tessa", "Assistant", STAFF))
    people.extend(extra_people)
    for sub, given, family, role in people:
        ident = db.session.scalar(
            select(PersonIdentity).where(
                PersonIdentity.platform_id == platform.id,
                PersonIdentity.kind == "lti_sub",
                PersonIdentity.value == sub,
            )
        )
        if ident is None:
            person = Person(
                name=f"{given} {family}",
                given_name=given,
                family_name=family,
                email=f"{given}.{family}@example.edu".lower(),
            )
            db.session.add(person)
            db.session.flush()
            db.session.add(
                PersonIdentity(
                    person_id=person.id, platform_id=platform.id, kind="lti_sub", value=sub
                )
            )
            person_id = person.id
        else:
            person_id = ident.person_id
        enrollment = db.session.scalar(
            select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.person_id == person_id
            )
        )
        if enrollment is None:
            uri = MEMBERSHIP + ("#Instructor" if role == STAFF else "#Learner")
            db.session.add(
                Enrollment(
                    course_id=course.id,
                    person_id=person_id,
                    roles=[uri],
                    course_role=role,
                    source="demo",
                    status="inactive" if rng.random() < 0.05 else "active",
                )
            )
    db.session.commit()

    load_demo_lms(db.session, course)
    load_demo_blocks(db.session, course)
    return course


def dev_people() -> tuple[tuple[str, str, str, str], ...]:
    """The development LMS's own users as load_demo's extra_people (its instructor is staff)."""
    return tuple(
        (u["sub"], u["given_name"], u["family_name"], "staff" if key == "instructor" else "learner")
        for key, u in DEV_USERS.items()
    )


def load_dev_demo() -> tuple[Course, int | None]:
    """Register the development LMS and load its demo course, with the LMS's own users in the
    class; the course's activity too while it has none. (course, events loaded or None)."""

    platform = ensure_registered(dev_platform())
    course = load_demo(platform, DEMO_CONTEXT, extra_people=dev_people())
    has_activity = db.session.scalar(
        select(ActivityBlock.day).where(ActivityBlock.course_id == course.id).limit(1)
    )
    if has_activity is not None:
        return course, None
    return course, load_demo_activity(db.session, platform, course)
