"""A finished three-week course whose at-risk track record is worked out by hand.

UTC; starts Monday 2026-01-05, ends Sunday 2026-01-25; judged on 2026-02-02. Weeks W1 (from
01-05), W2 (01-12), W3 (01-19); each is judged at its end (the following Monday 00:00). Pass
mark 50 %; the time signal is off (percentile 0); one module of one required item. Homework
due 01-09 (HW 1), 01-16 (HW 2), 01-23 (HW 3). Every active day is the same (5 events), so no
learner is highly engaged.

- P1: active every week, final 90, completed on 01-20: good.
- P2: active in W1 only, final 30: bad. Inactive 12 days at W2's end: high in W2 and W3.
- P3: active every week, missed HW 2 and HW 3, final 40, completed: bad. One missing at W2's
  end (watch), two at W3's (high).
- P4: active every week, handed HW 1 in late on 01-14, final 70, completed: good. At W1's end
  HW 1 was still missing (watch); from W2 on it is one late hand-in, no signal.
- P5: never active, no score, never completed: bad. "No activity recorded": high every week.
- P6: active every week, final 45, completed: bad. The only score snapshot (W3) says 45, below
  the pass mark: watch in W3.

Flags: W1 {P4, P5}: precision 1/2, recall 1/4; W2 {P2, P3, P5}: 3/3 and 3/4; W3 {P2, P3, P5,
P6}: 4/4 and 4/4. Weeks from the first flag to the last week, for the bad ones: P2 1, P3 1,
P5 2, P6 0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

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
    ScoreSnapshot,
    Submission,
    WeeklyActivity,
)

JUDGED_AT = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
WEEKS = (date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19))
# The active days of each learner (one per week they were active in).
ACTIVE = {
    "P1": ("2026-01-06", "2026-01-13", "2026-01-20"),
    "P2": ("2026-01-06",),
    "P3": ("2026-01-06", "2026-01-13", "2026-01-20"),
    "P4": ("2026-01-06", "2026-01-13", "2026-01-20"),
    "P5": (),
    "P6": ("2026-01-06", "2026-01-13", "2026-01-20"),
}
FINAL = {"P1": 90.0, "P2": 30.0, "P3": 40.0, "P4": 70.0, "P6": 45.0}
COMPLETED = {"P1": "2026-01-20", "P3": "2026-01-13", "P4": "2026-01-14", "P6": "2026-01-20"}
SNAPSHOT_W3 = {"P1": 90.0, "P2": 30.0, "P3": 40.0, "P4": 70.0, "P6": 45.0}


def at(stamp: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD[ HH:MM]'."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def active_day(course: Course, person: Person, day: str) -> None:
    """One active day of five events (four 60-second gaps), and its weekly rollup row."""
    when = date.fromisoformat(day)
    monday = date.fromordinal(when.toordinal() - when.weekday())
    if db.session.get(WeeklyActivity, (course.id, monday, "ACTIVE", person.id)) is None:
        db.session.add(
            WeeklyActivity(
                course_id=course.id, week_start=monday, label="ACTIVE", person_id=person.id
            )
        )
    db.session.add(
        LearnerDay(
            course_id=course.id,
            person_id=person.id,
            day=when,
            events=5,
            first_time=at(day + " 10:00").timestamp(),
            last_time=at(day + " 10:04").timestamp(),
            gaps=orjson.dumps([1, 4, 240]),
        )
    )


def build_finished_course(course: Course | None = None) -> dict[str, Any]:
    """The course of the module docstring (new, or into the one given): course and people."""
    if course is None:
        course = Course(lti_context_id="ctx-done", lms_course_id="900", title="Finished")
        db.session.add(course)
        db.session.flush()
    people: dict[str, Person] = {}
    for name in ACTIVE:
        person = Person(name=f"Learner {name}", email=f"{name.lower()}@example.edu")
        db.session.add(person)
        db.session.flush()
        people[name] = person
        db.session.add(PersonIdentity(person_id=person.id, kind="canvas_user_id", value=name))
        db.session.add(
            Enrollment(
                course_id=course.id, person_id=person.id, course_role="learner", status="active"
            )
        )
    for name, days in ACTIVE.items():
        for day in days:
            active_day(course, people[name], day)
    for name, final in FINAL.items():
        db.session.add(
            LmsLearnerStats(
                course_id=course.id,
                person_id=people[name].id,
                source="canvas",
                current_score=final,
                final_score=final,
                # Today's figures, which a past week must not use.
                last_activity_at=at("2026-01-30 10:00"),
                total_activity_seconds=100,
            )
        )
    for name, score in SNAPSHOT_W3.items():
        db.session.add(
            ScoreSnapshot(
                course_id=course.id,
                person_id=people[name].id,
                week_start=WEEKS[2],
                score=score,
                posted_score=score,
                taken_at=at("2026-01-24 03:00"),
            )
        )
    module = CourseModule(
        course_id=course.id, lms_module_id="m1", name="Unit 1", position=1, items_required=1
    )
    db.session.add(module)
    homework = []
    for number, due in enumerate(("2026-01-09 23:59", "2026-01-16 23:59", "2026-01-23 23:59")):
        assignment = Assignment(
            course_id=course.id,
            lms_assignment_id=f"hw{number + 1}",
            name=f"HW {number + 1}",
            points_possible=10,
            due_at=at(due),
        )
        db.session.add(assignment)
        homework.append(assignment)
    db.session.flush()
    for name in ACTIVE:
        done = COMPLETED.get(name)
        db.session.add(
            ModuleProgress(
                module_id=module.id,
                person_id=people[name].id,
                items_required=1,
                items_done=1 if done else 0,
                completed_at=at(done + " 12:00") if done else None,
            )
        )
    missed = [("P3", homework[1]), ("P3", homework[2])]
    for name, assignment in missed:
        db.session.add(
            Submission(assignment_id=assignment.id, person_id=people[name].id, missing=True)
        )
    db.session.add(
        Submission(
            assignment_id=homework[0].id,
            person_id=people["P4"].id,
            score=8,
            late=True,
            submitted_at=at("2026-01-14 09:00"),
        )
    )
    course_settings.save(
        db.session,
        course,
        course_settings.Settings(
            starts_on=date(2026, 1, 5),
            ends_on=date(2026, 1, 25),
            risk_time_percentile=0,
            risk_pass_mark=50.0,
        ),
    )
    db.session.commit()
    return {"course": course, **people}
