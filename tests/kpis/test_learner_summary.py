"""The learner summary (learner_summary) holds what the KPI functions compute from the stored
data, after any order of ingests, settings changes and syncs (a property test), and sorting,
filtering and paging it in the database gives what sorting the KPI rows in Python gives, for
every column, direction and filter."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text, update

from lti_tool import platforms
from lti_tool.activity.rollups import rebuild_learners, summaries_changed
from lti_tool.extensions import db
from lti_tool.jobs import runs
from lti_tool.kpis import course_settings, learner_summary, page_summary
from lti_tool.kpis.enrollment import EVENTS as ENROLLMENT_EVENTS
from lti_tool.kpis.learners import class_data, learner_rows
from lti_tool.kpis.roster import totals_of
from lti_tool.launch import records
from lti_tool.models import (
    ActivityBlock,
    Assignment,
    Course,
    CourseSettings,
    Enrollment,
    LearnerActivity,
    LearnerSummary,
    LearnerSummaryState,
    LmsLearnerStats,
    PageSummary,
    Person,
    Section,
    SectionMember,
    Submission,
    SyncRun,
)
from lti_tool.models.types import utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.people.roles import course_role
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.learners import (
    RISK_FIRST,
    SORTS,
    apply_filters,
    risk_first,
    sort_rows,
)
from tests.helpers.api import lab, make_token, post_events
from tests.helpers.client import https_client
from tests.helpers.database import make_app
from tests.helpers.problems import PROBLEM, part_id, problem_check
from tests.helpers.tracking_logs import COURSE, VIDEO, days_ago, event, log_course

NAMES = ("Ada", "ada", "Émile", "Zoë", "bob", None, "Bob", "ß-Straße")
SECTIONS = ("Sec 1", "Sec 2", "sec 10")
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ZONES = ("UTC", "Europe/Oslo", "America/Bogota", "Pacific/Auckland")
#: Enrollment modes, one the pipeline knows by no other name.
MODES = ("audit", "verified", "no-id-professional")


@st.composite
def ingests(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A few events of a few learners on some of the last 40 days: pages, videos, problems,
    enrollment changes."""
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        user = draw(st.integers(1, 7))
        ago, second = draw(st.integers(0, 40)), draw(st.integers(0, 86399 - 130))
        stamp = days_ago(ago, second)
        kind = draw(st.sampled_from(["page", "page", "video", "problem", "answer", "enrollment"]))
        if kind == "video":
            # A play, and sometimes its pause further on: a viewing of part of the video.
            start = draw(st.integers(0, 110))
            line = event(
                stamp,
                "play_video",
                user=user,
                username=f"u{user}",
                source="browser",
                payload={"id": VIDEO, "code": "html5", "duration": 120, "currentTime": start},
            )
            if draw(st.booleans()):
                watched = draw(st.integers(1, 130))
                lines.append(line)
                line = event(
                    days_ago(ago, second + watched),
                    "pause_video",
                    user=user,
                    username=f"u{user}",
                    source="browser",
                    payload={
                        "id": VIDEO,
                        "code": "html5",
                        "duration": 120,
                        "currentTime": start + watched,
                    },
                )
        elif kind == "problem":
            line = event(stamp, "problem_check", user=user, username=f"u{user}")
        elif kind == "answer":
            # A check of one of two problems with its answer: what the problems page counts.
            problem = PROBLEM if draw(st.booleans()) else PROBLEM.replace("a0e", "b1f")
            line = problem_check(
                stamp,
                {
                    part_id(problem, 0): {
                        "answer": draw(st.sampled_from(["A", "B", "C"])),
                        "correct": draw(st.booleans()),
                    }
                },
                user=user,
                username=f"u{user}",
                problem=problem,
                attempts=draw(st.integers(1, 3)),
            )
        elif kind == "enrollment":
            # What the enrollment page counts (its history kept while nobody's changes move).
            mode = draw(st.sampled_from(MODES))
            line = event(
                stamp,
                draw(st.sampled_from(sorted(ENROLLMENT_EVENTS))),
                user=user,
                username=f"u{user}",
                payload={"user_id": user, "course_id": COURSE, "mode": mode},
            )
        else:
            line = event(stamp, f"/courses/{COURSE}/courseware/w/{user % 3}/", user=user)
        lines.append(line)
    return ("ingest", lines)


@st.composite
def settings_changes(draw: st.DrawFn) -> tuple[str, course_settings.Settings]:
    """New course settings: time zone, cutoff, and the at-risk thresholds."""
    return (
        "settings",
        course_settings.Settings(
            time_zone=draw(st.sampled_from(ZONES)),
            time_cutoff_minutes=draw(st.sampled_from([5, 30, 60])),
            risk_inactive_days=draw(st.integers(1, 30)),
            risk_time_percentile=draw(st.sampled_from([0, 15, 50])),
            risk_completion_behind=draw(st.integers(0, 3)),
            risk_pass_mark=draw(st.sampled_from([None, 50.0, 70.5])),
        ),
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """An event-API batch of a few lab messages of a few lab users on the last 10 days."""
    messages = []
    for _ in range(draw(st.integers(1, 6))):
        stamp = days_ago(draw(st.integers(0, 10)), draw(st.integers(0, 86399)))
        messages.append(lab(user=f"lab{draw(st.integers(1, 4))}", stamp=stamp, exp="pendulum"))
    return ("batch", messages)


@st.composite
def launches(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A launch of one of a few people: a learner or staff, with or without a (new) name."""
    return (
        "launch",
        {
            "sub": f"sub-{draw(st.integers(1, 4))}",
            "name": draw(st.sampled_from([None, "Ada", "Grace Hopper", "Zoë"])),
            "role": draw(st.sampled_from([LEARNER_ROLE, LEARNER_ROLE, INSTRUCTOR_ROLE])),
        },
    )


@st.composite
def syncs(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """What a roster and grade sync brings for some of the people known: names, an enrollment
    (a learner, dropped, or staff), sections, the LMS's statistics, missing or late work."""
    people = []
    for slot in draw(st.lists(st.integers(0, 7), max_size=6, unique=True)):
        people.append(
            {
                "slot": slot,
                "name": draw(st.sampled_from(NAMES)),
                "email": draw(st.sampled_from([None, f"p{slot}@example.edu", "Shared@X.EDU"])),
                "role": draw(st.sampled_from(["learner", "learner", "learner", "instructor"])),
                "status": draw(st.sampled_from(["active", "active", "inactive"])),
                "sections": draw(st.lists(st.sampled_from(SECTIONS), max_size=2, unique=True)),
                "score": draw(st.sampled_from([None, 20.0, 55.5, 70.5, 91.0])),
                "seconds": draw(st.sampled_from([None, 0, 600, 7200])),
                "days_ago": draw(st.sampled_from([None, 0, 3, 20])),
                "missing": draw(st.integers(0, 2)),
                "late": draw(st.integers(0, 2)),
            }
        )
    return ("sync", people)


def _fake_sync(people: list[dict[str, Any]]) -> runs.Runner:
    """A sync runner writing `people`'s roster, sections, statistics and work (as a sync
    writes into the session, uncommitted), for execute_run to record and commit."""

    def run(session: Any, course: Course, **_options: Any) -> tuple[dict[str, Any], int]:
        known = sorted(session.scalars(select(Person.id)))
        wanted = max((p["slot"] for p in people), default=-1) + 1
        for _new in range(wanted - len(known)):  # people the LMS knows before any activity
            person = Person()
            session.add(person)
            session.flush()
            known.append(person.id)
        assignments = []
        for number in range(2):
            lms_id = f"a{number}"
            found = session.scalar(
                select(Assignment).where(
                    Assignment.course_id == course.id, Assignment.lms_assignment_id == lms_id
                )
            )
            if found is None:
                found = Assignment(
                    course_id=course.id,
                    lms_assignment_id=lms_id,
                    name=f"Essay {number}",
                    due_at=utcnow() - timedelta(days=2 + number),
                    position=number,
                )
                session.add(found)
                session.flush()
            assignments.append(found)
        for spec in people:
            person_id = known[spec["slot"]]
            person = session.get(Person, person_id)
            person.name, person.email = spec["name"], spec["email"]
            enrollment = session.scalar(
                select(Enrollment).where(
                    Enrollment.course_id == course.id, Enrollment.person_id == person_id
                )
            )
            if enrollment is None:
                enrollment = Enrollment(course_id=course.id, person_id=person_id, source="nrps")
                session.add(enrollment)
            enrollment.course_role, enrollment.status = spec["role"], spec["status"]
            for name in spec["sections"]:
                section = session.scalar(
                    select(Section).where(Section.course_id == course.id, Section.name == name)
                )
                if section is None:
                    section = Section(course_id=course.id, lms_section_id=name, name=name)
                    session.add(section)
                    session.flush()
                if session.get(SectionMember, (section.id, person_id)) is None:
                    session.add(SectionMember(section_id=section.id, person_id=person_id))
            stats = session.get(LmsLearnerStats, (course.id, person_id))
            if stats is None:
                stats = LmsLearnerStats(course_id=course.id, person_id=person_id, source="canvas")
                session.add(stats)
            stats.current_score = spec["score"]
            stats.total_activity_seconds = spec["seconds"]
            days = spec["days_ago"]
            stats.last_activity_at = None if days is None else utcnow() - timedelta(days=days)
            for number, assignment in enumerate(assignments):
                found = session.scalar(
                    select(Submission).where(
                        Submission.assignment_id == assignment.id,
                        Submission.person_id == person_id,
                    )
                )
                if found is None:
                    found = Submission(assignment_id=assignment.id, person_id=person_id)
                    session.add(found)
                found.missing = number < spec["missing"]
                found.late = not found.missing and number < spec["late"]
        return {"people": len(people)}, 1

    return run


def _apply(
    app: Flask, step: tuple[str, Any], folder: Path, number: int, token: str = "", platform: int = 0
) -> None:
    """One change, made as the tool makes it (each commits)."""
    kind, value = step
    if kind == "batch":
        answer = post_events(https_client(app), token, value)
        assert answer.status_code == 200, answer.json
        db.session.expire_all()
    elif kind == "launch":
        # What an accepted launch writes for the person (lti_tool.launch.views.launch).
        claims = {"sub": value["sub"], **({"name": value["name"]} if value["name"] else {})}
        roles = [value["role"]]
        records.record_membership(log_course(), platform, claims, roles, course_role(roles))
        db.session.commit()
    elif kind == "ingest":
        log = folder / f"{number}.log"
        log.write_text("".join(line + "\n" for line in value), encoding="utf-8")
        ingest_tracking_logs(db.session, [log], None, workers=0)
    elif kind == "settings":
        # What the settings page does on save (lti_tool.views.settings.save_settings).
        course = log_course()
        before = course_settings.load(db.session, course).time_zone
        course_settings.save(db.session, course, value)
        if value.time_zone != before:
            learners = db.session.scalars(
                select(ActivityBlock.person_id)
                .where(ActivityBlock.course_id == course.id)
                .distinct()
            )
            rebuild_learners(db.session, course.id, list(learners))
        summaries_changed(db.session, [course.id])
        db.session.commit()
    else:
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(runs.RUNNERS, "nrps", _fake_sync(value))
            run = runs.start_run(db.session, log_course(), "nrps")
            done = runs.execute_run(db.session, run.id)
            assert done.status == "succeeded", done.error


def _stored(course: Course) -> list[dict[str, Any]]:
    """The summary's rows as stored (read without refreshing them)."""
    return learner_summary.rows(db.session, course)


def _computed(course: Course, key: bytes) -> list[dict[str, Any]]:
    """The learners table's rows as the KPI functions compute them from the stored data now."""
    return learner_rows(class_data(db.session, course, key=key))


def _same(stored: list[dict[str, Any]], computed: list[dict[str, Any]]) -> None:
    # Reasons compare by their text in English (LazyText); the lists as a whole, in order.
    assert [{**r, "at_risk_reasons": list(map(str, r["at_risk_reasons"]))} for r in stored] == [
        {**r, "at_risk_reasons": list(map(str, r["at_risk_reasons"]))} for r in computed
    ]


def _check_and_refresh(course: Course, key: bytes, step: str, by: str) -> None:
    """Rows no reader would refresh are already what the KPIs compute; rows a reader would
    refresh are, once the refresh job or a reader has refreshed them."""
    db.session.expire_all()
    computed = _computed(course, key)
    state = db.session.get(LearnerSummaryState, course.id)
    mark, _settings, _today = learner_summary.fingerprint(db.session, course, key, utcnow())
    behind = state is None or state.fingerprint != mark or state.stale_at is not None
    if not behind:
        # Nothing tells a reader or the job to refresh: what is stored must be right as it is.
        _same(_stored(course), computed)
    if step in ("ingest", "settings", "sync") and computed:
        # Large writes still write the rows in their own commit.
        assert not behind, f"stale after {step}"
    if by == "job":
        # The job alone: every write either wrote the rows or marked them.
        learner_summary.refresh_stale(db.session, key)
    else:
        learner_summary.current(db.session, course, key=key)
    db.session.commit()
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, course.id)
    # (A class the syncs left without learners keeps no row at all.)
    assert (state is None) == (not computed)
    if state is not None:
        mark, _settings, _today = learner_summary.fingerprint(db.session, course, key, utcnow())
        assert state.fingerprint == mark and state.stale_at is None, f"stale after {step}"
        _kept_totals_are_the_days(course, key, step)
    _same(_stored(course), computed)


def _rounded(value: Any) -> Any:
    """Floats rounded to a millionth, in lists too: sums of the same days in another order."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def _kept_totals_are_the_days(course: Course, key: bytes, step: str) -> None:
    """The activity totals the refresh kept for the next one are, for every learner of the
    class and them alone, what adding up their learner-days gives now."""
    members = class_data(db.session, course, key=key).members
    rows = db.session.execute(
        select(LearnerActivity.person_id, LearnerActivity.totals).where(
            LearnerActivity.course_id == course.id
        )
    )
    kept = {person: totals for person, totals in rows}
    assert kept.keys() == members.keys(), step  # the class's learners, as the rows
    for person, member in members.items():
        assert _rounded(json.loads(kept[person])) == _rounded(totals_of(member)), step


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=ingests(),
    steps=st.lists(
        st.tuples(
            st.one_of(ingests(), settings_changes(), syncs(), batches(), launches()),
            st.sampled_from(["job", "reader"]),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_the_summary_is_what_the_kpis_compute_after_any_changes(
    tmp_path_factory: Any, first: tuple[str, list[str]], steps: list[tuple[tuple[str, Any], str]]
) -> None:
    # Any mix of ingests, settings, syncs, event-API batches and launches: once refreshed, by
    # the refresh job or by a reader, the rows are what the KPI functions compute.
    folder = tmp_path_factory.mktemp("summary")
    app = make_app(folder)
    try:
        with app.app_context():
            key = pseudonym_key()  # made once, as the first page or launch makes it
            _apply(app, first, folder, 0)
            platform = platforms.add_platform(db.session, "LMS", "https://lms.example.edu").id
            db.session.commit()
            token = make_token(app.test_cli_runner(), "lab", course=COURSE)
            _check_and_refresh(log_course(), key, first[0], "reader")
            for number, (step, by) in enumerate(steps, start=1):
                _apply(app, step, folder, number, token, platform)
                _check_and_refresh(log_course(), key, step[0], by)
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_event_batch_marks_the_summary_stale_and_the_reader_or_job_writes_it(
    tmp_path: Path, app: Flask, client: Any, runner: Any
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        _apply(app, ("ingest", [event(days_ago(1, 3600), user=1, username="u1")]), folder, 0)
        course_id = log_course().id
        written = db.session.get(LearnerSummaryState, course_id)
        assert written is not None and written.stale_at is None
        first_mark, computed_at = written.fingerprint, written.computed_at
    token = make_token(runner, "lab", course=COURSE)
    for reader in ("page", "job"):
        user = f"lab-{reader}"
        answer = post_events(client, token, [lab(user=user, stamp=days_ago(0, 60), exp="x")])
        assert answer.status_code == 200 and answer.json["stored"] == 1
        with app.app_context():
            course = log_course()
            state = db.session.get(LearnerSummaryState, course_id)
            assert state is not None
            # The batch's commit rewrote nothing: same rows, same fingerprint, marked stale.
            assert (state.fingerprint, state.computed_at) == (first_mark, computed_at)
            assert state.stale_at is not None
            assert user not in [r["learner"] for r in _stored(course)]
            assert user in [r["learner"] for r in _computed(course, key)]
            if reader == "page":
                learner_summary.current(db.session, course, key=key)
            else:
                assert learner_summary.refresh_stale(db.session, key) == 1
            db.session.commit()
            db.session.expire_all()
            state = db.session.get(LearnerSummaryState, course_id)
            assert state is not None and state.stale_at is None
            assert user in [r["learner"] for r in _stored(course)]
            _same(_stored(course), _computed(course, key))
            first_mark, computed_at = state.fingerprint, state.computed_at


def test_the_job_refreshes_only_the_stale_courses(tmp_path: Path, app: Flask) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        _apply(app, ("ingest", [event(days_ago(1, 3600), user=1, username="u1")]), folder, 0)
        stale = log_course()
        quiet = Course(lms_course_id="quiet", title="Quiet")
        db.session.add(quiet)
        db.session.flush()
        person = Person(name="Quiet One")
        db.session.add(person)
        db.session.flush()
        db.session.add(Enrollment(course_id=quiet.id, person_id=person.id, course_role="learner"))
        db.session.commit()
        learner_summary.current(db.session, quiet, key=key)
        db.session.commit()
        quiet_before = db.session.get(LearnerSummaryState, quiet.id)
        assert quiet_before is not None
        quiet_at = quiet_before.computed_at
        assert learner_summary.stale_courses(db.session) == []
        assert learner_summary.refresh_stale(db.session, key) == 0
        learner_summary.mark_stale(db.session, [stale.id])
        db.session.commit()
        assert learner_summary.stale_courses(db.session) == [stale.id]
        assert learner_summary.refresh_stale(db.session, key) == 1
        db.session.expire_all()
        assert learner_summary.stale_courses(db.session) == []
        after = db.session.get(LearnerSummaryState, quiet.id)
        assert after is not None and after.computed_at == quiet_at  # not rewritten
        refreshed = db.session.get(LearnerSummaryState, stale.id)
        assert refreshed is not None and refreshed.computed_at > quiet_at


def test_a_launch_that_changes_nothing_shown_leaves_the_rows_alone(
    tmp_path: Path, app: Flask
) -> None:
    # A launch sets the enrollment's launch time: the fingerprint does not move for that, and
    # the rows are not marked; a new name or role does mark them.
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        _apply(app, ("ingest", [event(days_ago(1, 3600), user=1, username="u1")]), folder, 0)
        platform = platforms.add_platform(db.session, "LMS", "https://lms.example.edu").id
        db.session.commit()
        newcomer = {"sub": "s1", "name": "Ada", "role": LEARNER_ROLE}
        _apply(app, ("launch", newcomer), folder, 1, platform=platform)
        course = log_course()
        assert learner_summary.stale_courses(db.session) == [course.id]  # a new learner
        learner_summary.current(db.session, course, key=key)
        db.session.commit()
        first = db.session.get(LearnerSummaryState, course.id)
        assert first is not None
        mark = first.fingerprint
        relaunch = {"sub": "s1", "name": "Ada", "role": LEARNER_ROLE}
        _apply(app, ("launch", relaunch), folder, 2, platform=platform)
        db.session.expire_all()
        again = db.session.get(LearnerSummaryState, course.id)
        assert again is not None and again.stale_at is None
        now_mark, _settings, _today = learner_summary.fingerprint(db.session, course, key, utcnow())
        assert now_mark == mark
        _same(_stored(course), _computed(course, key))
        renamed = {"sub": "s1", "name": "Ada King", "role": LEARNER_ROLE}
        _apply(app, ("launch", renamed), folder, 3, platform=platform)
        db.session.expire_all()
        marked = db.session.get(LearnerSummaryState, course.id)
        assert marked is not None and marked.stale_at is not None
        learner_summary.current(db.session, course, key=key)
        db.session.commit()
        assert "Ada King" in [r["name"] for r in _stored(course)]


def test_a_launch_naming_a_learner_the_logs_knew_marks_the_rows_stale_not_rewritten(
    tmp_path: Path, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Open edX shares the username: the launch links the LTI user to the logs' learner, whose
    # name the rows show. One person's launch does not pay the whole course's refresh (over a
    # minute at 100,000 learners): the job or the next reader writes the rows.
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        platform = platforms.add_platform(db.session, "LMS", "https://lms.example.edu")
        db.session.commit()
        log = folder / "0.log"
        log.write_text(event(days_ago(1, 3600), user=1, username="u1") + "\n", encoding="utf-8")
        ingest_tracking_logs(db.session, [log], platform, workers=0)
        course = log_course()
        learner_summary.current(db.session, course, key=key)
        db.session.commit()
        refreshed: list[int] = []
        real = learner_summary.refresh
        monkeypatch.setattr(
            learner_summary, "refresh", lambda *a, **k: refreshed.append(1) or real(*a, **k)
        )
        claims = {"sub": "s1", "name": "Ada Lovelace", "preferred_username": "u1"}
        roles = [LEARNER_ROLE]
        person = records.record_membership(course, platform.id, claims, roles, course_role(roles))
        db.session.commit()
        assert refreshed == []  # nothing rewritten in the launch
        db.session.expire_all()
        state = db.session.get(LearnerSummaryState, course.id)
        assert state is not None and state.stale_at is not None
        assert "Ada Lovelace" not in [r["name"] for r in _stored(course)]
        assert learner_summary.refresh_stale(db.session, key) == 1
        db.session.commit()
        rows = _stored(course)
        assert [r["name"] for r in rows if r["person"] == person.id] == ["Ada Lovelace"]
        assert len(rows) == 1  # the logs' learner and the launch's are one person


def _sorts_whole_parts(plan: list[str], postgres: bool) -> bool:
    """Whether a query plan sorts its rows whole (a sort within groups of ties: no)."""
    if postgres:
        return any(re.match(r"\s*(->\s*)?Sort  \(", line) for line in plan)
    return any("TEMP B-TREE FOR ORDER BY" in line for line in plan)


def test_a_sorted_learners_pages_empty_values_read_their_index_in_order(app: Flask) -> None:
    # A sorted page's empty values (its last part, by name) read the column's index in order,
    # whatever the planner believes of the table: PostgreSQL found no order in `IS NULL`
    # and, the table written but not yet analyzed (a large course's first refresh), sorted
    # the whole class's empty values by name (36 ms a page at 100,000 learners: the bench's
    # sort by sections failed its p95).
    with app.app_context():
        course = Course(title="Large")
        db.session.add(course)
        db.session.flush()
        people = range(1, 5001)
        db.session.execute(insert(Person), [{"id": p, "name": f"P{p}"} for p in people])
        rows = [
            {"course_id": course.id, "person_id": p, "learner": str(p), "name": f"P{p}",
             "name_key": f"p{p}", "sections": "[]", "search": "", "time_7d": 0.0,
             "time_total": 0.0, "sessions": 0, "videos_watched": 0, "risk_level": "",
             "risk_rank": 0, "reasons": "[]"}
            for p in people
        ]  # fmt: skip
        db.session.execute(insert(LearnerSummary), rows)
        postgres = db.session.connection().dialect.name == "postgresql"
        table = LearnerSummary.__table__
        for key, descending in itertools.product(SORTS, (False, True)):
            # The empty values' part (of a column that may be empty), the one every page of a
            # class without sections, scores or activity reads.
            for condition, order_by in learner_summary._order(key, descending)[1:]:
                query = (
                    select(table.c.person_id)
                    .where(table.c.course_id == course.id, *condition)
                    .order_by(*order_by)
                    .limit(50)
                )
                sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
                explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
                plan = [str(row[-1]) for row in db.session.execute(text(explain + sql))]
                assert not _sorts_whole_parts(plan, postgres), (key, descending, plan)


def _filters(**asked: str) -> dict[str, str]:
    return {"q": "", "section": "", "segment": "", "risk": "", "level": "", **asked}


def test_sorting_and_filtering_in_the_database_is_the_python_sort(
    tmp_path: Path, app: Flask
) -> None:
    # A class with ties, empty values, names differing only by case and accents, sections,
    # segments and risk levels: every column, both directions, every filter, several pages.
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        lines = []
        for user in range(1, 15):
            for day in range(user % 5, 30, 3 + user % 4):
                lines.append(event(days_ago(day, 36000), user=user, username=f"u{user}"))
                lines.append(
                    event(days_ago(day, 36000 + 60 * user), user=user, username=f"u{user}")
                )
        _apply(app, ("ingest", lines), folder, 0)
        people = [
            {
                "slot": slot,
                "name": NAMES[slot % len(NAMES)],
                "email": None if slot % 3 == 0 else f"P{slot}@example.edu",
                "role": "learner",
                "status": "active",
                "sections": [SECTIONS[slot % 3]] if slot % 4 else [],
                "score": None if slot % 5 == 0 else float(slot % 4 * 20),
                "seconds": None,
                "days_ago": None,
                "missing": slot % 3,
                "late": slot % 2,
            }
            for slot in range(0, 12)
        ]
        _apply(app, ("sync", people), folder, 1)
        course = log_course()
        learner_summary.current(db.session, course, key=key)
        python = _computed(course, key)
        assert len(python) >= 12
        assert {r["risk_level"] for r in python} >= {"high", ""}
        sections = sorted({s for r in python for s in r["sections"]})
        segments = sorted({r["segment"] for r in python if r["segment"]})
        assert learner_summary.sections(db.session, course) == sections
        asked = [
            _filters(),
            _filters(risk="1"),
            _filters(level="high"),
            _filters(level="watch"),
            *(_filters(section=s) for s in sections),
            *(_filters(segment=s) for s in segments),
            _filters(q="ada"),
            _filters(q="EXAMPLE"),
            _filters(q="%"),
            _filters(q="u1"),
            _filters(q="straße"),
            _filters(risk="1", section=sections[0]),
        ]
        orders = [(key_, desc) for key_ in SORTS for desc in (False, True)]
        for filters, (order, descending) in itertools.product(asked, orders):
            expected = sort_rows(apply_filters(python, filters), order, descending)
            found = learner_summary.rows(db.session, course, filters, order, descending)
            _same(found, expected)
            assert learner_summary.count(db.session, course, filters) == len(expected)
            # Paged: the pages put together are the whole.
            pages = [
                learner_summary.rows(
                    db.session, course, filters, order, descending, offset=start, limit=4
                )
                for start in range(0, len(expected), 4)
            ]
            _same([r for page in pages for r in page], expected)
        for filters in asked:
            _same(
                learner_summary.rows(db.session, course, filters, RISK_FIRST),
                apply_filters(risk_first(python), filters),
            )
            # One learner's row (their page: read alone) and a few learners' rows.
            passing = apply_filters(python, filters)
            for row in python:
                one = learner_summary.rows(db.session, course, filters, people={row["person"]})
                _same(one, [r for r in passing if r["person"] == row["person"]])
            few = {r["person"] for r in python[:3]}
            _same(
                learner_summary.rows(db.session, course, filters, people=few),
                sort_rows([r for r in passing if r["person"] in few], "name", False),
            )
        # The grades and content pages' learners and scores, of the class and of each section.
        assert any(r["current_score"] is not None for r in python)
        for section in ["", *sections]:
            mine = [r for r in python if not section or section in r["sections"]]
            found = learner_summary.member_ids(db.session, course, section)
            assert found == {r["person"] for r in mine}
            assert learner_summary.score_values(db.session, course, section) == sorted(
                r["current_score"] for r in mine if r["current_score"] is not None
            )


def test_a_reader_refreshes_rows_the_day_or_the_data_left_behind(
    tmp_path: Path, app: Flask
) -> None:
    # A change no commit hook saw (a launch adding a learner) and the next day both move the
    # fingerprint: the next reader writes the rows again.
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        _apply(app, ("ingest", [event(days_ago(1, 3600), user=1, username="u1")]), folder, 0)
        course = log_course()
        assert [r["learner"] for r in _stored(course)] == ["u1"]
        newcomer = Person(name="New Comer")
        db.session.add(newcomer)
        db.session.flush()
        db.session.add(
            Enrollment(course_id=course.id, person_id=newcomer.id, course_role="learner")
        )
        db.session.commit()
        assert len(_stored(course)) == 1  # nothing refreshed it yet
        state = learner_summary.current(db.session, course, key=key)
        assert state.learners == 2
        _same(_stored(course), _computed(course, key))
        tomorrow = utcnow() + timedelta(days=1)
        before = db.session.get(LearnerSummaryState, course.id)
        assert before is not None
        first_mark = before.fingerprint
        learner_summary.current(db.session, course, key=key, now=tomorrow)
        db.session.expire_all()
        after = db.session.get(LearnerSummaryState, course.id)
        assert after is not None and after.fingerprint != first_mark
        assert after.computed_at == tomorrow.astimezone(UTC).replace(tzinfo=UTC)
        _same(_stored(course), learner_rows(class_data(db.session, course, key=key, now=tomorrow)))


def test_reasons_survive_the_table_in_every_language(tmp_path: Path, app: Flask) -> None:
    # Reasons are stored as their messages and values, and translated where shown.
    from lti_tool.i18n.catalogs import translations_for

    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        _apply(app, ("ingest", [event(days_ago(20, 3600), user=1, username="u1")]), folder, 0)
        course = log_course()
        stored = {r["person"]: r for r in _stored(course)}
        computed = {r["person"]: r for r in _computed(course, key)}
        assert any(r["at_risk_reasons"] for r in computed.values())
        from lti_tool.i18n import text

        for language in ("en", "es", "nb"):
            with text.using(translations_for(language)):
                for person, row in computed.items():
                    assert list(map(str, stored[person]["at_risk_reasons"])) == list(
                        map(str, row["at_risk_reasons"])
                    )
        with text.using(translations_for("nb")):
            shown = str(
                next(r for r in stored.values() if r["at_risk_reasons"])["at_risk_reasons"][0]
            )
        assert "no activity" not in shown


def test_rows_empty_before_anything(tmp_path: Path, app: Flask) -> None:
    with app.app_context():
        course = Course(lms_course_id="empty", title="Empty")
        db.session.add(course)
        db.session.commit()
        state = learner_summary.current(db.session, course, key=b"k", now=datetime.now(UTC))
        assert (state.learners, state.anyone_at_risk) == (0, False)
        assert learner_summary.rows(db.session, course) == []


def test_the_marks_read_holds_the_settings_as_stored(tmp_path: Path, app: Flask) -> None:
    # read_marks reads the settings in its one statement: the same Settings as load's, for a
    # course without any (the defaults) and for one with every field saved.
    with app.app_context():
        course = Course(lms_course_id="set", title="Set")
        db.session.add(course)
        db.session.commit()
        now = datetime.now(UTC)
        assert learner_summary.read_marks(db.session, course, now).settings == (
            course_settings.Settings()
        )
        saved = CourseSettings(
            course_id=course.id,
            time_zone="Europe/Oslo",
            language="nb",
            starts_on=datetime(2026, 1, 5).date(),
            ends_on=datetime(2026, 6, 1).date(),
            time_cutoff_minutes=20,
            privacy_floor=3,  # below the floor: still reads as 5
            risk_inactive_days=10,
            risk_time_percentile=25,
            risk_completion_behind=3,
            risk_pass_mark=12.5,
            student_views=["grades", "time"],
        )
        db.session.add(saved)
        db.session.commit()
        db.session.expunge(saved)  # load reads it again
        marks = learner_summary.read_marks(db.session, course, now)
        assert marks.settings == course_settings.load(db.session, course)
        assert marks.settings.time_zone == "Europe/Oslo" and marks.settings.privacy_floor == 5
        assert marks.settings.student_views == ("time", "grades")
        assert marks.settings.risk_pass_mark == 12.5
        # Its data marks are those data_marks reads alone, value for value and type for type
        # (the page summaries' digests take either), with a roster and a sync run.
        person = Person()
        db.session.add(person)
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, person_id=person.id, course_role="learner"))
        db.session.add(
            SyncRun(course_id=course.id, source="nrps", status="ok", finished_at=utcnow())
        )
        db.session.commit()
        marks = learner_summary.read_marks(db.session, course, now)
        alone = db.session.execute(select(*learner_summary.data_marks(course))).one()
        assert repr(marks.data) == repr(tuple(alone))
        assert all(value is not None for value in marks.data)


def test_the_state_read_with_the_marks_is_trusted_only_while_it_says_current(
    tmp_path: Path, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page's marks carry the summaries' state as read with them: when it says the rows are
    # current, no other read of it; once this request has written them the marks' state is old,
    # and they are not written twice.
    with app.app_context():
        course = Course(lms_course_id="st", title="St")
        learner = Person(name="Ada")
        db.session.add_all([course, learner])
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, person_id=learner.id, course_role="learner"))
        db.session.commit()
        now = datetime.now(UTC)
        written: list[int] = []
        real = learner_summary.refresh
        monkeypatch.setattr(
            learner_summary, "refresh", lambda *a, **k: written.append(1) or real(*a, **k)
        )
        marks = learner_summary.read_marks(db.session, course, now)
        assert marks.state is None  # never written
        first = learner_summary.current(db.session, course, key=b"k", now=now, marks=marks)
        again = learner_summary.current(db.session, course, key=b"k", now=now, marks=marks)
        assert written == [1] and first.learners == again.learners == 1
        db.session.commit()
        marks = learner_summary.read_marks(db.session, course, now)
        assert marks.state is not None and marks.state.learners == 1
        state_reads: list[int] = []
        real_state = learner_summary._state
        monkeypatch.setattr(
            learner_summary, "_state", lambda *a: state_reads.append(1) or real_state(*a)
        )
        assert learner_summary.current(db.session, course, key=b"k", now=now, marks=marks).mark
        assert (written, state_reads) == ([1], [])


def test_refresh_summaries_command_writes_the_rows_again(
    tmp_path: Path, app: Flask, runner: Any
) -> None:
    # After an upgrade the table is empty: the command fills it from the stored data.
    folder = tmp_path / "class"
    folder.mkdir()
    with app.app_context():
        key = pseudonym_key()
        lines = [event(days_ago(2, 3600 * n), user=n, username=f"u{n}") for n in (1, 2, 3)]
        _apply(app, ("ingest", lines), folder, 0)
        course = log_course()
        db.session.execute(LearnerSummary.__table__.delete())
        db.session.execute(LearnerSummaryState.__table__.delete())
        db.session.commit()
        assert _stored(course) == []
    result = runner.invoke(args=["data", "refresh-summaries", "--course", COURSE, "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert (done["learners"], done["course_id"]) == (3, course.id)
    with app.app_context():
        course = log_course()
        _same(_stored(course), _computed(course, key))
        # From scratch: a page's figures are computed again though their inputs did not move.
        db.session.execute(
            update(PageSummary)
            .where(PageSummary.course_id == course.id, PageSummary.page == page_summary.COUNTRIES)
            .values(figures='{"counts": {"XX": 99}}')
        )
        db.session.commit()
        course_id = course.id
    every = runner.invoke(args=["data", "refresh-summaries"])
    assert every.exit_code == 0 and f"course {course_id}: 3 learners in" in every.output
    with app.app_context():
        course = log_course()
        people = set(class_data(db.session, course, key=key).members)
        assert page_summary.stored(
            db.session, course, page_summary.COUNTRIES, None
        ) == page_summary.figures_of(db.session, course, page_summary.COUNTRIES, people)


def test_a_course_marked_before_its_rows_were_ever_written_is_refreshed_by_the_job(
    tmp_path: Path, app: Flask
) -> None:
    # The first batch of a course nobody has opened yet: the mark makes a placeholder row the
    # job finds; until then the stored state shows nothing rather than an empty class.
    with app.app_context():
        key = pseudonym_key()
        course = Course(lms_course_id="new", title="New")
        db.session.add(course)
        db.session.flush()
        person = Person(name="First Learner")
        db.session.add(person)
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, person_id=person.id, course_role="learner"))
        learner_summary.mark_stale(db.session, [course.id])
        db.session.commit()
        assert learner_summary.stored(db.session, course, key=key) is None
        assert learner_summary.stale_courses(db.session) == [course.id]
        assert learner_summary.refresh_stale(db.session, key) == 1
        found = learner_summary.stored(db.session, course, key=key)
        assert found is not None and found.learners == 1
        assert learner_summary.stale_courses(db.session) == []
        _same(_stored(course), _computed(course, key))


def test_a_username_a_later_log_brings_renames_the_learner_in_every_course(
    tmp_path: Path, app: Flask
) -> None:
    # A server event names only the user id, in one course; a later log brings the username
    # in another course. The first course's rows name the learner by it too (the property
    # test of tests/tracking_logs/test_ingest_equality.py found them left as a pseudonym).
    folder = tmp_path / "class"
    folder.mkdir()
    other = "Org/Other/2026"
    with app.app_context():
        key = pseudonym_key()
        _apply(
            app, ("ingest", [event(days_ago(1, 60), user=5, username="", course=other)]), folder, 0
        )
        first = db.session.scalar(select(Course).where(Course.lms_course_id == other))
        assert first is not None
        assert [r["learner"] for r in learner_summary.rows(db.session, first)] == ["5"]
        _apply(app, ("ingest", [event(days_ago(0, 60), user=5, username="u5")]), folder, 1)
        db.session.expire_all()
        state = db.session.get(LearnerSummaryState, first.id)
        mark, _settings, _today = learner_summary.fingerprint(db.session, first, key, utcnow())
        assert state is not None and state.fingerprint == mark and state.stale_at is None
        assert [r["learner"] for r in learner_summary.rows(db.session, first)] == ["u5"]
