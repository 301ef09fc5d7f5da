"""The learner summary after an ingest of a few learners: only their rows are built and written
when everything else a row is measured against (the class's thresholds and segment cuts, the
day, the settings, roster and syncs) is as the stored rows were; the whole class otherwise. The
rows equal what the KPI functions compute from the stored data either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lti_tool import platforms
from lti_tool.activity.rollups import summaries_later, week_start
from lti_tool.extensions import db
from lti_tool.kpis import (
    activity,
    at_risk,
    class_spread,
    course_settings,
    course_summary,
    geography,
    learner_activity,
    learner_summary,
    learners,
    names,
    page_summary,
    roster,
    video_engagement,
)
from lti_tool.launch import records
from lti_tool.models import (
    Course,
    LearnerSummaryState,
    LmsLearnerStats,
    PersonIdentity,
    Platform,
)
from lti_tool.models.types import utcnow
from lti_tool.people import linking
from lti_tool.people.merge import merge_people
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.people.roles import course_role
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.api import lab, make_token, post_events
from tests.helpers.client import https_client
from tests.helpers.database import make_app
from tests.helpers.tracking_logs import COURSE, days_ago, event, log_course, with_ip
from tests.kpis.test_class_sums import _counting, _log, _stored_and_expected, eight_learners
from tests.kpis.test_geography import JP, US
from tests.kpis.test_learner_summary import _computed, _same, _stored


def _pages(
    folder: Path,
    name: str,
    views: dict[int, int],
    day: date,
    addresses: dict[int, str] | None = None,
) -> Path:
    """A log of `views[user]` courseware pages each user opened on `day`, a minute apart
    (from `addresses[user]`, when given)."""
    lines = []
    for user, count in views.items():
        for n in range(count):
            line = event(
                f"{day.isoformat()} {9 + n // 60:02d}:{n % 60:02d}:00",
                f"/courses/{COURSE}/courseware/w/{n % 4}/",
                user=user,
                username=f"u{user}",
            )
            address = (addresses or {}).get(user)
            lines.append(with_ip(line, address) if address else line)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield from eight_learners(tmp_path)


def _counting_rows(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the learner summary's rows built one by one (row_of) and as the whole class's,
    the learners assessed ("assessed") and the reads of resources' first meetings (a scan of
    every learner's resources)."""
    calls: Counter[str] = Counter()
    for name in ("row_of", "learner_rows"):
        real = getattr(learner_summary, name)

        def counted(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls[_name] += 1
            return _real(*args)

        monkeypatch.setattr(learner_summary, name, counted)
    real_first_seen = names.first_seen

    def first_seen(*args: Any) -> Any:
        calls["first_seen"] += 1
        return real_first_seen(*args)

    monkeypatch.setattr(names, "first_seen", first_seen)
    real_assess = learners.assess

    def assessed(members: dict[int, Any], *args: Any, **kwargs: Any) -> Any:
        calls["assessed"] += len(members)
        return real_assess(members, *args, **kwargs)

    monkeypatch.setattr(learners, "assess", assessed)
    return calls


def _same_course_figures(course: Course) -> None:
    """The stored at-risk counts and class size are the whole class's, computed afresh."""
    figures = course_summary.stored(db.session, course)
    assert figures is not None
    data = learners.class_data(db.session, course, key=pseudonym_key())
    assert figures.at_risk == at_risk.counts(data.risks)
    assert figures.class_size == len(data.members)


def _measures() -> str | None:
    """The stored rows' measures digest."""
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, log_course().id)
    assert state is not None
    return state.measures


def _segment_day() -> date:
    """A day inside the course's last complete week (its segment week)."""
    course = log_course()
    today = course_settings.load(db.session, course).today(utcnow())
    return week_start(today) - timedelta(days=5)


def test_an_ingest_of_a_few_learners_builds_only_their_rows(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _measures()
    calls = _counting_rows(monkeypatch)
    # Two learners of the class and one new to it, active long before the segment week and the
    # 7 days: nothing any other learner is measured against moves.
    long_ago = (utcnow() - timedelta(days=60)).date()
    log = _pages(tmp_path, "old.log", {7: 3, 8: 1, 20: 2}, long_ago)
    ingest_tracking_logs(db.session, [log], None, workers=0)
    assert _measures() == before
    # (Their first meetings of the resources are the same or earlier: none looked up again.)
    assert calls == {"row_of": 3, "assessed": 3}
    course = log_course()
    rows = _stored(course)
    _same(rows, _computed(course, pseudonym_key()))
    _same_course_figures(course)
    assert sum(course_summary.stored(db.session, course).at_risk.values()) > 0  # type: ignore[union-attr]
    # The class's sums followed too: the replaced learners' viewings, the same before and
    # after, neither taken out nor added again.
    _same_class_sums()
    assert len(rows) == 9
    assert [r["time_total"] for r in rows if r["learner"] == "u20"] != [0]


def test_an_ingest_that_moves_the_segment_cuts_builds_the_whole_class(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _measures()
    calls = _counting_rows(monkeypatch)
    # New learners, one far busier than the others, in the segment week: its high ranges move.
    log = _pages(tmp_path, "busy.log", {30: 1, 31: 2, 32: 90}, _segment_day())
    ingest_tracking_logs(db.session, [log], None, workers=0)
    assert _measures() != before
    assert calls["learner_rows"] == 1
    course = log_course()
    assert calls["assessed"] == len(_stored(course)) == 11
    _same(_stored(course), _computed(course, pseudonym_key()))
    _same_course_figures(course)


def test_a_settings_change_builds_the_whole_class_and_the_next_ingest_its_learners(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = log_course()
    before = _measures()
    calls = _counting_rows(monkeypatch)
    settings = course_settings.load(db.session, course)
    course_settings.save(db.session, course, replace(settings, risk_inactive_days=3))
    db.session.commit()
    learner_summary.current(db.session, course, key=pseudonym_key())
    db.session.commit()
    assert _measures() != before
    assert calls == {"learner_rows": 1, "assessed": 8}
    _same(_stored(course), _computed(course, pseudonym_key()))
    long_ago = (utcnow() - timedelta(days=60)).date()
    log = _pages(tmp_path, "old.log", {7: 2}, long_ago)
    calls.clear()
    ingest_tracking_logs(db.session, [log], None, workers=0)
    assert calls == {"row_of": 1, "assessed": 1}
    _same(_stored(course), _computed(course, pseudonym_key()))
    _same_course_figures(course)


def _renamed() -> list[int] | None:
    """The learners the stored state says were shown otherwise since its rows were written."""
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, log_course().id)
    assert state is not None and state.stale_at is not None
    return None if state.renamed is None else orjson.loads(state.renamed)


def _link_by_username(learner: int, sub: str) -> None:
    """A learner's first launch (a new LTI sub beside the logs' username), in a transaction
    that leaves the summaries for later, as a launch's does."""
    username = db.session.scalar(
        select(PersonIdentity.value).where(
            PersonIdentity.person_id == learner, PersonIdentity.kind == "openedx_username"
        )
    )
    summaries_later(db.session)
    linking.link_person(
        db.session, None, linking.Claim([("lti_sub", sub), ("openedx_username", username)])
    )
    db.session.commit()


def test_a_launch_naming_a_learner_then_an_ingest_builds_theirs_and_its_learners_rows(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner's first launch names them otherwise (their row's label), their figures as they
    # were: the course is marked stale with who they are, and the next ingest's refresh builds
    # their row and its own learners' alone.
    course = log_course()
    first = sorted(learner_summary.member_ids(db.session, course))[0]
    _link_by_username(first, "first-launch")
    assert _renamed() == [first]
    calls = _counting_rows(monkeypatch)
    long_ago = (utcnow() - timedelta(days=60)).date()
    ingest_tracking_logs(
        db.session, [_pages(tmp_path, "old.log", {7: 2}, long_ago)], None, workers=0
    )
    assert calls == {"row_of": 2, "assessed": 2}
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, course.id)
    assert state is not None and state.stale_at is None and state.renamed is None
    _same(_stored(course), _computed(course, pseudonym_key()))


def test_a_course_stale_for_reasons_unknown_builds_the_whole_class(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marked stale by a small write (as an event-API batch's commit marks it), then a launch
    # naming a learner: who changed is not known, so the next refresh builds every row.
    course = log_course()
    learner_summary.mark_stale(db.session, [course.id])
    db.session.commit()
    _link_by_username(sorted(learner_summary.member_ids(db.session, course))[0], "a-launch")
    assert _renamed() is None
    calls = _counting_rows(monkeypatch)
    long_ago = (utcnow() - timedelta(days=60)).date()
    ingest_tracking_logs(
        db.session, [_pages(tmp_path, "old.log", {7: 2}, long_ago)], None, workers=0
    )
    assert calls["learner_rows"] == 1 and "row_of" not in calls
    _same(_stored(course), _computed(course, pseudonym_key()))


@pytest.fixture
def lms_app(tmp_path: Path) -> Iterator[Flask]:
    """eight_learners's course and log, of an LMS's logs (its launches link its learners)."""
    flask_app = make_app(tmp_path)
    with flask_app.app_context():
        lms = platforms.add_platform(db.session, "LMS", "https://lms.example.edu")
        db.session.commit()
        log = _log(tmp_path, "first.log", range(1, 9), 0)
        ingest_tracking_logs(db.session, [log], lms, workers=0)
        yield flask_app
        db.session.remove()


LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def _lms() -> int:
    """A platform the course's launches come from (committed); its id."""
    platform = platforms.add_platform(db.session, "LMS", "https://lms.example.edu").id
    db.session.commit()
    return platform


def _launch(
    course: Course, platform: int, sub: str, name: str, role: str, username: str = ""
) -> int:
    """A launch of `sub` into the course (its person and enrollment recorded, committed as a
    launch commits), with the logs' username when given; the person's id."""
    roles = [role]
    claims = {"sub": sub, "name": name, "preferred_username": username}
    person = records.record_membership(course, platform, claims, roles, course_role(roles))
    db.session.commit()
    return person.id


def test_a_launch_enrolling_a_learner_builds_their_row_alone(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every learner's first launch enrolls them: the course is marked stale with who, and the
    # refresh writes the newcomer's row, the others' standing (the roster's size and latest
    # change are not what the others are measured against).
    course = log_course()
    platform = _lms()
    before = _measures()
    newcomer = _launch(course, platform, "s-new", "Ada Newcomer", LEARNER)
    assert _renamed() == [newcomer]
    calls = _counting_rows(monkeypatch)
    assert learner_summary.refresh_stale(db.session, pseudonym_key()) == 1
    assert calls == {"row_of": 1, "assessed": 1}
    assert _measures() == before
    rows = _stored(course)
    assert [r["name"] for r in rows if r["person"] == newcomer] == ["Ada Newcomer"]
    _same(rows, _computed(course, pseudonym_key()))
    _same_course_figures(course)
    _same_class_sums()


def test_a_launch_that_makes_a_learner_staff_drops_their_row_alone(
    lms_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner of the logs launching as an instructor (a teaching assistant who once tried
    # the course) leaves the class: their row goes, nobody's is built, and what they added to
    # the class's sums is taken out.
    course = log_course()
    lms = db.session.get(Platform, course.platform_id)
    assert lms is not None
    # Active long before the segment week: their leaving moves nothing the others are
    # measured against.
    long_ago = (utcnow() - timedelta(days=60)).date()
    ingest_tracking_logs(
        db.session, [_pages(tmp_path, "ta.log", {20: 3}, long_ago)], lms, workers=0
    )
    logs_learner = _person_of("u20")
    assert logs_learner in learner_summary.member_ids(db.session, course)
    before = _stored_and_expected()
    calls = _counting_rows(monkeypatch)
    assert _launch(course, lms.id, "s-ta", "Tia Assistant", INSTRUCTOR, "u20") == logs_learner
    assert _renamed() == [logs_learner]
    assert learner_summary.refresh_stale(db.session, pseudonym_key()) == 1
    assert "learner_rows" not in calls and "row_of" not in calls
    assert logs_learner not in learner_summary.member_ids(db.session, course)
    assert _stored_and_expected() != before  # (their pages were in the sums)
    _same(_stored(course), _computed(course, pseudonym_key()))
    _same_course_figures(course)
    _same_class_sums()


def test_the_first_launch_into_a_course_of_the_logs_adds_up_nobody_again(
    lms_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The logs brought the course before anyone launched it: the first launch gives it its
    # title, label and roster address, which no figure is computed from. The next refresh
    # builds nobody's row and reads none of the class's activity again (before: the course's
    # row updated stamped its activity mark, and the whole class was added up again).
    course = log_course()
    assert (course.title, course.label, course.nrps_memberships_url) == (COURSE, None, None)
    mark = course.updated_at
    calls = _counting_rows(monkeypatch)
    added_up = _counting(monkeypatch)
    nrps = "https://lms.example.edu/api/lti/courses/7/names_and_roles"
    claims = {
        records.CONTEXT: {"id": course.lti_context_id, "label": "LA101", "title": "Analytics"},
        records.NRPS: {"context_memberships_url": nrps},
        "aud": "client-1",
    }
    assert course.platform_id is not None
    assert records.upsert_course(course.platform_id, claims) is course
    _launch(course, course.platform_id, "s-teacher", "Tess Teacher", INSTRUCTOR)
    db.session.expire_all()
    launched = log_course()
    assert (launched.title, launched.label) == ("Analytics", "LA101")
    assert (launched.nrps_memberships_url, launched.nrps_client_id) == (nrps, "client-1")
    assert launched.updated_at == mark
    learner_summary.refresh_stale(db.session, pseudonym_key())
    assert "learner_rows" not in calls and "row_of" not in calls
    assert added_up == []
    _same(_stored(launched), _computed(launched, pseudonym_key()))
    _same_class_sums()


def _person_of(username: str) -> int:
    """The person the logs know by this username."""
    found = db.session.scalar(
        select(PersonIdentity.person_id).where(
            PersonIdentity.kind == "openedx_username", PersonIdentity.value == username
        )
    )
    assert found is not None
    return found


def _same_class_sums() -> None:
    """The stored class sums are those of the class's rows now, counted afresh."""
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]


def test_merging_two_people_writes_the_kept_ones_row_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner of the logs (no name) and a launch's person with a name turn out to be one:
    # the kept person takes the name, and their row shows it after the next refresh.
    course = log_course()
    platform = _lms()
    first = sorted(learner_summary.member_ids(db.session, course))[0]
    named = _launch(course, platform, "s-named", "Grace Named", LEARNER)
    learner_summary.refresh_stale(db.session, pseudonym_key())
    calls = _counting_rows(monkeypatch)
    summaries_later(db.session)
    merge_people(db.session, first, named)
    db.session.commit()
    assert _renamed() == [first]
    learner_summary.refresh_stale(db.session, pseudonym_key())
    assert calls == {"row_of": 1, "assessed": 1}
    rows = _stored(course)
    assert [r["name"] for r in rows if r["person"] == first] == ["Grace Named"]
    _same(rows, _computed(course, pseudonym_key()))


def test_an_ingest_moving_the_little_time_threshold_builds_only_the_rows_it_changes(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A course with scores: the little-time threshold (a percentile of every learner's time)
    # counts, and an ingest that adds time to the least active learners moves it. Only their
    # rows and those whose little-time reason the move gives, takes or words otherwise are
    # built (theirs from their kept totals); the others stand, and the class is not built.
    course = log_course()
    long_ago = (utcnow() - timedelta(days=60)).date()
    ingest_tracking_logs(
        db.session,
        [_pages(tmp_path, "spread.log", {user: user - 8 for user in range(10, 30)}, long_ago)],
        None,
        workers=0,
    )
    # Scores as a sync brings them (its commit marks the summaries stale): half the class
    # below the median score.
    for person in sorted(learner_summary.member_ids(db.session, course)):
        score = 40.0 if person % 2 else 90.0
        db.session.add(
            LmsLearnerStats(
                course_id=course.id, person_id=person, source="canvas", current_score=score
            )
        )
    learner_summary.mark_stale(db.session, [course.id])
    db.session.commit()
    learner_summary.current(db.session, course, key=pseudonym_key())
    db.session.commit()
    limit_before, measures_before = _time_limit(), _measures()
    assert limit_before is not None
    before = {r["person"]: r for r in _stored(course)}
    calls = _counting_rows(monkeypatch)
    monkeypatch.setattr(learner_summary, "class_data", _refused("class_data"))
    # The three least active learners, far more active now, on another day long ago.
    least = sorted(before.values(), key=lambda r: (r["time_total"], r["person"]))[:3]
    busier = {_user_of(r["person"]): 40 for r in least}
    ingest_tracking_logs(
        db.session,
        [_pages(tmp_path, "busier.log", busier, long_ago - timedelta(days=1))],
        None,
        workers=0,
    )
    assert _measures() == measures_before
    assert _time_limit() != limit_before
    after = {r["person"]: r for r in _stored(course)}
    ingested = {r["person"] for r in least}
    reworded = {p for p in after if p not in ingested and after[p] != before[p]}
    assert reworded  # (the move changed someone else's reason)
    assert "learner_rows" not in calls
    assert len(ingested | reworded) <= calls["row_of"] < len(after)
    _same(list(after.values()), _computed(course, pseudonym_key()))
    _same_course_figures(course)


def _time_limit() -> float | None:
    """The little-time threshold the stored rows were assessed with."""
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, log_course().id)
    assert state is not None
    return state.time_limit


def _user_of(person: int) -> int:
    """The logs' user id of a learner (their username is u<id>)."""
    username = db.session.scalar(
        select(PersonIdentity.value).where(
            PersonIdentity.person_id == person, PersonIdentity.kind == "openedx_username"
        )
    )
    assert username is not None and username.startswith("u")
    return int(username[1:])


def _batch(app: Flask, token: str, users: list[str], minutes: int, day: int, hour: int) -> None:
    """An event-API batch of lab events of these users, a few minutes' work each at an hour
    `day` days ago (long before the segment week: no cut moves), its commit marking the
    summaries stale, as a small write's does."""
    db.session.commit()
    body = [
        lab(user=user, stamp=days_ago(day, 3600 * hour + 60 * minute), exp=f"exp{minute % 3}")
        for user in users
        for minute in range(minutes)
    ]
    answer = post_events(https_client(app), token, body)
    assert answer.status_code == 200 and answer.json["stored"] == len(body)
    db.session.expire_all()


def test_event_batches_of_a_few_learners_are_followed_by_the_next_refresh(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small writes carry their replaced rows to the refresh (the scheduler's job or the next
    # reader): it builds their learners' rows alone and adds their change to the class's sums,
    # as an ingest's own commit does, instead of adding the whole class up again.
    course = log_course()
    token = make_token(app.test_cli_runner(), "lab", course=COURSE)
    key = pseudonym_key()
    _batch(app, token, ["lab-a", "lab-b"], 3, 60, 1)
    _batch(app, token, ["lab-a"], 5, 60, 2)  # a second batch, one learner again
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, course.id)
    assert state is not None and state.stale_at is not None and state.carried_to is not None
    calls = _counting_rows(monkeypatch)
    class_reads = _counting(monkeypatch)
    assert learner_summary.refresh_stale(db.session, key) == 1
    assert calls["row_of"] == 2 and "learner_rows" not in calls
    assert class_reads == []
    rows = _stored(course)
    _same(rows, _computed(course, key))
    _same_class_sums()
    _same_course_figures(course)
    # Their rows again, twice, now with figures of their own: taken out of the sums as they
    # were before the first of the two.
    calls.clear()
    class_reads.clear()
    _batch(app, token, ["lab-a"], 2, 62, 3)
    _batch(app, token, ["lab-a"], 2, 61, 3)  # a day of its own
    assert learner_summary.refresh_stale(db.session, key) == 1
    assert calls["row_of"] == 1 and class_reads == []
    _same(_stored(course), _computed(course, key))
    _same_class_sums()
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, course.id)
    assert state is not None and state.carried_to is None and state.stale_at is None


def test_a_batch_then_an_ingest_are_followed_together(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch carried, then an ingest before any refresh: the ingest's commit follows both.
    course = log_course()
    token = make_token(app.test_cli_runner(), "lab", course=COURSE)
    _batch(app, token, ["lab-a"], 3, 60, 1)
    calls = _counting_rows(monkeypatch)
    class_reads = _counting(monkeypatch)
    long_ago = (utcnow() - timedelta(days=60)).date()
    ingest_tracking_logs(
        db.session, [_pages(tmp_path, "old.log", {7: 2}, long_ago)], None, workers=0
    )
    assert calls["row_of"] == 2 and class_reads == []
    _same(_stored(course), _computed(course, pseudonym_key()))
    _same_class_sums()


def test_a_batch_after_a_change_of_unknown_reach_is_not_carried(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Marked stale for reasons unknown first (as a purge's commit marks it): the batch's rows
    # are not carried, and the refresh adds the whole class up.
    course = log_course()
    learner_summary.mark_stale(db.session, [course.id])
    token = make_token(app.test_cli_runner(), "lab", course=COURSE)
    _batch(app, token, ["lab-a"], 3, 60, 1)
    db.session.expire_all()
    state = db.session.get(LearnerSummaryState, course.id)
    assert state is not None and state.carried_to is None and state.renamed is None
    calls = _counting_rows(monkeypatch)
    assert learner_summary.refresh_stale(db.session, pseudonym_key()) == 1
    assert calls["learner_rows"] == 1
    _same(_stored(course), _computed(course, pseudonym_key()))
    _same_class_sums()


def test_an_ingest_of_a_few_learners_builds_neither_the_class_nor_its_kept_totals(
    lms_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refresh after an ingest of a few learners (two of the class, one new to it) reads back
    # no other learner's kept totals and builds no other learner: the class's thresholds, cuts
    # and weekly quartiles come off its spread.
    course = log_course()
    lms = db.session.get(Platform, course.platform_id)
    assert lms is not None
    key = pseudonym_key()
    whole: list[Any] = []
    real_load = learner_summary.load_members

    def load(*args: Any, **kwargs: Any) -> Any:
        whole.append(kwargs.get("people"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(learner_summary, "load_members", load)
    monkeypatch.setattr(learner_summary, "class_data", _refused("class_data"))
    monkeypatch.setattr(learner_activity, "kept", _refused("kept"))
    long_ago = (utcnow() - timedelta(days=60)).date()
    log = _pages(tmp_path, "week.log", {2: 3, 5: 2, 21: 2}, long_ago, {2: US, 21: JP})
    ingest_tracking_logs(db.session, [log], lms, workers=0)
    db.session.commit()
    monkeypatch.undo()
    people = {p: _person_of(f"u{p}") for p in (2, 5, 21)}
    # Those whose values were taken out (the two of the class), then those built again.
    assert whole == [{people[2], people[5]}, set(people.values())]
    rows = _stored(course)
    assert len(rows) == 9
    _same(rows, _computed(course, key))
    _same_class_sums()
    stored = course_summary.stored(db.session, course)
    assert stored is not None
    data = learners.class_data(db.session, course, key=key)
    weeks = activity.week_counts(db.session, course, set(data.members))
    assert stored == course_summary.figures_of(db.session, data, weeks)
    # The spread kept is the whole class's, as a refresh from scratch takes it.
    state = db.session.get(LearnerSummaryState, course.id)
    assert state is not None
    kept = class_spread.read(db.session, course, state.activity)
    assert kept is not None
    expected = class_spread.of_class(state.activity, data.members, data.segment_week, data.attempts)
    assert (kept.people, kept.active, kept.values, kept.attempts) == (
        expected.people,
        expected.active,
        expected.values,
        expected.attempts,
    )
    assert kept.values[class_spread.SECONDS]  # (the segment week has active learners)
    # The next one follows who has activity (the class, without a roster) too: no learner-day
    # but those of the learners it replaced is read.
    assert kept.seen == set(data.members)
    monkeypatch.setattr(roster, "_seen", _refused("_seen"))
    monkeypatch.setattr(learner_activity, "kept", _refused("kept"))
    # (Every video viewed has a known duration: the videos viewed are not looked up.)
    monkeypatch.setattr(video_engagement, "viewed_videos", _refused("viewed_videos"))
    # Nor who was active in the 7 days, nor the learners' countries: followed too.
    monkeypatch.setattr(learner_summary, "learner_countries", _refused("learner_countries"))
    real_active = learner_summary.active_since

    def active_of_some(*args: Any) -> Any:
        assert len(args) == 4, "every learner's days read"
        return real_active(*args)

    monkeypatch.setattr(learner_summary, "active_since", active_of_some)
    # A learner active today becomes staff (a launch as an instructor): out of the class and
    # of its count of the active, with the ingest's learners.
    assert _launch(course, lms.id, "s-ta", "Tia Assistant", INSTRUCTOR, "u5") == people[5]
    today = course_settings.load(db.session, course).today(utcnow())
    log = _pages(tmp_path, "again.log", {2: 2, 3: 2, 22: 2}, today, {2: JP, 3: US})
    ingest_tracking_logs(db.session, [log], lms, workers=0)
    db.session.commit()
    monkeypatch.undo()
    rows = _stored(course)
    assert len(rows) == 9 and people[5] not in {r["person"] for r in rows}
    _same(rows, _computed(course, key))
    _same_class_sums()
    data = learners.class_data(db.session, course, key=key)
    weeks = activity.week_counts(db.session, course, set(data.members))
    assert course_summary.stored(db.session, course) == course_summary.figures_of(
        db.session, data, weeks
    )
    countries = page_summary.stored(db.session, course, page_summary.COUNTRIES, None)
    expected_countries = geography.country_counts(db.session, course, set(data.members))
    assert countries == {"counts": expected_countries}
    assert expected_countries["JP"] == 2


def _refused(name: str) -> Any:
    """A stand-in for a function the code under test must not call."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{name} was called")

    return refused


def _person_of(username: str) -> int:
    """The person id of an Open edX username."""
    found = db.session.scalar(
        select(PersonIdentity.person_id).where(PersonIdentity.value == username)
    )
    assert found is not None
    return found


def test_an_ingest_in_a_course_with_lms_scores_builds_only_its_learners(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The class's median score, which every row is measured against, is taken of the class's
    # LMS rows: an ingest that moves no score (nor the little-time threshold: the same log
    # read again, its learners' rows rebuilt as they were) follows its learners alone.
    course = log_course()
    key = pseudonym_key()
    members = sorted(roster.class_member_ids(db.session, course))
    for number, person in enumerate(members[:5]):
        score = 40.0 + 10 * number
        db.session.add(
            LmsLearnerStats(
                course_id=course.id, person_id=person, source="canvas", current_score=score
            )
        )
    db.session.flush()
    learner_summary.refresh(db.session, course, key=key)
    db.session.commit()
    calls = _counting_rows(monkeypatch)
    monkeypatch.setattr(learner_summary, "class_data", _refused("class_data"))
    ingest_tracking_logs(db.session, [_log(tmp_path, "more.log", range(7, 9), 0)], None, workers=0)
    db.session.commit()
    monkeypatch.undo()
    assert calls["learner_rows"] == 0 and calls["row_of"] == 2
    _same(_stored(course), _computed(course, key))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.dictionaries(st.integers(10, 32), st.integers(1, 25), min_size=1, max_size=3),
        min_size=1,
        max_size=4,
    )
)
def test_a_moved_little_time_threshold_is_followed_as_the_class_computes_it(
    tmp_path_factory: Any, steps: list[dict[int, int]]
) -> None:
    # A course with scores, then ingests of a few learners (some new to it) that move its
    # little-time threshold or not: after each, the rows are what the KPI functions compute,
    # whether the refresh followed the ingest's learners (and those whose reason the move
    # changed) or built the class.
    folder = tmp_path_factory.mktemp("moved")
    app = make_app(folder)
    try:
        with app.app_context():
            key = pseudonym_key()
            long_ago = (utcnow() - timedelta(days=60)).date()
            spread = {user: user - 8 for user in range(10, 30)}
            ingest_tracking_logs(
                db.session, [_pages(folder, "spread.log", spread, long_ago)], None, workers=0
            )
            course = log_course()
            for person in sorted(learner_summary.member_ids(db.session, course)):
                db.session.add(
                    LmsLearnerStats(
                        course_id=course.id,
                        person_id=person,
                        source="canvas",
                        current_score=40.0 if person % 2 else 90.0,
                    )
                )
            learner_summary.mark_stale(db.session, [course.id])
            db.session.commit()
            learner_summary.current(db.session, course, key=key)
            db.session.commit()
            for number, views in enumerate(steps, start=1):
                day = long_ago - timedelta(days=number)
                log = _pages(folder, f"step{number}.log", views, day)
                ingest_tracking_logs(db.session, [log], None, workers=0)
                db.session.commit()
                _same(_stored(course), _computed(course, key))
                _same_course_figures(course)
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
