"""Canvas REST API sync against a fake Canvas over HTTP: data, failures, increments, people."""

from __future__ import annotations

import json
import math
import re
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text

from lti_tool import secrets
from lti_tool.extensions import db
from lti_tool.jobs import queue, runs
from lti_tool.kpis import grades, learners
from lti_tool.models import (
    Assignment,
    Course,
    CourseSettings,
    DataSource,
    Enrollment,
    LearnerDay,
    LmsLearnerStats,
    Person,
    PersonIdentity,
    ScoreSnapshot,
    Submission,
    SyncRun,
)
from lti_tool.sync import canvas
from lti_tool.sync.http import JsonClient
from tests.helpers.database import database_url
from tests.helpers.fake_canvas import FakeCanvas, iso
from tests.helpers.languages import error_in_languages
from tests.helpers.lms import NOW, PER_PAGE, Canvas, build
from tests.helpers.platform import FakePlatform, follow, session_token
from tests.helpers.processes import production_env

ROOT = Path(__file__).resolve().parents[2]
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]


@pytest.fixture
def lms(app: Flask, client: FlaskClient, tmp_path: Path) -> Iterator[Canvas]:
    app.config["SYNC_RETRY_DELAYS"] = "0,0"
    app.config["CANVAS_RATE_PAUSE"] = "0"
    fake = Canvas(app, client, tmp_path)
    yield fake
    fake.fake.stop()


@pytest.fixture
def reference(app: Flask, client: FlaskClient, tmp_path: Path) -> Iterator[Canvas]:
    """A second Canvas with the same course, synced without trouble: what a run should give."""
    fake = Canvas(app, client, tmp_path, name="Reference Canvas", client_id="client-ref")
    yield fake
    fake.fake.stop()


def enrollment_pages(fake: FakeCanvas) -> int:
    return math.ceil(len(fake.enrollments) / PER_PAGE)


def incremental_counts(fake: FakeCanvas) -> dict[str, int]:
    """The requests of an incremental run when nothing changed."""
    return {
        "course": 1,
        "enrollments": enrollment_pages(fake),
        "sections": 1,
        "assignments": 1,
        "submissions": 2,  # submitted since, graded since: both empty
        "modules": 1,
        "activity": 1,
    }


def people(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Person.id))) or 0


# --- a full run ----------------------------------------------------------------------------


def test_full_sync_reads_every_page_and_writes_the_course(app: Flask, lms: Canvas) -> None:
    fake = lms.fake
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["mode"] == "full"
    assert run.requests == fake.total()
    students = fake.students()  # 12 + the inactive one
    learners = [
        u
        for u in fake.users
        if any(
            e["user_id"] == u and e["type"] in ("StudentEnrollment", "StudentViewEnrollment")
            for e in fake.enrollments
        )
    ]
    active = [u for u in learners if fake.enrollment(u)["last_activity_at"]]
    assert dict(fake.counts) == {
        "course": 1,
        "enrollments": enrollment_pages(fake),
        # users: bookmark pages with no "last" link, every next link followed
        "users": math.ceil(
            len(
                [
                    e
                    for e in fake.enrollments
                    if e["enrollment_state"] != "deleted" and e["type"] != "StudentViewEnrollment"
                ]
            )
            / PER_PAGE
        ),
        "sections": 1,
        "assignments": 1,
        "submissions": math.ceil(len(students) / PER_PAGE),  # grouped: pages of students
        "modules": 1 + len(active),
        "bulk_progress": math.ceil(len(students) / PER_PAGE),
        "activity": 1,
        "summaries": math.ceil(len(students) / PER_PAGE),
        "user_activity": len(active),
    }
    assert enrollment_pages(fake) == 4 and fake.counts["users"] == 4
    pages = [s for s in fake.seen if "/users?" in s]
    assert [p.count("page=bookmark") for p in pages] == [0, 1, 1, 1]

    snap = lms.snapshot()
    by_user = {e[0]: e for e in snap["enrollments"]}
    assert by_user["1"][1:4] == ("staff", "active", False) and by_user["1"][5] == "canvas"
    assert by_user["1000"][1:3] == ("learner", "active")
    assert by_user["50"][1] == "observer"
    assert by_user["51"][1:4] == ("learner", "active", True)  # the Student View user
    assert by_user["52"][1:3] == ("learner", "inactive")
    assert by_user["53"][2] == "inactive"
    assert by_user["54"][1] == "staff"  # Canvas TAs are Instructors too
    assert by_user["55"][1] == "staff"
    emails = {p[0]: p[2] for p in snap["people"]}
    assert emails["1003"] == "student00003@example.edu" and emails["51"] is None
    assert people(app) == len(fake.users)  # the teacher who launched was not duplicated

    assert len(snap["submissions"]) == len([k for k in fake.submissions if k[1] in students])
    first = next(s for s in snap["submissions"] if s[:2] == ("300", "1000"))
    data = fake.submissions[(300, 1000)]
    assert first[2] == data["score"] and first[5:9] == (
        data["late"],
        data["missing"],
        False,
        data["workflow_state"],
    )
    # The learner's own due date (cached_due_date): here everyone's, as nothing overrides it.
    assert first[9] == canvas._dt(fake.assignments[0]["due_at"])
    # The section dates ride on the assignments request (one page, counted above).
    [assignments] = [s for s in fake.seen if "/assignments?" in s]
    assert "include%5B%5D=all_dates" in assignments
    assert run.counts["emails_hidden"] is False and "warnings" not in run.counts
    assert {s[0] for s in snap["sections"]} == {"901", "902"}
    assert ("901", "1000") in snap["members"] and ("902", "1001") in snap["members"]
    assert [e[0] for e in snap["events"]] == ["300", "301", "302", "303"]
    assert snap["events"][0][3] == datetime.fromisoformat(
        fake.assignments[0]["due_at"].replace("Z", "+00:00")
    )
    assert [m[3] for m in snap["modules"]] == [3, 3]
    assert snap["starts_on"] == [
        (datetime.fromisoformat(fake.course["start_at"].replace("Z", "+00:00")).date(),)
    ]
    assert len(snap["days"]) == len(fake.activity)

    stats = {s[0]: s for s in snap["stats"]}
    columns = [
        c.name
        for c in LmsLearnerStats.__table__.columns
        if c.name not in ("course_id", "synced_at")
    ]
    row = dict(zip(columns, stats["1000"], strict=True))
    enrollment = fake.enrollment(1000)
    assert row["total_activity_seconds"] == enrollment["total_activity_time"]
    assert row["current_score"] == enrollment["grades"]["current_score"]
    assert row["current_grade"] == enrollment["grades"]["current_grade"]
    progress = fake.progress(1000)
    assert (row["requirements"], row["requirements_done"]) == (
        progress["requirement_count"],
        progress["requirement_completed_count"],
    )
    tardy = fake.tardiness(1000)
    assert (row["missing"], row["late"], row["on_time"]) == (
        tardy["missing"],
        tardy["late"],
        tardy["on_time"],
    )
    assert row["page_views"] == sum(fake.user_activity[1000]["page_views"].values())
    assert "1" not in stats and "50" not in stats  # staff and observers have no learner stats
    hours = [h for h in snap["hours"] if h[0] == "1000"]
    assert sum(h[2] for h in hours) == row["page_views"]
    assert sum(h[3] for h in hours) == len(fake.user_activity[1000]["participations"])


def test_incremental_run_without_changes_makes_no_per_student_calls(
    app: Flask, lms: Canvas
) -> None:
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    lms.fake.reset_counts()
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["mode"] == "incremental" and run.counts["active_learners"] == 0
    assert dict(lms.fake.counts) == incremental_counts(lms.fake)
    assert run.requests == lms.fake.total() <= enrollment_pages(lms.fake) + 10
    assert run.counts["rows_written"] == 0
    assert lms.snapshot() == before


def test_a_full_run_again_after_canvas_full_sync_hours(app: Flask, lms: Canvas) -> None:
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    app.config["CANVAS_FULL_SYNC_HOURS"] = "0"
    lms.fake.reset_counts()
    run = lms.sync()
    assert run.counts["mode"] == "full" and run.counts["rows_written"] == 0
    assert run.counts["submissions"] == len(before["submissions"])
    assert lms.fake.counts["bulk_progress"] > 0 and lms.fake.counts["user_activity"] == 0
    assert lms.snapshot() == before


# --- one change, picked up by the next incremental run -------------------------------------


def _new_enrollment(fake: FakeCanvas, at: datetime) -> dict[str, int]:
    fake.add_user(60, "Nina New", "nina@example.edu", section=902)
    return {"users": 1}  # only the new user's e-mail is read


def _drop(fake: FakeCanvas, at: datetime) -> dict[str, int]:
    fake.enrollment(1003)["enrollment_state"] = "deleted"
    return {}


def _new_grade(fake: FakeCanvas, at: datetime) -> dict[str, int]:
    sub = fake.submissions[(301, 1004)]
    sub.update(score=9.5, graded_at=at, workflow_state="graded")
    fake.enrollment(1004)["grades"]["current_score"] = 97.25
    return {}


def _new_submission(fake: FakeCanvas, at: datetime) -> dict[str, int]:
    now = at
    fake.submissions[(302, 1005)] = {
        "score": None,
        "submitted_at": now,
        "graded_at": None,
        "late": True,
        "missing": False,
        "excused": False,
        "workflow_state": "submitted",
    }
    fake.touch(1005, now)
    # The learner was active: their module states, their activity, and the summaries list.
    return {
        "modules": 1,
        "user_activity": 1,
        "summaries": math.ceil(len(fake.students()) / PER_PAGE),
    }


@pytest.mark.parametrize(
    "change", [_new_enrollment, _drop, _new_grade, _new_submission], ids=lambda f: f.__name__[1:]
)
def test_one_change_is_picked_up_by_the_next_incremental_run(
    app: Flask, lms: Canvas, change: Any
) -> None:
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    extra = change(lms.fake, datetime.now(UTC))
    lms.fake.reset_counts()
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["mode"] == "incremental"
    expected = incremental_counts(lms.fake)
    for key, n in extra.items():
        expected[key] = expected.get(key, 0) + n
    assert dict(lms.fake.counts) == expected
    assert run.requests == sum(expected.values())
    after = lms.snapshot()
    enrollments = {e[0]: e for e in after["enrollments"]}
    if change is _new_enrollment:
        assert enrollments["60"][1:3] == ("learner", "active")
        assert ("60", "Nina New", "nina@example.edu") in after["people"]
        assert ("902", "60") in after["members"]
        assert run.counts["added"] == 1 and run.counts["people_added"] == 1
    elif change is _drop:
        assert enrollments["1003"][2] == "inactive"
        assert {e[0]: e for e in before["enrollments"]}["1003"][2] == "active"
        assert ("901", "1003") not in after["members"] and ("902", "1003") not in after["members"]
    elif change is _new_grade:
        sub = next(s for s in after["submissions"] if s[:2] == ("301", "1004"))
        assert sub[2] == 9.5
        stats = next(s for s in after["stats"] if s[0] == "1004")
        assert 97.25 in stats
    else:
        sub = next(s for s in after["submissions"] if s[:2] == ("302", "1005"))
        assert sub[8] == "submitted" and sub[5] is True
        assert run.counts["active_learners"] == 1
        old_hours = [h for h in before["hours"] if h[0] == "1005"]
        new_hours = [h for h in after["hours"] if h[0] == "1005"]
        assert sum(h[2] for h in new_hours) == sum(h[2] for h in old_hours) + 3
    # Nothing else moved.
    changed = {k for k in after if after[k] != before[k]}
    allowed = {"people", "enrollments", "members", "stats", "submissions", "progress", "hours"}
    assert changed <= allowed


def test_due_dates_follow_canvas_and_course_start_is_set_once(app: Flask, lms: Canvas) -> None:
    assert lms.sync().status == "succeeded"
    fake = lms.fake
    new_due = NOW - timedelta(days=1, hours=3)
    fake.assignments[0]["due_at"] = new_due.strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.assignments[0]["name"] = "Essay (extended)"
    del fake.assignments[1]
    with app.app_context():
        settings = db.session.get(CourseSettings, lms.course().id)
        settings.starts_on = NOW.date()  # staff set their own start
        db.session.commit()
    run = lms.sync()
    assert run.status == "succeeded", run.error
    snap = lms.snapshot()
    events = {e[0]: e for e in snap["events"]}
    assert events["300"][2:] == ("Essay (extended)", new_due, None, None)
    assert "301" not in events and len(events) == 3
    assignments = {a[0]: a for a in snap["assignments"]}
    assert assignments["301"][5] is True  # kept, marked removed
    assert snap["starts_on"] == [(NOW.date(),)]


# --- each learner's own due dates, posted and unposted scores, e-mail ------------------------

ESSAY = 310
#: Everyone's date of Essay 1, Section B's own, and learner 1003's (in Section B) extension.
ESSAY_DUE = (NOW + timedelta(days=3)).replace(second=0)
SECTION_B_DUE = ESSAY_DUE + timedelta(days=2)
EXTENSION_DUE = ESSAY_DUE + timedelta(days=4)


def _essay(fake: FakeCanvas, overrides: int = 0) -> None:
    """Essay 1, not handed in by anybody: Section B (902) has its own date, learner 1003 an
    extension of their own; `overrides` more individual ones on top."""
    fake.assignments.append(
        {
            "id": ESSAY,
            "name": "Essay 1",
            "due_at": iso(ESSAY_DUE),
            "points_possible": 20.0,
            "position": 9,
            "published": True,
        }
    )
    fake.add_override(ESSAY, SECTION_B_DUE, section=902)
    fake.add_override(ESSAY, EXTENSION_DUE, students=[1003])
    for n in range(overrides):
        fake.add_override(ESSAY, EXTENSION_DUE - timedelta(hours=n + 1), students=[1004 + n % 8])
    for user_id in fake.students():
        fake.submissions[(ESSAY, user_id)] = {
            "score": None,
            "submitted_at": None,
            "graded_at": None,
            "late": False,
            "missing": False,
            "excused": False,
            "workflow_state": "unsubmitted",
        }


def _person(canvas_user: str) -> int:
    return db.session.scalar(
        select(PersonIdentity.person_id).where(
            PersonIdentity.kind == "canvas_user_id", PersonIdentity.value == canvas_user
        )
    )


def _markers(html: str) -> list[str]:
    """The titles of the course events on the learner's time chart."""
    found = re.search(r'data-target="chart-my-time">(.*?)</script>', html, re.S)
    assert found, "no time chart"
    return [a["text"] for a in json.loads(found.group(1))["layout"].get("annotations", [])]


def _coming_up(html: str) -> dict[str, str]:
    """What the learner's "Coming up" table lists: name → due (course time zone, UTC here)."""
    table = html[html.index('id="table-my-due"') :]
    table = table[: table.index("</table>")]
    return dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", table))


def test_each_section_sees_its_own_due_date_and_students_see_posted_scores(
    app: Flask, client: FlaskClient, lms: Canvas
) -> None:
    fake = lms.fake
    _essay(fake)
    # Staff have graded work they have not posted yet: Canvas's gradebook shows staff the
    # unposted score, the learner sees the posted one. Learner 1000 (Section A): 70 posted, 85
    # for staff; everyone else 5 points more for staff.
    for user_id in fake.students():
        scores = fake.enrollment(user_id)["grades"]
        if scores["current_score"] is not None:
            scores["unposted_current_score"] = round(scores["current_score"] + 5, 2)
    fake.enrollment(1000)["grades"].update(
        current_score=70.0,
        unposted_current_score=85.0,
        final_score=63.0,
        unposted_final_score=76.5,
    )
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert fake.counts["assignments"] == 1  # all_dates came with the assignments page

    snap = lms.snapshot()
    due = {s[1]: s[9] for s in snap["submissions"] if s[0] == str(ESSAY)}
    assert due["1000"] == due["1002"] == ESSAY_DUE  # Section A: everyone's date
    assert due["1001"] == due["1005"] == SECTION_B_DUE  # Section B: its own
    assert due["1003"] == EXTENSION_DUE  # in Section B, with an extension of their own
    essay = sorted(e for e in snap["events"] if e[0].startswith(str(ESSAY)))
    # One event per date for everyone and per section; none for the individual extension.
    assert essay == [
        (str(ESSAY), "due", "Essay 1", ESSAY_DUE, None, None),
        (f"{ESSAY}:section:902", "due", "Essay 1", SECTION_B_DUE, "902", "Section B"),
    ]
    stats = {s[0]: s for s in snap["stats"]}
    columns = [c.name for c in LmsLearnerStats.__table__.columns if c.name != "synced_at"][1:]
    first = dict(zip(columns, stats["1000"], strict=True))
    assert (first["current_score"], first["unposted_current_score"]) == (70.0, 85.0)

    with app.app_context():
        people = {u: _person(str(u)) for u in (1000, 1001, 1003)}
        course_id = lms.course().id
        for person_id in people.values():  # some activity, so that the time chart is drawn
            db.session.add(
                LearnerDay(
                    course_id=course_id,
                    person_id=person_id,
                    day=NOW.date(),
                    events=3,
                    first_time=NOW.timestamp() - 600,
                    last_time=NOW.timestamp(),
                    gaps=orjson.dumps([4, 2, 540]),
                )
            )
        db.session.commit()
    posted = [fake.enrollment(u)["grades"]["current_score"] for u in fake.students()[:-1]]
    assert fake.students()[-1] == 52  # the inactive learner: out of the class

    def page(canvas_user: int) -> str:
        n = canvas_user - 1000
        response = lms.launch(
            f"sub-{canvas_user}",
            str(canvas_user),
            roles=LEARNER,
            name=f"Student {n:05d}",
            email=f"student{n:05d}@example.edu",
        )
        html = follow(client, response).get_data(as_text=True)
        return re.sub(r"\s+", " ", html)

    # Section A: everyone's date, on the list and on the chart; not Section B's.
    html = page(1000)
    assert _coming_up(html)["Essay 1"] == f"{ESSAY_DUE:%Y-%m-%d %H:%M}"
    assert "Essay 1 due" in _markers(html) and "Essay 1 due (Section B)" not in _markers(html)
    # The posted score, and the class figures of posted scores only.
    # Only the score section: the page's session token is random text that may hold "85".
    score = html[html.index('id="my-score"') :]
    score = score[: score.index("</section>")]
    assert "<strong>70 %</strong>" in html and "85" not in score
    assert f"The class: median {statistics.median(posted):.1f} %" in html
    # Section B: its own date in place of everyone's.
    html = page(1001)
    assert _coming_up(html)["Essay 1"] == f"{SECTION_B_DUE:%Y-%m-%d %H:%M}"
    assert "Essay 1 due (Section B)" in _markers(html) and "Essay 1 due" not in _markers(html)
    # The learner with an extension: their own date on the list.
    html = page(1003)
    assert _coming_up(html)["Essay 1"] == f"{EXTENSION_DUE:%Y-%m-%d %H:%M}"

    # Staff: every section's date on the overview, the unposted score everywhere.
    t = session_token(lms.launch("teacher-sub", "1"))
    overview = client.get(f"/courses/{course_id}/?t={t}").get_data(as_text=True)
    assert "Essay 1 due (Section B)" in overview and "Essay 1 due</td>" in overview
    table = client.get(f"/courses/{course_id}/learners?t={t}&q=Student+00000")
    row = table.get_data(as_text=True).split('id="table-learners"')[1]
    assert 'data-label="Current score">85 %</td>' in row and "70 %" not in row
    detail = client.get(f"/courses/{course_id}/learners/{people[1000]}?t={t}")
    text_ = re.sub(r"\s+", " ", detail.get_data(as_text=True))
    assert 'id="score">85 %</span>' in text_ and "posted (what the learner sees): 70 %" in text_
    detail = client.get(f"/courses/{course_id}/learners/{people[1001]}?t={t}")
    assert f"<td>Essay 1</td><td>{SECTION_B_DUE:%Y-%m-%d %H:%M}</td>" in detail.get_data(
        as_text=True
    )
    staff = [fake.enrollment(u)["grades"]["unposted_current_score"] for u in fake.students()[:-1]]
    grades_page = client.get(f"/courses/{course_id}/grades?t={t}").get_data(as_text=True)
    assert f"median {statistics.median(staff):.1f} %" in grades_page
    with app.app_context():
        course = lms.course()
        row = next(
            r
            for r in learners.learners(db.session, course, key=b"k")
            if r["person"] == people[1000]
        )
        assert (row["current_score"], row["posted_current_score"]) == (85.0, 70.0)
        report = {r["learner"]: r for r in grades.grades(db.session, course)}[row["learner"]]
        assert (report["current_score"], report["posted_current_score"]) == (85.0, 70.0)
        assert (report["final_score"], report["posted_final_score"]) == (76.5, 63.0)


def test_a_token_that_cannot_see_unposted_grades_gives_the_posted_ones(
    app: Flask, lms: Canvas
) -> None:
    lms.fake.manages_grades = False  # e.g. a token whose user may only read grades
    lms.fake.enrollment(1000)["grades"].update(current_score=70.0, unposted_current_score=85.0)
    assert lms.sync().status == "succeeded"
    with app.app_context():
        stats = db.session.get(LmsLearnerStats, (lms.course().id, _person("1000")))
        assert (stats.current_score, stats.unposted_current_score) == (70.0, None)
        row = next(
            r
            for r in learners.learners(db.session, lms.course(), key=b"k")
            if r["person"] == stats.person_id
        )
        assert (row["current_score"], row["posted_current_score"]) == (70.0, 70.0)


def test_a_section_date_passing_reads_that_assignments_submissions_again(
    app: Flask, lms: Canvas
) -> None:
    fake = lms.fake
    _essay(fake)
    assert lms.sync().status == "succeeded"
    # Section B's date moved to a minute ago: its learners' work is missing now, though no one
    # did anything and everyone else's date is days away.
    passed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    fake.overrides[ESSAY][0]["due_at"] = iso(passed)
    for user_id in fake.students():
        if 902 in fake.sections_of(user_id) and user_id != 1003:
            fake.submissions[(ESSAY, user_id)]["missing"] = True
    fake.reset_counts()
    run = lms.sync()
    assert run.status == "succeeded", run.error
    expected = incremental_counts(fake)
    # Essay 1's submissions read again, a page per PER_PAGE learners.
    expected["submissions"] += math.ceil(len(fake.students()) / PER_PAGE)
    expected["summaries"] = math.ceil(len(fake.students()) / PER_PAGE)  # tardiness changed
    assert dict(fake.counts) == expected
    snap = lms.snapshot()
    essay = {s[1]: s for s in snap["submissions"] if s[0] == str(ESSAY)}
    assert essay["1001"][6] is True and essay["1001"][9] == passed
    assert essay["1000"][6] is False and essay["1003"][6] is False
    events = {e[0]: e for e in snap["events"]}
    assert events[f"{ESSAY}:section:902"][3] == passed


def test_too_many_overrides_are_said_and_each_learner_keeps_their_date(
    app: Flask, lms: Canvas
) -> None:
    fake = lms.fake
    _essay(fake, overrides=23)  # 25 overrides in all: Canvas sends only all_dates_count
    run = lms.sync()
    assert run.status == "succeeded", run.error
    [warning] = run.counts["warnings"]
    assert "25 or more date overrides" in warning
    snap = lms.snapshot()
    assert [e for e in snap["events"] if e[0].startswith(str(ESSAY))] == [
        (str(ESSAY), "due", "Essay 1", ESSAY_DUE, None, None)
    ]
    essay = {s[1]: s[9] for s in snap["submissions"] if s[0] == str(ESSAY)}
    assert essay["1001"] == SECTION_B_DUE and essay["1000"] == ESSAY_DUE
    # A learner's own date (kept from their submission) that passed since the last run reads
    # the assignment's submissions again, though Canvas lists no override date.
    with app.app_context():
        essay_id = db.session.scalar(
            select(Assignment.id).where(Assignment.lms_assignment_id == str(ESSAY))
        )
        sub = db.session.get(Submission, (essay_id, _person("1004")))
        sub.due_at = datetime.now(UTC) - timedelta(seconds=30)
        db.session.commit()
    fake.reset_counts()
    run = lms.sync()
    assert run.status == "succeeded", run.error
    expected = incremental_counts(fake)
    expected["submissions"] += math.ceil(len(fake.students()) / PER_PAGE)
    expected["summaries"] = math.ceil(len(fake.students()) / PER_PAGE)
    assert dict(fake.counts) == expected
    assert [s for s in fake.seen if "assignment_ids" in s]


def test_emails_the_token_may_not_read_are_explained(
    app: Flask, client: FlaskClient, lms: Canvas
) -> None:
    fake = lms.fake
    # A token whose user lacks "Users - view primary email address": Canvas leaves the email
    # (and login_id) keys out of every user.
    fake.hidden_user_keys = {"email", "login_id"}
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["emails_hidden"] is True
    [warning] = run.counts["warnings"]
    assert "did not share e-mail addresses" in warning
    assert "Users - view primary email address" in warning
    with app.app_context():
        assert "warning: Canvas did not share e-mail addresses" in queue.describe(
            db.session.get(SyncRun, run.id)
        )
        course_id = lms.course().id
        assert db.session.scalar(select(Person.email).where(Person.id == _person("1000"))) is None
    t = session_token(lms.launch("teacher-sub", "1"))

    def page() -> str:
        html = client.get(f"/courses/{course_id}/learners?t={t}").get_data(as_text=True)
        return re.sub(r"\s+", " ", html)

    html = page()
    assert 'id="emails-hidden"' in html and "Users - view primary email address" in html
    assert "hidden by Canvas" in html and "not shared" not in html
    # The next run reads no users (nobody new): it still knows, and says so.
    fake.reset_counts()
    run = lms.sync()
    assert run.counts["mode"] == "incremental" and fake.counts["users"] == 0
    assert run.counts["emails_hidden"] is True and 'id="emails-hidden"' in page()
    # The permission granted: the next full run brings the addresses, and the note goes.
    fake.hidden_user_keys = set()
    app.config["CANVAS_FULL_SYNC_HOURS"] = "0"
    run = lms.sync()
    assert run.counts["emails_hidden"] is False and "warnings" not in run.counts
    html = page()
    assert 'id="emails-hidden"' not in html and "student00000@example.edu" in html


# --- trouble on the wire -------------------------------------------------------------------


def test_throttling_waits_and_loses_nothing(app: Flask, lms: Canvas, reference: Canvas) -> None:
    lms.fake.retry_after = "1"
    lms.fake.fail = {("enrollments", 2): ["429"], ("assignments", 1): ["403rate"]}
    lms.fake.rate_remaining = 42.0
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["throttled"] == 2 and run.counts["slowed"] > 0
    assert run.requests == lms.fake.total()
    assert reference.sync().status == "succeeded"
    assert run.requests == reference.fake.total() + 2
    assert lms.snapshot() == reference.snapshot()


def test_retry_after_is_honoured_and_low_budget_slows_down() -> None:
    fake = build(FakeCanvas(now=NOW, max_per_page=PER_PAGE)).start()
    try:
        fake.retry_after = "7"
        fake.fail = {("sections", 1): ["429"], ("assignments", 1): ["403rate", "403rate"]}
        slept: list[float] = []
        client = JsonClient(
            fake.origin + "/api/v1/",
            fake.token,
            retry_delays=(0.5,),
            sleep=slept.append,
            throttled=canvas._throttled,
            rate_header="X-Rate-Limit-Remaining",
            rate_low=100,
            rate_pause=2.0,
        )
        assert client.get_json("courses/101/sections")[0]["id"] == 901
        assert slept == [7.0]
        assert len(client.get_json("courses/101/assignments")) == len(fake.assignments)
        assert slept == [7.0, 0.5, 1.0]  # no Retry-After: doubling from the last retry delay
        fake.rate_remaining = 25.0
        client.get_json("courses/101/sections")
        assert slept[-1] == pytest.approx(2.0 * 0.75) and client.slowdowns == 1
        # A list whose pages have no "last" link is read to its end.
        users = [u for page in client.pages("courses/101/users", [("per_page", 5)]) for u in page]
        listed = {
            e["user_id"]
            for e in fake.enrollments
            if e["enrollment_state"] in ("active", "invited")
            and e["type"] != "StudentViewEnrollment"
        }
        assert len(users) == len({u["id"] for u in users}) == len(listed) == 16
        assert client.requests_made == fake.total()
    finally:
        fake.stop()


@pytest.mark.parametrize("where", [("submissions", 1), ("enrollments", 3), ("user_activity", 1)])
def test_a_500_then_success(app: Flask, lms: Canvas, reference: Canvas, where: Any) -> None:
    lms.fake.fail = {where: ["500"]}
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["retries"] == 1
    assert reference.sync().status == "succeeded"
    assert run.requests == reference.fake.total() + 1
    assert lms.snapshot() == reference.snapshot()


def test_a_timeout_is_retried_and_too_many_fail_the_run(
    app: Flask, lms: Canvas, reference: Canvas
) -> None:
    # A timeout far above a fast answer's time, so that only the slow answers time out.
    app.config["SYNC_HTTP_TIMEOUT"] = "1.5"
    lms.fake.slow_seconds = 2.0
    lms.fake.fail = {("sections", 1): ["slow"]}
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert run.counts["retries"] == 1
    assert reference.sync().status == "succeeded"
    assert lms.snapshot() == reference.snapshot()
    before = lms.snapshot()
    lms.fake.fail = {("sections", 1): ["slow", "slow", "slow"]}
    failed = lms.sync()
    assert failed.status == "failed"
    assert "could not read sections from Canvas" in failed.error
    assert "ReadTimeout (after 3 attempts)" in failed.error
    assert lms.snapshot() == before


@pytest.mark.parametrize("where", [("enrollments", 2), ("activity", 1), ("summaries", 1)])
def test_malformed_json_fails_the_run_and_keeps_the_previous_data(
    app: Flask, lms: Canvas, reference: Canvas, where: Any
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    for fake in (lms, reference):
        assert fake.sync().status == "succeeded"
        _drop(fake.fake, at)
        _new_grade(fake.fake, at)
        fake.fake.touch(1006, at)  # so that the incremental run reads the summaries
    before = lms.snapshot()
    lms.fake.fail = {where: ["malformed"]}
    lms.fake.reset_counts()
    failed = lms.sync()
    assert failed.status == "failed"
    assert "malformed JSON" in failed.error and where[0].split("_")[0] in failed.error
    assert failed.requests == lms.fake.total()  # it stopped at the broken page
    assert lms.snapshot() == before  # nothing of the half-read course was written
    assert lms.sync().status == "succeeded"
    assert reference.sync().status == "succeeded"
    assert lms.snapshot() == reference.snapshot()


def test_analytics_404_carries_on_without_it(app: Flask, lms: Canvas) -> None:
    lms.fake.analytics = False
    run = lms.sync()
    assert run.status == "succeeded", run.error
    [warning] = run.counts["warnings"]
    assert "course analytics is not available" in warning and "HTTP 404" in warning
    assert lms.fake.counts["activity"] == 1
    assert lms.fake.counts["summaries"] == 0 and lms.fake.counts["user_activity"] == 0
    snap = lms.snapshot()
    assert snap["days"] == [] and snap["hours"] == []
    assert len(snap["submissions"]) > 0 and len(snap["progress"]) > 0
    with app.app_context():
        from lti_tool.jobs.queue import describe

        text_ = describe(db.session.get(SyncRun, run.id))
        assert "warning: Canvas course analytics is not available" in text_


def test_a_revoked_token_fails_the_run_and_keeps_the_data(
    app: Flask, lms: Canvas, caplog: Any
) -> None:
    caplog.set_level("DEBUG")
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    _drop(lms.fake, NOW)
    lms.fake.revoked = True
    lms.fake.reset_counts()
    run = lms.sync()
    assert run.status == "failed"
    assert run.error.startswith("the Canvas token was refused: HTTP 401 from ")
    assert "/api/v1/courses/101 while reading the course" in run.error
    assert lms.fake.token not in run.error
    assert run.requests == 1 == lms.fake.total()
    assert lms.snapshot() == before
    with app.app_context():
        source = db.session.scalar(select(DataSource))
        ok, message = canvas.check_connection(source)
        assert not ok and str(message).startswith("the Canvas token was refused")
    assert "GET /api/v1/courses/101" in caplog.text  # requests were logged, the token never
    assert lms.fake.token not in caplog.text


def test_one_endpoint_not_authorized_is_skipped_and_named(
    app: Flask, lms: Canvas, runner: FlaskCliRunner
) -> None:
    lms.fake.unauthorized = {"submissions"}
    run = lms.sync()
    assert run.status == "succeeded", run.error
    [warning] = run.counts["warnings"]
    assert warning.startswith("submissions skipped: the token's user is not authorized")
    assert '"Grades - view all grades"' in warning
    snap = lms.snapshot()
    assert snap["submissions"] == [] and len(snap["enrollments"]) == len(lms.fake.users)
    assert len(snap["progress"]) > 0
    # The enrollment list is essential: without it the run fails, naming the permission.
    lms.fake.unauthorized = {"enrollments"}
    failed = lms.sync()
    assert failed.status == "failed"
    assert "may not read the enrollment list" in failed.error
    assert '"Users - view list"' in failed.error
    assert lms.snapshot() == snap


def test_sigkill_part_way_then_rerun_gives_the_uninterrupted_state(
    app: Flask, lms: Canvas, reference: Canvas, tmp_path: Path
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    for fake in (lms, reference):
        assert fake.sync().status == "succeeded"
        _new_enrollment(fake.fake, at)
        _drop(fake.fake, at)
        _new_submission(fake.fake, at)
    lms.fake.slow_seconds = 60
    lms.fake.fail = {("user_activity", 1): ["stall"]}
    with app.app_context():
        course_id = lms.course().id
        db.session.remove()
    env = production_env(
        database_url(tmp_path),
        tmp_path,
        SECRET_KEY="sync-test",
        DATA_ENCRYPTION_KEY=app.config["DATA_ENCRYPTION_KEY"],
        SYNC_RETRY_DELAYS="0",
        LOG_JSON="0",
    )
    seen = lms.fake.counts["user_activity"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "sync",
            "run",
            "--course",
            str(course_id),
            "--source",
            "canvas",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lms.fake.wait_for("user_activity", after=seen)
    finally:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    assert lms.fake.token not in out + err
    with app.app_context():
        killed = db.session.scalar(select(SyncRun).order_by(SyncRun.id.desc()).limit(1))
        assert killed.status == "running"  # nobody was left to say otherwise
    lms.fake.fail = {}
    assert lms.sync().status == "succeeded"
    assert reference.sync().status == "succeeded"
    assert lms.snapshot() == reference.snapshot()
    with app.app_context():
        assert db.session.get(SyncRun, killed.id).status == "failed"


# --- people ---------------------------------------------------------------------------------


def test_a_learner_who_launched_is_the_person_the_sync_finds(app: Flask, lms: Canvas) -> None:
    # 1000 launched with $Canvas.user.id; 1001 launched without it but with their e-mail;
    # 1002 is known from another source by e-mail only, under another name.
    lms.launch("sub-1000", "1000", roles=LEARNER, name="Student 00000", email="x@example.edu")
    lms.launch("sub-1001", None, roles=LEARNER, email="student00001@example.edu")
    with app.app_context():
        platform_id = lms.course().platform_id
        other = Person(name="s2", email="STUDENT00002@example.edu")
        db.session.add(other)
        db.session.flush()
        db.session.add(
            PersonIdentity(person_id=other.id, platform_id=platform_id, kind="lab_user", value="s2")
        )
        db.session.commit()
    assert people(app) == 4
    run = lms.sync()
    assert run.status == "succeeded", run.error
    assert people(app) == len(lms.fake.users)
    assert run.counts["people_added"] == len(lms.fake.users) - 4
    with app.app_context():

        def person_of(kind: str, value: str) -> int:
            return db.session.scalar(
                select(PersonIdentity.person_id).where(
                    PersonIdentity.kind == kind, PersonIdentity.value == value
                )
            )

        assert person_of("lti_sub", "sub-1000") == person_of("canvas_user_id", "1000")
        assert person_of("lti_sub", "sub-1001") == person_of("canvas_user_id", "1001")
        assert person_of("lab_user", "s2") == person_of("canvas_user_id", "1002")
        assert person_of("canvas_sis_user_id", "SIS000001") == person_of("canvas_user_id", "1001")
        ada = db.session.get(Person, person_of("canvas_user_id", "1000"))
        assert ada.email == "student00000@example.edu"  # Canvas's e-mail wins
        enrollment = db.session.scalar(select(Enrollment).where(Enrollment.person_id == ada.id))
        assert enrollment.source == "canvas" and enrollment.course_role == "learner"
    # A learner the sync found first is the person their first launch finds.
    lms.launch("sub-1007", "1007", roles=LEARNER)
    assert people(app) == len(lms.fake.users)


# --- set-canvas, the source, the scheduler --------------------------------------------------


def test_set_canvas_stores_the_token_encrypted_and_never_prints_it(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path, caplog: Any
) -> None:
    fake = build(FakeCanvas(now=NOW)).start()
    try:
        platform = FakePlatform(issuer=fake.origin, name="Canvas")
        platform.register(app)
        token_file = tmp_path / "token"
        token_file.write_text(fake.token + "\n")
        caplog.set_level("DEBUG")
        args = ["platform", "set-canvas", "--platform", "Canvas", "--token-file", str(token_file)]
        result = runner.invoke(args=[*args, "--base-url", fake.origin + "/api/v1/", "--check"])
        assert result.exit_code == 0, result.output
        assert "stored the Canvas API source of 'Canvas': " + fake.origin in result.output
        assert (
            "connection OK: the token belongs to Integration Admin (Canvas user 1)" in result.output
        )
        with app.app_context():
            [source] = db.session.scalars(select(DataSource))
            assert (source.kind, source.location) == ("canvas", fake.origin)
            assert source.last_check.startswith("the token belongs to")
            raw = db.session.execute(text("SELECT * FROM data_source")).all()
            assert fake.token not in repr(raw)
            assert secrets.decrypt(source.secret_encrypted) == fake.token
        # A new token replaces the old one in the same row.
        token_file.write_text("7~another-token\n")
        again = runner.invoke(args=[*args, "--base-url", fake.origin])
        assert again.exit_code == 0 and again.output.startswith("updated")
        with app.app_context():
            [source] = db.session.scalars(select(DataSource))
            assert secrets.decrypt(source.secret_encrypted) == "7~another-token"
            ok, message = canvas.check_connection(source)
            assert not ok and str(message).startswith("the Canvas token was refused")
        for output in (result.output, again.output, caplog.text):
            assert fake.token not in output and "another-token" not in output
        # Bad input: clear errors, nothing stored.
        empty = tmp_path / "empty"
        empty.write_text("\n")
        bad = [
            (
                ["--platform", "Nope", "--base-url", fake.origin, "--token-file", str(token_file)],
                "no platform named 'Nope'",
            ),
            (
                ["--platform", "Canvas", "--base-url", "ftp://x", "--token-file", str(token_file)],
                "is not an http(s) URL",
            ),
            (
                ["--platform", "Canvas", "--base-url", fake.origin, "--token-file", str(empty)],
                "must hold the token alone",
            ),
            (
                [
                    "--platform",
                    "Canvas",
                    "--base-url",
                    fake.origin,
                    "--token-file",
                    str(tmp_path / "missing"),
                ],
                "cannot read",
            ),
        ]
        for extra, message in bad:
            failed = runner.invoke(args=["platform", "set-canvas", *extra])
            assert failed.exit_code == 2 and message in failed.output, failed.output
        with app.app_context():
            assert db.session.scalar(select(func.count(DataSource.id))) == 1
    finally:
        fake.stop()


def test_courses_to_sync_and_clear_failures(
    app: Flask, lms: Canvas, runner: FlaskCliRunner
) -> None:
    with app.app_context():
        course_id = lms.course().id
        assert queue.courses_to_sync(db.session, "canvas") == [course_id]
        source = db.session.scalar(select(DataSource))
        source.enabled = False
        db.session.commit()
        assert queue.courses_to_sync(db.session, "canvas") == []
    result = runner.invoke(args=["sync", "run", "--course", "101", "--source", "canvas"])
    assert result.exit_code == 1 and "Canvas API source is disabled" in result.output
    with app.app_context():
        db.session.scalar(select(DataSource)).enabled = True
        db.session.get(Course, course_id).lms_course_id = None
        db.session.commit()
        assert queue.courses_to_sync(db.session, "canvas") == []
    result = runner.invoke(args=["sync", "run", "--course", str(course_id), "--source", "canvas"])
    assert result.exit_code == 1 and "has no Canvas course id" in result.output
    with app.app_context():
        db.session.get(Course, course_id).lms_course_id = "999"
        db.session.commit()
    result = runner.invoke(args=["sync", "run", "--course", "999", "--source", "canvas"])
    assert result.exit_code == 1 and "Canvas has no course 999" in result.output


def test_throttling_that_never_ends_fails_the_run_clearly(app: Flask, lms: Canvas) -> None:
    assert lms.sync().status == "succeeded"
    before = lms.snapshot()
    _new_grade(lms.fake, datetime.now(UTC))
    lms.fake.fail = {("submissions", 1): ["403rate"] * 7}
    failed = lms.sync()
    assert failed.status == "failed"
    assert failed.error.startswith("could not read submissions from Canvas: HTTP 403 from ")
    # Status and our own words only: Canvas's text is not echoed on the admin sync page.
    assert failed.error.endswith("(throttled 7 times)") and "Forbidden" not in failed.error
    assert failed.counts["throttled"] == 6
    assert lms.snapshot() == before


def test_a_base_url_given_with_the_api_path_works(app: Flask, lms: Canvas) -> None:
    with app.app_context():
        source = db.session.scalar(select(DataSource))
        source.location = lms.fake.origin + "/api/v1/"
        db.session.commit()
        assert canvas.check_connection(source) == (
            True,
            "the token belongs to Integration Admin (Canvas user 1)",
        )
    assert lms.sync().status == "succeeded"


def test_a_stopping_process_stops_the_run_before_writing(app: Flask, lms: Canvas) -> None:
    calls = []

    def stopping() -> bool:
        calls.append(1)
        return len(calls) > 3  # three requests in, the scheduler is told to stop

    with app.app_context():
        run = runs.run_now(db.session, lms.course(), "canvas", should_stop=stopping)
        assert run.status == "failed" and run.error.startswith("stopped:")
        assert run.requests == 3 == lms.fake.total()
    # Only the teacher's launch is there: the sync wrote nothing.
    assert [e[5] for e in lms.snapshot()["enrollments"]] == ["lti"]
    assert people(app) == 1


def test_each_sync_keeps_this_weeks_score_snapshot_and_the_course_end(
    app: Flask, lms: Canvas
) -> None:
    """The at-risk track record judges past weeks by the scores of those weeks: each grades
    sync writes the week's snapshot (the week's last sync wins); Canvas's end_at is the end."""
    lms.fake.course["end_at"] = "2026-06-30T22:00:00Z"
    run = lms.sync()
    assert run.status == "succeeded", run.error
    with app.app_context():
        course = lms.course()
        scores = {
            s.person_id: s.current_score
            for s in db.session.scalars(
                select(LmsLearnerStats).where(LmsLearnerStats.course_id == course.id)
            )
            if s.current_score is not None
        }
        snaps = list(
            db.session.scalars(select(ScoreSnapshot).where(ScoreSnapshot.course_id == course.id))
        )
        assert scores and {s.person_id: s.score for s in snaps} == scores
        assert run.counts["score_snapshots"] == len(scores)
        assert len({s.week_start for s in snaps}) == 1 and snaps[0].week_start.weekday() == 0
        ends = db.session.get(CourseSettings, course.id).ends_on
        assert ends == date(2026, 6, 30)
    # A second sync in the same week replaces the week's rows, not adds to them.
    lms.sync()
    with app.app_context():
        again = db.session.scalar(
            select(func.count())
            .select_from(ScoreSnapshot)
            .where(ScoreSnapshot.course_id == lms.course().id)
        )
        assert again == len(scores)


def test_enrollment_dates_and_types_give_the_enrollment_history(app: Flask, lms: Canvas) -> None:
    from lti_tool.kpis.enrollment import enrollment_daily
    from lti_tool.models import LmsEnrollment

    fake = lms.fake
    made = (NOW - timedelta(days=60)).date()  # the fake makes every enrollment 60 days ago
    later = (NOW - timedelta(days=10)).replace(hour=12)
    fake.enrollment(1003)["created_at"] = iso(later)  # one student joined 50 days after
    assert lms.sync().status == "succeeded"
    with app.app_context():
        stored = {
            value: (row.created_at.date(), row.mode)
            for row, value in db.session.execute(
                select(LmsEnrollment, PersonIdentity.value)
                .join(PersonIdentity, PersonIdentity.person_id == LmsEnrollment.person_id)
                .where(PersonIdentity.kind == "canvas_user_id")
            ).tuples()
        }
        rows = enrollment_daily(db.session, lms.course(), today=NOW.date())
    assert stored["1003"] == (later.date(), "student")
    assert stored["1000"] == (made, "student")
    assert stored["52"] == (made, "student")  # inactive now
    assert stored["1"] == stored["50"] == stored["54"] == (made, "other")  # teacher, observer, TA
    table = {(r["date"], r["mode"]): (r["count"], r["cumulative_count"]) for r in rows}
    # Students: 12 active and Ina (inactive) and Dee (deleted), who count in the history only;
    # the test student is left out. Others: teacher, observer, TA, designer.
    assert table[(made.isoformat(), "student")] == (11, 13)
    assert table[(made.isoformat(), "other")] == (4, 4)
    assert table[(later.date().isoformat(), "student")] == (12, 14)
    assert table[(NOW.date().isoformat(), "all")] == (16, 18)
    assert min(r["date"] for r in rows) == made.isoformat()


@pytest.mark.parametrize(
    ("where", "failures", "english", "spanish"),
    [
        (("sections", 1), ["slow"] * 3, "ReadTimeout (after 3 attempts)", "(tras 3 intentos)"),
        (("enrollments", 1), ["malformed"], "answered malformed JSON", "JSON mal formado"),
        (("sections", 1), ["500"] * 3, "HTTP 500 from ", "HTTP 500 de "),
    ],
)
def test_a_failed_canvas_sync_is_shown_in_the_page_language(
    app: Flask, lms: Canvas, where: Any, failures: list[str], english: str, spanish: str
) -> None:
    if failures[0] == "slow":
        # Only the slow case needs a short timeout: on a loaded machine a malformed answer
        # could time out too, and its retry would get a whole page.
        app.config["SYNC_HTTP_TIMEOUT"] = "0.5"
        lms.fake.slow_seconds = 1.5
    lms.fake.fail = {where: failures}
    run = lms.sync()
    assert run.status == "failed"
    shown = error_in_languages(run.error, run.error_id, run.error_values)
    assert english in shown["en"] and spanish in shown["es"]
    assert shown["es"].startswith("no fue posible leer")


def test_a_canvas_course_not_found_is_shown_in_the_page_language(app: Flask, lms: Canvas) -> None:
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        course.lms_course_id = "999"
        db.session.commit()
    run = lms.sync()
    assert run.status == "failed"
    shown = error_in_languages(run.error, run.error_id, run.error_values)
    assert shown["en"].startswith("Canvas has no course 999 at ")
    assert shown["es"].startswith("Canvas no tiene el curso 999 en ")
