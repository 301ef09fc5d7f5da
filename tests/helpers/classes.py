"""The hand-built class and its course's settings.

The class (today is Friday 2026-03-20, UTC): A, B, C, E (named), D (no name or e-mail), L (seen
only in logs, no enrollment). Out of every figure: F (dropped), T (test student), S (staff),
O (observer) — each of them has activity or scores that would change the figures. The expected
values worked out from it are in tests/kpis/test_learners.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import course_settings
from lti_tool.models import (
    Assignment,
    Course,
    CourseModule,
    Enrollment,
    LearnerDay,
    LmsLearnerStats,
    ModuleProgress,
    Person,
    PersonIdentity,
    Section,
    SectionMember,
    Submission,
    VideoLearnerViews,
    WeeklyActivity,
)
from tests.helpers.platform import FakePlatform, session_token

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def _day(course: Course, person: Person, day: str, events: int, gaps: list[float], last: str):
    # The weekly rollup the ingest would write beside the learner-day.
    monday = date.fromisoformat(day) - timedelta(days=date.fromisoformat(day).weekday())
    key = (course.id, monday, "ACTIVE", person.id)
    if db.session.get(WeeklyActivity, key) is None:
        db.session.add(
            WeeklyActivity(
                course_id=course.id, week_start=monday, label="ACTIVE", person_id=person.id
            )
        )
        db.session.flush()
    db.session.add(
        LearnerDay(
            course_id=course.id,
            person_id=person.id,
            day=date.fromisoformat(day),
            events=events,
            first_time=_at(day + " 00:00:01").timestamp(),
            last_time=_at(last).timestamp(),
            gaps=orjson.dumps(gaps),
        )
    )


def build_class(course: Course | None = None) -> dict[str, Any]:
    """The class described in the module docstring (in a new course, or the one given);
    returns the course and the people by letter."""
    if course is None:
        course = Course(lti_context_id="ctx-1", lms_course_id="4711", title="Physics")
        db.session.add(course)
        db.session.flush()
    people: dict[str, Person] = {}
    spec = {
        # letter: (name, email, role, status, test user)
        "A": ("Ada A", "a@example.edu", "learner", "active", False),
        "B": ("Bob B", "b@example.edu", "learner", "active", False),
        "C": ("Cy C", "c@example.edu", "learner", "active", False),
        "D": (None, None, "learner", "active", False),
        "E": ("Eve E", "e@example.edu", "learner", "active", False),
        "F": ("Fay Dropped", "f@example.edu", "learner", "inactive", False),
        "T": ("Test Student", "t@example.edu", "learner", "active", True),
        "S": ("Sam Staff", "s@example.edu", "staff", "active", False),
        "O": ("Olly Observer", "o@example.edu", "observer", "active", False),
        "L": (None, None, None, None, None),
    }
    for letter, (name, email, role, status, test) in spec.items():
        person = Person(name=name, email=email)
        db.session.add(person)
        db.session.flush()
        people[letter] = person
        db.session.add(
            PersonIdentity(person_id=person.id, kind="canvas_user_id", value=f"u{letter}")
        )
        if role is not None:
            db.session.add(
                Enrollment(
                    course_id=course.id,
                    person_id=person.id,
                    course_role=role,
                    status=status,
                    is_test_user=test,
                )
            )
    p = people
    # A: 2026-03-10 gaps of 5 min (300 s) and 10 min (1200 s) count, the 240-min one does not:
    # 1500 s, 10 events - 7 gaps = 3 sessions; 2026-03-19: 90 s, 4 - 3 = 1 session.
    _day(
        course,
        p["A"],
        "2026-03-10",
        10,
        [1, 5, 300, 10, 2, 1200, 240, 1, 20000],
        "2026-03-10 15:00",
    )
    _day(course, p["A"], "2026-03-19", 4, [0, 3, 90], "2026-03-19 10:00")
    _day(course, p["B"], "2026-03-03", 2, [5, 1, 330], "2026-03-03 09:00")
    _day(course, p["C"], "2026-03-10", 3, [2, 2, 240], "2026-03-10 09:00")
    _day(course, p["C"], "2026-03-11", 5, [3, 4, 800], "2026-03-11 18:00")
    _day(course, p["E"], "2026-03-17", 6, [1, 5, 400], "2026-03-17 08:00")
    _day(course, p["L"], "2026-03-12", 2, [4, 1, 250], "2026-03-12 10:00")
    for letter in "FTS":  # lots of time: would move every percentile and median
        _day(course, p[letter], "2026-03-18", 50, [1, 49, 9000], "2026-03-18 20:00")
    for video in ("v1", "v2"):
        db.session.add(
            VideoLearnerViews(
                course_id=course.id, person_id=p["A"].id, video_id=video, runs=b"[0,3]"
            )
        )
    db.session.add(
        VideoLearnerViews(course_id=course.id, person_id=p["S"].id, video_id="v1", runs=b"[0,3]")
    )
    s1 = Section(course_id=course.id, lms_section_id="1", name="Sec 1")
    s2 = Section(course_id=course.id, lms_section_id="2", name="Sec 2")
    db.session.add_all([s1, s2])
    db.session.flush()
    for section, letters in ((s1, "ABF"), (s2, "C")):
        for letter in letters:
            db.session.add(SectionMember(section_id=section.id, person_id=p[letter].id))
    stats = {
        # letter: (current, final, total_activity_seconds, last_activity_at)
        "A": (85.0, 80.0, 5000, "2026-03-18 10:00"),
        "B": (40.0, 35.0, 1000, "2026-03-05 10:00"),
        "E": (70.0, 60.0, None, None),
        "T": (5.0, 5.0, 10, "2026-03-20 10:00"),
        "F": (1.0, 1.0, 10, None),
    }
    for letter, (current, final, seconds, last) in stats.items():
        db.session.add(
            LmsLearnerStats(
                course_id=course.id,
                person_id=p[letter].id,
                source="canvas",
                current_score=current,
                final_score=final,
                total_activity_seconds=seconds,
                last_activity_at=_at(last) if last else None,
            )
        )
    m1 = CourseModule(
        course_id=course.id, lms_module_id="m1", name="Week 1", position=1, items_required=4
    )
    m2 = CourseModule(
        course_id=course.id, lms_module_id="m2", name="Week 2", position=2, items_required=2
    )
    m3 = CourseModule(
        course_id=course.id,
        lms_module_id="m3",
        name="Gone",
        position=3,
        items_required=5,
        removed=True,
    )
    db.session.add_all([m1, m2, m3])
    db.session.flush()
    progress = {
        ("A", m1): (4, "2026-03-08 12:00"),
        ("A", m2): (2, "2026-03-15 12:00"),
        ("B", m1): (1, None),
        ("C", m1): (4, "2026-03-09 12:00"),
        ("C", m2): (1, None),
        ("E", m1): (3, None),
        ("T", m1): (4, None),
        ("A", m3): (5, None),
    }
    for (letter, module), (done, at) in progress.items():
        db.session.add(
            ModuleProgress(
                module_id=module.id,
                person_id=p[letter].id,
                items_required=module.items_required,
                items_done=done,
                completed_at=_at(at) if at else None,
            )
        )
    hw1 = Assignment(
        course_id=course.id,
        lms_assignment_id="h1",
        name="HW 1",
        points_possible=10,
        due_at=_at("2026-03-06 23:59"),
    )
    hw2 = Assignment(
        course_id=course.id,
        lms_assignment_id="h2",
        name="HW 2",
        points_possible=10,
        due_at=_at("2026-03-13 23:59"),
    )
    db.session.add_all([hw1, hw2])
    db.session.flush()
    subs = {
        # (letter, assignment): (score, late, missing, excused)
        ("A", hw1): (9.0, False, False, False),
        ("B", hw1): (4.0, True, False, False),
        ("C", hw1): (7.0, False, False, False),
        ("E", hw1): (6.0, False, False, True),  # excused: out of the figures
        ("L", hw1): (2.0, True, False, False),
        ("T", hw1): (0.0, True, False, False),
        ("A", hw2): (10.0, False, False, False),
        ("B", hw2): (None, False, True, False),
        ("D", hw2): (None, False, True, False),
        ("S", hw2): (None, False, True, False),
    }
    for (letter, assignment), (score, late, missing, excused) in subs.items():
        db.session.add(
            Submission(
                assignment_id=assignment.id,
                person_id=p[letter].id,
                score=score,
                late=late,
                missing=missing,
                excused=excused,
            )
        )
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(risk_completion_behind=1, risk_pass_mark=50.0),
    )
    db.session.commit()
    return {"course": course, **people}


def seed_class(app: Flask, client: FlaskClient, platform: FakePlatform) -> dict[str, Any]:
    """A staff launch into course 1, which then holds the hand-built class: the staff token
    ("t"), the people's ids by letter and the launching staff member's ("viewer")."""
    token = session_token(platform.launch(client))
    with app.app_context():
        people = build_class(db.session.get(Course, 1))
        ids = {k: v.id for k, v in people.items() if k != "course"}
        staff = db.session.scalar(select(Person).where(Person.email == "sam@example.edu"))
        ids["viewer"] = staff.id
    return {"t": token, **ids}


# A settings form that passes validation (the settings page's fields).
GOOD = {
    "time_zone": "Europe/Paris",
    "starts_on": "2026-03-02",
    "time_cutoff_minutes": "5",
    "privacy_floor": "6",
    "risk_inactive_days": "3",
    "risk_time_percentile": "20",
    "risk_completion_behind": "1",
    "risk_pass_mark": "55.5",
    "student_views": ["time", "videos"],
}


def section_of(app: Flask, identity: str, name: str) -> None:
    """Put the learner the logs know by `identity` (a PersonIdentity value) alone in a new
    section `name` of course 1."""
    with app.app_context():
        person = db.session.scalar(
            select(PersonIdentity.person_id).where(PersonIdentity.value == identity)
        )
        section = Section(course_id=1, lms_section_id="s", name=name)
        db.session.add(section)
        db.session.flush()
        db.session.add(SectionMember(section_id=section.id, person_id=person))
        db.session.commit()
