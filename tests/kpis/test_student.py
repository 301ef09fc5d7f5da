"""kpis.student on hand-built rows: a learner's work and its status as the LMS has it, the
calendar of their days, the course's weeks, the score distribution and the floor."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.extensions import db
from lti_tool.kpis import student
from lti_tool.models import Assignment, Course, Person, Submission

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # a Friday
PARIS = ZoneInfo("Europe/Paris")


def _work_course() -> tuple[Course, int, int]:
    """A course whose assignments cover every status for one learner (`me`), and another
    learner whose submissions say the opposite (they must not leak into `me`'s work)."""
    course = Course(lti_context_id="ctx-w", title="Work")
    me, other = Person(name="Me"), Person(name="Other")
    db.session.add_all([course, me, other])
    db.session.flush()

    def assignment(key: str, due: datetime | None, **extra: object) -> Assignment:
        row = Assignment(
            course_id=course.id,
            lms_assignment_id=key,
            name=f"Task {key}",
            due_at=due,
            points_possible=10,
            **extra,
        )
        db.session.add(row)
        db.session.flush()
        return row

    past = NOW - timedelta(days=2)
    rows = {
        "missing": assignment("missing", past),
        "late": assignment("late", past),
        "submitted": assignment("submitted", past),
        "graded": assignment("graded", past),
        "excused": assignment("excused", past),
        "past": assignment("past", past),  # no submission asked for: not flagged missing
        "soon": assignment("soon", NOW + timedelta(days=3)),
        # Everyone's date is in a week; this learner's own (an override) is tomorrow morning
        "own": assignment("own", NOW + timedelta(days=7)),
        "undated": assignment("undated", None),
        "removed": assignment("removed", past, removed=True),
        "draft": assignment("draft", past, published=False),
    }
    mine = {
        "missing": {"missing": True},
        "late": {"late": True, "submitted_at": past + timedelta(hours=5)},
        "submitted": {"submitted_at": past - timedelta(hours=1)},
        "graded": {"workflow_state": "graded"},
        "excused": {"excused": True, "missing": True},
        "own": {"due_at": datetime(2026, 3, 21, 7, 30, tzinfo=UTC)},  # 08:30 in Paris
        "removed": {"missing": True},
        "draft": {"missing": True},
    }
    for key, values in mine.items():
        db.session.add(Submission(assignment_id=rows[key].id, person_id=me.id, **values))
    for key in ("past", "soon", "submitted"):
        db.session.add(Submission(assignment_id=rows[key].id, person_id=other.id, missing=True))
    db.session.commit()
    return course, me.id, other.id


def test_a_learners_work_has_the_lms_status_and_their_own_due_date(app: Flask) -> None:
    with app.app_context():
        course, me, _other = _work_course()
        work = student.learner_work(db.session, course, me, NOW, PARIS)
    found = [(w.name, w.status) for w in work]
    assert found == [
        ("Task missing", "missing"),
        ("Task own", "due tomorrow"),  # their own date, not everyone's (in 7 days)
        ("Task soon", "due in 3 days"),
        ("Task past", "past due, not submitted"),
        ("Task late", "late"),
        ("Task submitted", "submitted"),
        ("Task graded", "submitted"),
        ("Task excused", "excused"),  # excused wins over the missing flag
        ("Task undated", "no due date"),
    ]  # removed and unpublished assignments are not listed
    own = next(w for w in work if w.name == "Task own")
    assert own.due_at == datetime(2026, 3, 21, 7, 30, tzinfo=UTC)
    counts = student.work_counts(work, NOW)
    assert counts == {"missing": 1, "late": 1, "due_soon": 2}


def test_due_words_count_calendar_days_in_the_course_time_zone() -> None:
    # 23:30 UTC on Friday is already Saturday in Paris: "due tomorrow", not "due today"
    assert student.due_words(datetime(2026, 3, 20, 23, 30, tzinfo=UTC), NOW, PARIS) == (
        "due tomorrow"
    )
    assert student.due_words(NOW + timedelta(hours=1), NOW, PARIS) == "due today"
    assert student.due_words(NOW + timedelta(days=10), NOW, PARIS) == "due in 10 days"


def test_the_typical_learners_work_is_the_class_majority_not_one_person(app: Flask) -> None:
    with app.app_context():
        course, me, other = _work_course()
        work = {w.name: w for w in student.typical_work(db.session, course, {me, other}, NOW, UTC)}
    # Everyone's due date (not `me`'s override), and the share of the class with that status
    assert work["Task own"].status == "due in 7 days"
    assert work["Task own"].due_at == NOW + timedelta(days=7)
    assert str(work["Task missing"].status).endswith("(50 % of the class)")


def test_the_distribution_is_hidden_below_the_floor() -> None:
    below = student.score_distribution([50.0, 60.0, None, 70.0, 80.0], 60.0, floor=5)
    assert below.scores is None and below.group == 4 and below.mine == 60.0
    at = student.score_distribution([50.0, 60.0, 65.0, 70.0, 80.0], 60.0, floor=5)
    assert at.scores == [50.0, 60.0, 65.0, 70.0, 80.0]


def test_the_calendar_has_a_cell_per_day_active_days_and_a_summary() -> None:
    mondays = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    days = {date(2026, 3, 3): 4, date(2026, 3, 4): 2, date(2026, 3, 5): 1, date(2026, 3, 17): 9}
    found = student.calendar(mondays, days, today=date(2026, 3, 18))
    assert len(found.values) == 21
    assert {d for d, v in found.values.items() if v} == set(days)
    assert all(found.values[date(2026, 3, d)] is None for d in (19, 20, 21, 22))  # not yet
    assert (found.active, found.days, found.streak) == (4, 17, 3)
    assert found.busiest == "Tuesdays" and found.last == date(2026, 3, 17)
    rows = found.rows()
    assert [m for m, _cells in rows] == mondays
    assert rows[0][1][1] == (date(2026, 3, 3), 4)


def test_the_course_weeks_run_from_its_start_to_this_week() -> None:
    today = date(2026, 3, 20)
    from_settings = student.course_mondays(date(2026, 2, 25), date(2026, 3, 2), today)
    assert from_settings == [date(2026, 2, 23) + timedelta(days=7 * i) for i in range(4)]
    from_class = student.course_mondays(None, date(2026, 3, 9), today)
    assert from_class == [date(2026, 3, 9), date(2026, 3, 16)]
    assert student.course_mondays(None, None, today) == [date(2026, 3, 16)]


@settings(max_examples=300, deadline=None)
@given(
    # Shares shared by several learners too: the median counts each of them.
    seen=st.lists(
        st.one_of(st.floats(0, 1, allow_nan=False), st.sampled_from([0.0, 0.25, 1.0])),
        max_size=12,
    ),
    people=st.integers(0, 20),
)
def test_the_typical_share_is_the_median_of_the_class_padded_with_zeros(
    seen: list[float], people: int
) -> None:
    # Learners who never opened the video count 0: the median of the padded list, made without
    # the list (100,000 values per video at 100,000 learners).
    rows = [{"video_id": "v", "coverage": share, "completed": False} for share in seen]
    padded = seen + [0.0] * max(0, people - len(seen))
    expected = round(statistics.median(padded), 4) if padded else None
    found = student.typical_videos(rows, people)
    assert [row["coverage"] for row in found] == ([expected] if seen else [])


def test_a_learners_events_are_everyones_but_where_their_own_sections_date_replaces_it(
    app: Flask,
) -> None:
    # Everyone's date of assignment 77 gives way to the learner's section's; assignment 78's
    # section date is another section's (not theirs), so everyone's stays; an event without
    # an LMS item (staff's own) is everyone's.
    from lti_tool.kpis import course_events
    from lti_tool.models import CourseEvent, Section, SectionMember

    with app.app_context():
        course, me = Course(lti_context_id="ctx-e", title="Events"), Person(name="Me")
        db.session.add_all([course, me])
        db.session.flush()
        mine = Section(course_id=course.id, lms_section_id="1", name="Mine")
        other = Section(course_id=course.id, lms_section_id="2", name="Other")
        db.session.add_all([mine, other])
        db.session.flush()
        db.session.add(SectionMember(section_id=mine.id, person_id=me.id))

        def dated(lms_id: str | None, day: int, section: Section | None = None) -> None:
            db.session.add(
                CourseEvent(
                    course_id=course.id,
                    source="canvas" if lms_id else "staff",
                    lms_id=lms_id,
                    title=f"{lms_id} on {day}",
                    section_id=section.id if section else None,
                    at=NOW + timedelta(days=day),
                )
            )

        dated("77", 1)
        dated("77:section:1", 2, mine)
        dated("78", 3)
        dated("78:section:2", 4, other)
        dated(None, 5)
        db.session.commit()
        shown = [e.title for e in course_events.learner_events(db.session, course, me.id)]
        assert shown == ["77:section:1 on 2", "78 on 3", "None on 5"]


def test_a_learners_modules_are_their_own_progress_in_course_order(app: Flask) -> None:
    # Read with one join: another learner's progress never counts for `me`; a module `me` has
    # no progress in reads as none done; a removed module is left out.
    from lti_tool.models import CourseModule, ModuleProgress

    done_at = NOW - timedelta(days=1)
    with app.app_context():
        course = Course(lti_context_id="ctx-m", title="Modules")
        me, other = Person(name="Me"), Person(name="Other")
        db.session.add_all([course, me, other])
        db.session.flush()
        second, first, gone = (
            CourseModule(course_id=course.id, lms_module_id=key, name=key, position=at, **extra)
            for key, at, extra in (
                ("Second", 2, {"items_required": 4}),
                ("First", 1, {"items_required": 2}),
                ("Gone", 0, {"items_required": 1, "removed": True}),
            )
        )
        db.session.add_all([second, first, gone])
        db.session.flush()
        db.session.add_all(
            [
                ModuleProgress(
                    module_id=first.id,
                    person_id=me.id,
                    items_required=2,
                    items_done=2,
                    completed_at=done_at,
                ),
                ModuleProgress(module_id=second.id, person_id=other.id, items_done=4),
                ModuleProgress(module_id=gone.id, person_id=me.id, items_done=1),
            ]
        )
        db.session.commit()
        rows = student.learner_modules(db.session, course, me.id)
        assert [(str(r.name), r.done, r.required, r.completed_at) for r in rows] == [
            ("First", 2, 2, done_at),
            ("Second", 0, 4, None),
        ]
