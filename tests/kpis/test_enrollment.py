"""Enrollment over time (issue 18, item 1): the `enrollment-daily` report equals what Open edX
Insights' pipeline (`insights/enrollments.py`: DaysEnrolledForEvents, then the GROUP BYs of
`course_enrollment_daily` and `course_enrollment_mode_daily`) gives on the same events.

The log below is written in the shape of the pipeline's acceptance fixture
(`enrollment_trends_tracking.log`): server events, the learner in `event.user_id` (and in
`context.user_id` when a learner acted themself; an `anonymous` username with no context user
when a command enrolled them). The expected rows are worked out by the pipeline's rules, which
the comments name:

- R1 state: an activation enrolls an unenrolled learner, a deactivation unenrolls an enrolled one.
- R2 mode: every event, whatever its name and state, sets the learner's mode to its own.
- R3 day end: a learner's record for a day is their state and mode after the day's last event
  (events of one instant sort by name: activated before deactivated before mode_changed).
- R4 history: a learner has one record a day from the day of their first event, whatever it is,
  to the last day; `count` sums the records enrolled at the end, `cumulative_count` counts all.
- R5 modes: per mode the same over the records whose mode is that mode; no record, no row.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import enrollment
from lti_tool.models import Course, CourseSettings, EnrollmentChange
from tests.helpers.tracking_logs import COURSE, ingest, report, write

LAST_DAY = date(2026, 3, 8)


def enrollment_line(stamp: str, action: str, user: int, mode: str, by_learner: bool = True) -> str:
    """An enrollment event as the pipeline's acceptance fixture writes them."""
    context: dict[str, Any] = {"course_id": COURSE, "org_id": "edX"}
    if by_learner:
        context.update(user_id=user, path="/change_enrollment")
    return json.dumps(
        {
            "username": f"learner{user}" if by_learner else "anonymous",
            "event_source": "server",
            "event_type": f"edx.course.enrollment.{action}",
            "name": f"edx.course.enrollment.{action}",
            "time": datetime.fromisoformat(stamp).replace(tzinfo=UTC).isoformat(),
            "host": "precise64",
            "context": context,
            "ip": "10.0.2.2",
            "event": {"course_id": COURSE, "user_id": user, "mode": mode},
            "agent": "",
            "page": None,
        }
    )


# Learner 1 changes mode; 2 unenrolls and re-enrolls two days later; 3 unenrolls and re-enrolls
# on one day; 4 enrolls and unenrolls on one day; 5 is first seen unenrolling; 6 is activated
# again in another mode while enrolled, unenrolls, then changes mode while unenrolled; 7
# enrolls and unenrolls at the same instant.
EVENTS = [
    ("2026-03-02 10:00:00", "activated", 1, "audit", False),
    ("2026-03-04 09:00:00", "mode_changed", 1, "verified", True),
    ("2026-03-02 11:00:00", "activated", 2, "honor", False),
    ("2026-03-03 12:00:00", "deactivated", 2, "honor", True),
    ("2026-03-05 08:00:00", "activated", 2, "honor", True),
    ("2026-03-03 09:00:00", "activated", 3, "verified", True),
    ("2026-03-03 10:00:00", "deactivated", 3, "verified", True),
    ("2026-03-03 18:00:00", "activated", 3, "verified", True),
    ("2026-03-04 09:00:00", "activated", 4, "audit", True),
    ("2026-03-04 17:00:00", "deactivated", 4, "audit", True),
    ("2026-03-05 12:00:00", "deactivated", 5, "honor", True),
    ("2026-03-02 09:00:00", "activated", 6, "audit", False),
    ("2026-03-03 09:00:00", "activated", 6, "verified", True),
    ("2026-03-06 10:00:00", "deactivated", 6, "verified", True),
    ("2026-03-07 10:00:00", "mode_changed", 6, "audit", True),
    # Written out of order on purpose: the pipeline sorts, so must we.
    ("2026-03-06 12:00:00", "deactivated", 7, "honor", True),
    ("2026-03-06 12:00:00", "activated", 7, "honor", True),
]

# (day, mode) -> (count, cumulative_count), by the rules above.
EXPECTED = {
    # 03-02: 1 audit, 2 honor, 6 audit enrolled (R1); the first day of each (R4).
    ("2026-03-02", "all"): (3, 3),
    ("2026-03-02", "audit"): (2, 2),
    ("2026-03-02", "honor"): (1, 1),
    # 03-03: 2 unenrolled, still honor (R1, R2); 3 unenrolled and back at 18:00: enrolled at
    # the day's end (R3); 6 activated again as verified while enrolled: now verified (R2).
    ("2026-03-03", "all"): (3, 4),
    ("2026-03-03", "audit"): (1, 1),
    ("2026-03-03", "honor"): (0, 1),
    ("2026-03-03", "verified"): (2, 2),
    # 03-04: 1 moved to verified and left audit, cumulative too (R5); 4 enrolled and unenrolled
    # on the day: a record not enrolled at the end, in audit (R3, R4).
    ("2026-03-04", "all"): (3, 5),
    ("2026-03-04", "audit"): (0, 1),
    ("2026-03-04", "honor"): (0, 1),
    ("2026-03-04", "verified"): (3, 3),
    # 03-05: 2 re-enrolled (R1); 5's first event is an unenrolment: a history from today, not
    # enrolled (R4), in honor (R2).
    ("2026-03-05", "all"): (4, 6),
    ("2026-03-05", "audit"): (0, 1),
    ("2026-03-05", "honor"): (1, 2),
    ("2026-03-05", "verified"): (3, 3),
    # 03-06: 6 unenrolled, still verified (R1, R2); 7's activation and deactivation at one
    # instant sort activated first: not enrolled at the end, honor (R3).
    ("2026-03-06", "all"): (3, 7),
    ("2026-03-06", "audit"): (0, 1),
    ("2026-03-06", "honor"): (1, 3),
    ("2026-03-06", "verified"): (2, 3),
    # 03-07: 6's mode change while unenrolled moves the record to audit, not enrolled (R1, R2).
    ("2026-03-07", "all"): (3, 7),
    ("2026-03-07", "audit"): (0, 2),
    ("2026-03-07", "honor"): (1, 3),
    ("2026-03-07", "verified"): (2, 2),
    # 03-08: no events; every record carries on (R4).
    ("2026-03-08", "all"): (3, 7),
    ("2026-03-08", "audit"): (0, 2),
    ("2026-03-08", "honor"): (1, 3),
    ("2026-03-08", "verified"): (2, 2),
}


def _log(tmp_path: Path) -> Path:
    return write(
        tmp_path / "enrollment_tracking.log",
        [
            enrollment_line(stamp, action, user, mode, mine)
            for stamp, action, user, mode, mine in EVENTS
        ],
    )


def _course() -> Course:
    course = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
    assert course is not None
    return course


def _table(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r["date"], r["mode"]): (r["count"], r["cumulative_count"]) for r in rows}


def test_daily_counts_equal_the_pipelines_on_its_fixture_shapes(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    with app.app_context():
        assert db.session.query(EnrollmentChange).count() == len(EVENTS)
        rows = enrollment.enrollment_daily(db.session, _course(), today=LAST_DAY)
    assert _table(rows) == EXPECTED
    # One row per day and mode, the course's total first, days in order.
    assert [(r["date"], r["mode"]) for r in rows[:3]] == [
        ("2026-03-02", "all"),
        ("2026-03-02", "audit"),
        ("2026-03-02", "honor"),
    ]
    assert {r["course"] for r in rows} == {COURSE}


def test_the_report_runs_from_the_first_enrollment_day_to_today(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    rows = report(runner, "enrollment-daily")
    today = datetime.now(UTC).date()
    days = sorted({r["date"] for r in rows})
    assert days[0] == "2026-03-02" and days[-1] == today.isoformat()
    assert len(days) == (today - date(2026, 3, 2)).days + 1  # every day, none skipped
    # After the last event nothing changes: today reads as 03-08 did.
    table = _table(rows)
    for mode in ("all", "audit", "honor", "verified"):
        assert table[(today.isoformat(), mode)] == EXPECTED[("2026-03-08", mode)]


def test_events_after_the_last_day_are_not_read(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    with app.app_context():
        rows = enrollment.enrollment_daily(db.session, _course(), today=date(2026, 3, 3))
    table = _table(rows)
    assert max(day for day, _ in table) == "2026-03-03"
    assert table[("2026-03-03", "all")] == EXPECTED[("2026-03-03", "all")]


def test_a_kept_history_counted_on_to_a_later_day_is_the_history_counted_that_day(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    with app.app_context():
        course = _course()
        # Kept on the last event's day (JSON and back, as the page summary keeps it).
        kept = json.loads(json.dumps(enrollment.as_figures(enrollment.enrollments(
            db.session, course, today=LAST_DAY
        ))))  # fmt: skip
        for later in (LAST_DAY, LAST_DAY + timedelta(days=1), LAST_DAY + timedelta(days=40)):
            counted = enrollment.enrollments(db.session, course, today=later)
            counted_on = enrollment.from_figures(kept, later)
            assert counted_on == counted
            split = enrollment.start_split(counted, date(2026, 3, 4))
            assert split is not None and split.before_ever + split.after_ever > 0
            assert counted_on is not None
            assert enrollment.start_split(counted_on, date(2026, 3, 4)) == split
        # Kept before the last changes: it cannot say what came after, nor what came before.
        early = enrollment.as_figures(
            enrollment.enrollments(db.session, course, today=date(2026, 3, 3))
        )
        assert enrollment.from_figures(early, LAST_DAY) is None
        assert enrollment.from_figures(kept, date(2026, 3, 7)) is None


def test_days_are_the_course_time_zones(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    # 02:00 UTC on 03-03 is 21:00 on 03-02 in New York: learner 1 enrolls on 03-02 there.
    log = write(
        tmp_path / "tz.log",
        [
            enrollment_line("2026-03-03 02:00:00", "activated", 1, "audit"),
            enrollment_line("2026-03-03 15:00:00", "activated", 2, "verified"),
        ],
    )
    ingest(runner, log)
    with app.app_context():
        course = _course()
        utc = _table(enrollment.enrollment_daily(db.session, course, today=date(2026, 3, 3)))
        db.session.add(CourseSettings(course_id=course.id, time_zone="America/New_York"))
        db.session.commit()
        local = _table(enrollment.enrollment_daily(db.session, course, today=date(2026, 3, 3)))
    assert utc == {
        ("2026-03-03", "all"): (2, 2),
        ("2026-03-03", "audit"): (1, 1),
        ("2026-03-03", "verified"): (1, 1),
    }
    assert local == {
        ("2026-03-02", "all"): (1, 1),
        ("2026-03-02", "audit"): (1, 1),
        ("2026-03-03", "all"): (2, 2),
        ("2026-03-03", "audit"): (1, 1),
        ("2026-03-03", "verified"): (1, 1),
    }


def test_an_event_stored_without_a_mode_counts_in_mode_unknown(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # Events ingested before modes were kept have none (until `--reprocess`); the learner still
    # counts, under the pipeline's own name for a mode not known.
    ingest(
        runner,
        write(
            tmp_path / "a.log", [enrollment_line("2026-03-02 10:00:00", "activated", 1, "audit")]
        ),
    )
    with app.app_context():
        for row in db.session.scalars(select(EnrollmentChange)):
            row.mode = None
        db.session.commit()
        rows = enrollment.enrollment_daily(db.session, _course(), today=date(2026, 3, 2))
    assert _table(rows) == {("2026-03-02", "all"): (1, 1), ("2026-03-02", "unknown"): (1, 1)}


def test_other_enrollment_events_are_not_read(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # edx.course.enrollment.upgrade.succeeded is kept with the enrollment events, but the
    # pipeline reads only activated, deactivated and mode_changed: no history, no mode change.
    lines = [
        enrollment_line("2026-03-02 10:00:00", "upgrade.succeeded", 1, "verified"),
        enrollment_line("2026-03-03 10:00:00", "activated", 2, "audit"),
        enrollment_line("2026-03-03 11:00:00", "upgrade.succeeded", 2, "verified"),
    ]
    ingest(runner, write(tmp_path / "upgrade.log", lines))
    with app.app_context():
        assert db.session.query(EnrollmentChange).count() == 3
        rows = enrollment.enrollment_daily(db.session, _course(), today=date(2026, 3, 3))
    assert _table(rows) == {("2026-03-03", "all"): (1, 1), ("2026-03-03", "audit"): (1, 1)}


def test_a_course_without_enrollment_events_has_no_rows(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    from tests.helpers.tracking_logs import event

    ingest(runner, write(tmp_path / "b.log", [event("2026-03-02 10:00:00")]))
    with app.app_context():
        assert enrollment.enrollment_daily(db.session, _course(), today=LAST_DAY) == []


def test_the_same_events_for_some_people_only(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    with app.app_context():
        course = _course()
        changes = enrollment.learner_changes(db.session, course)
        # Learners 1 and 2 only (a section), found by their first events' times.
        first = {min(events).time: person_id for person_id, events in changes.items()}
        people = {
            first[datetime(2026, 3, 2, 10, tzinfo=UTC).timestamp()],
            first[datetime(2026, 3, 2, 11, tzinfo=UTC).timestamp()],
        }
        rows = enrollment.enrollment_daily(db.session, course, people, today=date(2026, 3, 5))
    # 1: audit, verified from 03-04; 2: honor, out on 03-03 and 03-04, back on 03-05.
    assert _table(rows) == {
        ("2026-03-02", "all"): (2, 2),
        ("2026-03-02", "audit"): (1, 1),
        ("2026-03-02", "honor"): (1, 1),
        ("2026-03-03", "all"): (1, 2),
        ("2026-03-03", "audit"): (1, 1),
        ("2026-03-03", "honor"): (0, 1),
        ("2026-03-04", "all"): (1, 2),
        ("2026-03-04", "honor"): (0, 1),
        ("2026-03-04", "verified"): (1, 1),
        ("2026-03-05", "all"): (2, 2),
        ("2026-03-05", "honor"): (1, 1),
        ("2026-03-05", "verified"): (1, 1),
    }


def test_an_instructors_enrollment_of_a_learner_is_the_learners(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # The instructor (user 99) enrolls learner 7 from the instructor dashboard: the context
    # and username are the instructor's, the payload names the learner, as the pipeline reads it.
    line = json.loads(enrollment_line("2026-03-02 10:00:00", "activated", 7, "audit"))
    line["username"], line["context"]["user_id"] = "teacher", 99
    ingest(runner, write(tmp_path / "batch.log", [json.dumps(line)]))
    with app.app_context():
        from lti_tool.models import PersonIdentity

        [(kind, value)] = db.session.execute(
            select(PersonIdentity.kind, PersonIdentity.value).join(
                EnrollmentChange, EnrollmentChange.person_id == PersonIdentity.person_id
            )
        ).all()
        rows = enrollment.enrollment_daily(db.session, _course(), today=date(2026, 3, 2))
    assert (kind, value) == ("openedx_user_id", "7")  # not the instructor, nor their username
    assert _table(rows) == {("2026-03-02", "all"): (1, 1), ("2026-03-02", "audit"): (1, 1)}


def _records_by_replay(
    learners: list[list[enrollment.Change]], last_day: date
) -> dict[tuple[str, str], tuple[int, int]]:
    """The rules R1-R5 read literally: for every learner and every day from their first event to
    the last day, replay their events up to the end of that day; then the two GROUP BYs."""
    table: dict[tuple[str, str], list[int]] = {}
    for events in learners:
        ordered = sorted(events)
        first = datetime.fromtimestamp(ordered[0].time, UTC).date()
        day = first
        while day <= last_day:
            end = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400
            enrolled, mode = False, "unknown"
            for change in ordered:
                if change.time >= end:
                    break
                enrolled = {enrollment.ACTIVATED: True, enrollment.DEACTIVATED: False}.get(
                    change.name, enrolled
                )
                mode = change.mode
            for key in ((day.isoformat(), "all"), (day.isoformat(), mode)):
                row = table.setdefault(key, [0, 0])
                row[0] += enrolled
                row[1] += 1
            day += timedelta(days=1)
    return {key: (row[0], row[1]) for key, row in table.items()}


_NAMES = st.sampled_from([enrollment.ACTIVATED, enrollment.DEACTIVATED, enrollment.MODE_CHANGED])
_CHANGES = st.builds(
    enrollment.Change,
    # Whole hours over six days from 2026-03-02 (UTC), so that instants and days repeat.
    st.integers(0, 6 * 24 - 1).map(
        lambda hour: datetime(2026, 3, 2, tzinfo=UTC).timestamp() + hour * 3600.0
    ),
    _NAMES,
    st.sampled_from(["audit", "verified", "honor"]),
)


@settings(max_examples=400, deadline=None)
@given(learners=st.lists(st.lists(_CHANGES, min_size=1, max_size=6), min_size=1, max_size=5))
def test_the_counts_are_the_rules_replayed_day_by_day(
    learners: list[list[enrollment.Change]],
) -> None:
    last_day = date(2026, 3, 8)
    rows = enrollment.daily_counts(
        [enrollment.day_ends(events, ZoneInfo("UTC"), last_day) for events in learners], last_day
    )
    got = {(r.day.isoformat(), r.mode): (r.count, r.cumulative_count) for r in rows}
    assert got == _records_by_replay(learners, last_day)


def _tally(learners: list[tuple[list[enrollment.Change], bool]]) -> enrollment.Tally:
    """The tally of some learners' histories (their changes, whether from LMS dates)."""
    tally = enrollment.Tally(date(2026, 3, 8))
    for events, dated in learners:
        tally.add(events, dated, ZoneInfo("UTC"))
    return tally


@settings(max_examples=300, deadline=None)
@given(
    kept=st.lists(st.tuples(st.lists(_CHANGES, min_size=1, max_size=5), st.booleans()), max_size=4),
    before=st.lists(
        st.tuples(st.lists(_CHANGES, min_size=1, max_size=5), st.booleans()), max_size=3
    ),
    after=st.lists(
        st.tuples(st.lists(_CHANGES, min_size=1, max_size=5), st.booleans()), max_size=3
    ),
)
def test_a_tally_takes_histories_out_and_adds_them_exactly(
    kept: list[tuple[list[enrollment.Change], bool]],
    before: list[tuple[list[enrollment.Change], bool]],
    after: list[tuple[list[enrollment.Change], bool]],
) -> None:
    # Some learners' histories replaced (taken out as they were, added as they are): the
    # counts are those of the histories now counted from scratch, stored and read back too.
    zone = ZoneInfo("UTC")
    tally = _tally(kept + before)
    for events, dated in before:
        tally.add(events, dated, zone, -1)
    for events, dated in after:
        tally.add(events, dated, zone)
    fresh = _tally(kept + after)
    tally.latest = fresh.latest  # taking out leaves it; since() counts again when it went
    assert enrollment.counted(tally, zone) == enrollment.counted(fresh, zone)
    figures = json.loads(
        json.dumps(
            {
                **enrollment.as_figures(enrollment.counted(tally, zone)),
                **enrollment.tally_as_data(tally),
            }
        )
    )
    assert enrollment.counted(enrollment.tally_from(figures), zone) == enrollment.counted(
        fresh, zone
    )
