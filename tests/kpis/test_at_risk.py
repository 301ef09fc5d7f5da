"""The at-risk levels (high, watch) and their reasons: missing and late work (Canvas's flags, Open
edX's graded subsections), the time rule counting only beside something behind, the highly
engaged never high (properties over random classes), the real demo, the reports' fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool.dev.demo import dev_people, load_demo
from lti_tool.dev.demo_activity import load_demo_activity
from lti_tool.dev.platform import DEMO_CONTEXT, dev_platform, ensure_registered
from lti_tool.extensions import db
from lti_tool.kpis import at_risk, course_settings, learners
from lti_tool.kpis.at_risk import HIGH, WATCH, Work, assess, past_due_work
from lti_tool.kpis.completion import Progress
from lti_tool.kpis.engagement import week_segments
from lti_tool.kpis.reports import REPORTS
from lti_tool.kpis.roster import Member, percentile
from lti_tool.models import (
    Assignment,
    Course,
    CourseBlock,
    Enrollment,
    LearnerDay,
    LearnerResource,
    Person,
    PersonIdentity,
    Submission,
)
from tests.helpers.classes import NOW, build_class

TIME_REASON = "in the bottom"  # what only the little-time reason says


@pytest.fixture
def klass(app: Flask) -> Any:
    with app.app_context():
        yield build_class()


def _rows(course: Course) -> dict[str, dict[str, Any]]:
    return {r["learner"]: r for r in learners.learners(db.session, course, key=b"k", now=NOW)}


def _assignment(course: Course, name: str, due: str) -> Assignment:
    found = Assignment(
        course_id=course.id,
        lms_assignment_id=name,
        name=name,
        points_possible=10,
        due_at=datetime.fromisoformat(due).replace(tzinfo=UTC),
    )
    db.session.add(found)
    db.session.flush()
    return found


# --- missing and late work (Canvas) ---------------------------------------------------------


def test_two_missing_assignments_make_a_learner_high(app: Flask, klass: dict[str, Any]) -> None:
    course, eve = klass["course"], klass["E"]
    # E: active 3 days ago, completion above the median, score 70 above the pass mark of 50
    assert _rows(course)["uE"]["risk_level"] == ""
    hw3 = _assignment(course, "HW 3", "2026-03-16 23:59")
    db.session.add(Submission(assignment_id=hw3.id, person_id=eve.id, missing=True))
    db.session.commit()
    one = _rows(course)["uE"]
    # one missing assignment is one signal: watch
    assert (one["risk_level"], one["at_risk"]) == (WATCH, True)
    assert one["at_risk_reasons"] == [
        "1 assignment missing, past due with nothing handed in (HW 3)"
    ]
    hw4 = _assignment(course, "HW 4", "2026-03-18 23:59")
    db.session.add(Submission(assignment_id=hw4.id, person_id=eve.id, missing=True))
    db.session.commit()
    two = _rows(course)["uE"]
    assert (two["risk_level"], two["at_risk"]) == (HIGH, True)
    assert two["at_risk_reasons"] == [
        "2 assignments missing, past due with nothing handed in (HW 3, HW 4; rule: 2 or more)"
    ]


def test_excused_and_removed_work_does_not_count_and_late_counts_from_two(
    app: Flask, klass: dict[str, Any]
) -> None:
    course, eve = klass["course"], klass["E"]
    excused = _assignment(course, "HW 3", "2026-03-16 23:59")
    gone = _assignment(course, "HW 4", "2026-03-17 23:59")
    gone.removed = True
    db.session.add(
        Submission(assignment_id=excused.id, person_id=eve.id, missing=True, excused=True)
    )
    db.session.add(Submission(assignment_id=gone.id, person_id=eve.id, missing=True))
    db.session.commit()
    assert _rows(course)["uE"]["risk_level"] == ""
    late1 = _assignment(course, "HW 5", "2026-03-17 23:59")
    db.session.add(Submission(assignment_id=late1.id, person_id=eve.id, late=True, score=5))
    db.session.commit()
    assert _rows(course)["uE"]["risk_level"] == ""  # one late hand-in is no signal
    late2 = _assignment(course, "HW 6", "2026-03-18 23:59")
    db.session.add(Submission(assignment_id=late2.id, person_id=eve.id, late=True, score=5))
    db.session.commit()
    row = _rows(course)["uE"]
    assert row["risk_level"] == WATCH
    assert row["at_risk_reasons"] == ["2 assignments handed in late (HW 5, HW 6) (rule: 2 or more)"]


# --- missing work (Open edX: graded subsections past due, no problem attempted) --------------


def _key(kind: str, name: str) -> str:
    return f"block-v1:Org+X+2026+type@{kind}@{name}"


def _openedx_class(app: Flask) -> dict[str, Any]:
    """An Open edX course: two graded subsections past due with problems, one graded without
    problems, one ungraded, one graded not yet due; learners X (tried a problem of each past-due
    one), Y (tried nothing), Z (tried one), all active yesterday."""
    course = Course(lti_context_id="oe", lms_course_id="course-v1:Org+X+2026", title="OE")
    db.session.add(course)
    db.session.flush()
    blocks = [
        ("course", "root", None, False),
        ("chapter", "ch", "root", False),
        ("sequential", "quiz1", "ch", True),
        ("vertical", "u1", "quiz1", False),
        ("problem", "p1", "u1", False),
        ("problem", "p2", "u1", False),
        ("sequential", "quiz2", "ch", True),
        ("vertical", "u2", "quiz2", False),
        ("problem", "p3", "u2", False),
        ("sequential", "essay", "ch", True),  # graded, no problems: the tool cannot tell
        ("vertical", "u3", "essay", False),
        ("sequential", "practice", "ch", False),  # not graded
        ("vertical", "u4", "practice", False),
        ("problem", "p4", "u4", False),
        ("sequential", "quiz3", "ch", True),  # due next week
        ("vertical", "u5", "quiz3", False),
        ("problem", "p5", "u5", False),
    ]
    kinds = {name: kind for kind, name, _parent, _graded in blocks}
    for position, (kind, name, parent, graded) in enumerate(blocks):
        db.session.add(
            CourseBlock(
                course_id=course.id,
                block_id=_key(kind, name),
                block_type=kind,
                display_name=name.title(),
                parent_id=_key(kinds[parent], parent) if parent else None,
                position=position,
                graded=graded,
            )
        )
    dues = {
        "quiz1": "2026-03-10",
        "quiz2": "2026-03-17",
        "essay": "2026-03-12",
        "quiz3": "2026-03-27",
    }
    for name, due in dues.items():
        db.session.add(
            Assignment(
                course_id=course.id,
                lms_assignment_id=_key("sequential", name),
                name=f"Quiz {name}",
                due_at=datetime.fromisoformat(due + " 23:59").replace(tzinfo=UTC),
            )
        )
    people = {}
    tried = {"X": ["p1", "p3", "p4"], "Y": ["p4", "p5"], "Z": ["p2"]}
    for letter, problems in tried.items():
        person = Person(name=f"Learner {letter}")
        db.session.add(person)
        db.session.flush()
        people[letter] = person
        db.session.add(
            PersonIdentity(person_id=person.id, kind="openedx_username", value=letter.lower())
        )
        db.session.add(Enrollment(course_id=course.id, person_id=person.id, course_role="learner"))
        day = NOW.date() - timedelta(days=1)
        db.session.add(
            LearnerDay(
                course_id=course.id,
                person_id=person.id,
                day=day,
                events=3,
                first_time=NOW.timestamp() - 86400,
                last_time=NOW.timestamp() - 86000,
                gaps=orjson.dumps([2, 1, 400]),
            )
        )
        for problem in problems:
            db.session.add(
                LearnerResource(
                    course_id=course.id,
                    person_id=person.id,
                    resource_id=_key("problem", problem),
                    kind="problem",
                    first_time=NOW.timestamp() - 86400,
                    events=1,
                )
            )
    db.session.commit()
    return {"course": course, **people}


def test_openedx_graded_subsections_past_due_without_an_attempt_are_missing(
    app: Flask,
) -> None:
    with app.app_context():
        found = _openedx_class(app)
        course = found["course"]
        x, y, z = found["X"].id, found["Y"].id, found["Z"].id
        work = past_due_work(db.session, course, {x, y, z}, NOW)
        # quiz1 (p1, p2) and quiz2 (p3) are past due; the essay has no problems, practice is
        # not graded, quiz3 is not due yet. Y tried only practice and quiz3's problems.
        assert x not in work
        assert work[y].missing == ["Quiz quiz1", "Quiz quiz2"] and work[y].late == []
        assert work[z].missing == ["Quiz quiz2"]
        rows = {r["learner"]: r for r in learners.learners(db.session, course, key=b"k", now=NOW)}
        assert (rows["x"]["risk_level"], rows["y"]["risk_level"]) == ("", HIGH)
        assert rows["z"]["risk_level"] == WATCH
        assert rows["y"]["at_risk_reasons"] == [
            "2 assignments missing, past due with nothing handed in (Quiz quiz1, Quiz quiz2; "
            "rule: 2 or more)"
        ]


# --- properties over random classes ----------------------------------------------------------

WEEK = date(2026, 3, 9)  # the last complete week before TODAY
TODAY = date(2026, 3, 20)


@st.composite
def classes(draw: st.DrawFn) -> tuple[dict[int, Member], dict[int, Progress], dict[int, Work]]:
    """A random class: activity in the last complete week and the one before, last activity,
    time, completion, score and missing or late work per learner."""
    size = draw(st.integers(min_value=1, max_value=25))
    members: dict[int, Member] = {}
    progress: dict[int, Progress] = {}
    work: dict[int, Work] = {}
    required = draw(st.integers(min_value=0, max_value=20))
    for person_id in range(1, size + 1):
        weeks: dict[date, list[float]] = {}
        for week in (WEEK - timedelta(days=7), WEEK):
            if draw(st.booleans()):
                days = draw(st.integers(min_value=1, max_value=7))
                seconds = float(draw(st.integers(min_value=0, max_value=40_000)))
                events = draw(st.integers(min_value=1, max_value=500))
                weeks[week] = [seconds, days, events, seconds]
        ago = draw(st.none() | st.integers(min_value=0, max_value=40))
        score = draw(st.none() | st.floats(min_value=0, max_value=100, allow_nan=False))
        stats = SimpleNamespace(
            current_score=score, unposted_current_score=None, total_activity_seconds=None
        )
        members[person_id] = Member(
            person_id=person_id,
            learner=f"l{person_id}",
            name=f"L {person_id}",
            email=None,
            pseudonymous=False,
            last_active=None
            if ago is None
            else datetime.combine(TODAY, datetime.min.time(), UTC) - timedelta(days=ago),
            time_total=float(draw(st.integers(min_value=0, max_value=200_000))),
            active_days=sum(int(w[1]) for w in weeks.values()),
            weeks=weeks,
            lms=stats,
        )
        if required:
            progress[person_id] = Progress(draw(st.integers(0, required)), required)
        missing = draw(st.integers(min_value=0, max_value=3))
        late = draw(st.integers(min_value=0, max_value=3))
        work[person_id] = Work([f"m{i}" for i in range(missing)], [f"l{i}" for i in range(late)])
    return members, progress, work


thresholds = st.builds(
    course_settings.Settings,
    risk_inactive_days=st.integers(min_value=1, max_value=30),
    risk_time_percentile=st.integers(min_value=0, max_value=50),
    risk_completion_behind=st.integers(min_value=0, max_value=5),
    risk_pass_mark=st.none() | st.floats(min_value=0, max_value=100, allow_nan=False),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(klass=classes(), chosen=thresholds)
def test_no_learner_is_both_highly_engaged_and_high(
    klass: tuple[dict[int, Member], dict[int, Progress], dict[int, Work]],
    chosen: course_settings.Settings,
) -> None:
    members, progress, work = klass
    segments = week_segments(members, WEEK, {})  # Insights' segments of the random class
    capped = assess(
        members, progress, chosen, TODAY, work=work, segments=segments, segment_week=WEEK
    )
    plain = assess(members, progress, chosen, TODAY, work=work)
    for person_id, risk in capped.items():
        engaged = segments[person_id] == "highly_engaged"
        assert not (engaged and risk.level == HIGH)
        if engaged and plain[person_id].level == HIGH:
            # capped at watch, and the reasons say why
            assert risk.level == WATCH
            assert risk.reasons[:-1] == plain[person_id].reasons
            assert str(risk.reasons[-1]).startswith("Watch, not High: highly engaged")
        else:
            assert risk == plain[person_id]  # the cap changes nobody else


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(klass=classes(), chosen=thresholds)
def test_time_alone_never_flags_a_learner_ahead_on_completion_and_score(
    klass: tuple[dict[int, Member], dict[int, Progress], dict[int, Work]],
    chosen: course_settings.Settings,
) -> None:
    members, progress, work = klass
    risks = assess(members, progress, chosen, TODAY, work=work)
    # the tool's time, or the LMS's when nobody has activity (here: none, so no time at all)
    times, _what = at_risk.time_metric(members)
    threshold = percentile(list(times.values()), chosen.risk_time_percentile / 100) if times else 0
    done = sorted(p.done for p in progress.values())
    scores = [m.lms.current_score for m in members.values() if m.lms.current_score is not None]
    middle_done = (done[(len(done) - 1) // 2] + done[len(done) // 2]) / 2 if done else None
    middle_score = percentile(scores, 0.5) if scores else None
    for person_id, member in members.items():
        mine = progress.get(person_id)
        score = member.lms.current_score
        behind_done = mine is not None and middle_done is not None and mine.done < middle_done
        behind_score = score is not None and middle_score is not None and score < middle_score
        low_time = chosen.risk_time_percentile > 0 and times.get(person_id, threshold) < threshold
        has_time_reason = any(TIME_REASON in str(r) for r in risks[person_id].reasons)
        # little time is a reason exactly when the learner is also behind on one of the two
        assert has_time_reason == (low_time and (behind_done or behind_score))
        if not (behind_done or behind_score):
            # ahead (or level) on both: their level is what the other signals give alone
            without_time = assess(
                members,
                progress,
                course_settings.Settings(**{**vars(chosen), "risk_time_percentile": 0}),
                TODAY,
                work=work,
            )
            assert risks[person_id] == without_time[person_id]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    klass=classes(),
    chosen=thresholds,
    before=st.none()
    | st.floats(min_value=0, max_value=200_000, allow_nan=False)
    | st.integers(min_value=-90, max_value=90),
)
def test_a_moved_time_threshold_changes_only_the_levels_and_reasons_it_names(
    klass: tuple[dict[int, Member], dict[int, Progress], dict[int, Work]],
    chosen: course_settings.Settings,
    before: float | int | None,
) -> None:
    # The learner summary writes again only the rows time_reason_moved names when the
    # little-time threshold is all that moved: every other learner's level and reasons (their
    # words included) must be the same under the old threshold as under the new.
    members, progress, work = klass
    limits = at_risk.thresholds(members, progress, chosen)
    if isinstance(before, int):  # a threshold a little off the class's (its words may differ)
        before = None if limits.time is None else max(0.0, limits.time + before)
    now = assess(members, progress, chosen, TODAY, work=work, limits=limits)
    then = assess(members, progress, chosen, TODAY, work=work, limits=limits._replace(time=before))
    differ = {p for p in members if now[p] != then[p]}
    assert differ <= at_risk.time_reason_moved(members, progress, limits, before)


# --- the real demo ---------------------------------------------------------------------------


def test_the_demo_learner_keeping_up_with_little_time_is_not_flagged(app: Flask) -> None:
    with app.app_context():
        platform = ensure_registered(dev_platform())
        course = load_demo(platform, DEMO_CONTEXT, extra_people=dev_people())
        load_demo_activity(db.session, platform, course)
        rows = learners.learners(db.session, course, key=b"k")
    assert len(rows) == 25
    p15 = percentile([r["time_total"] for r in rows], 0.15)
    done = percentile([r["completion"] for r in rows], 0.5)
    score = percentile([r["current_score"] for r in rows], 0.5)
    keeping_up = {
        r["name"]: r
        for r in rows
        if r["completion"] >= done and r["current_score"] >= score and r["time_total"] < p15
    }
    # Niklaus Wirth: 92 % of items done, a score of 96 %, 11 minutes in six weeks (the old rule
    # flagged him, in the bottom 15 % of the class's time).
    wirth = keeping_up["Niklaus Wirth"]
    assert wirth["completion"] > 0.9 and wirth["current_score"] > 90
    assert (wirth["at_risk"], wirth["risk_level"], wirth["at_risk_reasons"]) == (False, "", [])
    for row in keeping_up.values():
        assert not any(TIME_REASON in str(reason) for reason in row["at_risk_reasons"]), row
    # The rule no longer flags a fixed share: the levels follow the class's own signals.
    assert all(r["at_risk"] == (r["risk_level"] in (HIGH, WATCH)) for r in rows)


# --- the reports' fields ---------------------------------------------------------------------


def test_report_fields_carry_the_level(app: Flask, klass: dict[str, Any]) -> None:
    fields = REPORTS["learners"].fields
    assert fields[fields.index("at_risk") :][:3] == ("at_risk", "risk_level", "at_risk_reasons")
    assert REPORTS["at-risk"].fields == ("course", "learner", "risk_level", "reasons")
    course = klass["course"]
    table = learners.learners(db.session, course, key=b"k", now=NOW)
    report = learners.at_risk_report(db.session, course, key=b"k", now=NOW)
    for row in table:
        assert set(row) == set(fields)
        assert row["risk_level"] in ("", HIGH, WATCH)
        assert row["at_risk"] == (row["risk_level"] != "")
        assert bool(row["at_risk_reasons"]) == row["at_risk"]
    # the at-risk report: exactly the learners at risk, with the same level and reasons
    assert [(r["learner"], r["risk_level"], r["reasons"]) for r in report] == [
        (r["learner"], r["risk_level"], r["at_risk_reasons"])
        for r in sorted(table, key=lambda r: r["learner"])
        if r["at_risk"]
    ]
    assert {r["risk_level"] for r in report} == {HIGH, WATCH}
    assert at_risk.counts(learners.class_data(db.session, course, key=b"k", now=NOW).risks) == {
        HIGH: 3,
        WATCH: 1,
    }
