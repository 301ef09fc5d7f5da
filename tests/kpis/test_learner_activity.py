"""The activity totals kept between refreshes (learner_activity): a refresh after an ingest of a
few learners adds up only their days, and one that cannot trust the kept totals (another cutoff,
another day, activity changed by another transaction) adds up every learner's again. That the
kept totals and the rows are always what the KPI functions compute from scratch is the
learner summary's property test (tests/kpis/test_learner_summary.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.activity.rollups import rebuild_learners, summaries_later
from lti_tool.extensions import db
from lti_tool.kpis import course_settings, learner_activity, learner_summary, roster
from lti_tool.kpis.learners import class_data, learner_rows
from lti_tool.models import PersonIdentity
from lti_tool.models.types import utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.tracking_logs import days_ago, event, log_course


def _ingest(folder: Path, name: str, users: list[int], seconds: int) -> None:
    """A log of a few events a minute apart for each user on each of the last three days."""
    lines = [
        event(days_ago(ago, 3600 + user * 10 + minute * 60), "page_close", user=user,
              username=f"u{user}")
        for user in users
        for ago in range(3)
        for minute in range(seconds // 60)
    ]  # fmt: skip
    log = folder / f"{name}.log"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    ingest_tracking_logs(db.session, [log], None, workers=0)


def _person(user: int) -> int:
    return db.session.scalar(
        select(PersonIdentity.person_id).where(PersonIdentity.value == f"u{user}")
    )


@pytest.fixture
def added_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[set[int]]]:
    """Whose learner-days each adding up of activity read (roster._add_days's members)."""
    calls: list[set[int]] = []
    real = roster._add_days

    def spy(members: dict[int, Any], *args: Any) -> None:
        calls.append(set(members))
        real(members, *args)

    monkeypatch.setattr(roster, "_add_days", spy)
    yield calls


def _rows_are_the_kpis(key: bytes) -> None:
    """The stored rows are what the KPI functions compute from scratch."""
    db.session.expire_all()
    course = log_course()
    stored = learner_summary.rows(db.session, course)
    computed = learner_rows(class_data(db.session, course, key=key))
    assert [r | {"at_risk_reasons": list(map(str, r["at_risk_reasons"]))} for r in stored] == [
        r | {"at_risk_reasons": list(map(str, r["at_risk_reasons"]))} for r in computed
    ]


def test_a_refresh_after_an_ingest_of_a_few_learners_adds_up_only_their_days(
    tmp_path: Path, app: Flask, added_up: list[set[int]]
) -> None:
    with app.app_context():
        key = pseudonym_key()
        _ingest(tmp_path, "first", [1, 2, 3, 4, 5], 300)
        everyone = {_person(user) for user in range(1, 6)}
        assert added_up == [everyone]  # the first refresh adds up the whole class
        added_up.clear()
        # Learner 2 comes back, and learner 6 is new: their days alone are read again.
        _ingest(tmp_path, "second", [2, 6], 600)
        assert added_up == [{_person(2), _person(6)}]
        _rows_are_the_kpis(key)
        names = {
            row["learner"]: row["time_total"]
            for row in learner_summary.rows(db.session, log_course())
        }
        assert names["u2"] > names["u1"] and names["u6"] > names["u1"]


def test_a_refresh_without_new_activity_adds_up_no_days(
    tmp_path: Path, app: Flask, added_up: list[set[int]]
) -> None:
    with app.app_context():
        key = pseudonym_key()
        _ingest(tmp_path, "first", [1, 2, 3], 300)
        added_up.clear()
        # A settings change other than the cutoff (the risk rules): every row written again,
        # every learner's totals read back.
        course = log_course()
        settings = course_settings.load(db.session, course)
        changed = replace(settings, risk_inactive_days=settings.risk_inactive_days + 1)
        course_settings.save(db.session, course, changed)
        learner_summary.current(db.session, course, key=key)
        db.session.commit()
        assert added_up == []
        _rows_are_the_kpis(key)


@pytest.mark.parametrize("change", ["cutoff", "day", "another transaction"])
def test_kept_totals_not_true_of_now_are_added_up_again(
    tmp_path: Path, app: Flask, added_up: list[set[int]], change: str
) -> None:
    with app.app_context():
        key = pseudonym_key()
        _ingest(tmp_path, "first", [1, 2, 3], 300)
        everyone = {_person(user) for user in range(1, 4)}
        added_up.clear()
        course = log_course()
        now = None
        if change == "cutoff":
            settings = course_settings.load(db.session, course)
            course_settings.save(db.session, course, replace(settings, time_cutoff_minutes=5))
        elif change == "day":
            now = utcnow() + timedelta(days=1)  # the "7 days" moved
        else:
            # One learner's days written again by a small write, which leaves the summaries
            # for later, after a change of unknown reach (a purge's mark): nothing is carried,
            # and the next refresh has no record of whose rows were replaced.
            learner_summary.mark_stale(db.session, [course.id])
            rebuild_learners(db.session, course.id, [_person(2)])
            summaries_later(db.session)
            db.session.commit()
            assert added_up == []
        learner_summary.current(db.session, course, key=key, now=now)
        db.session.commit()
        assert added_up == [everyone]
        if now is None:
            _rows_are_the_kpis(key)


def test_a_small_writes_carried_rows_leave_the_others_totals_kept(
    tmp_path: Path, app: Flask, added_up: list[set[int]]
) -> None:
    with app.app_context():
        key = pseudonym_key()
        _ingest(tmp_path, "first", [1, 2, 3], 300)
        added_up.clear()
        course = log_course()
        # One learner's days written again by a small write (an event-API batch's commit):
        # it carries their rows to the next refresh, which adds up their days alone.
        rebuild_learners(db.session, course.id, [_person(2)])
        summaries_later(db.session)
        db.session.commit()
        assert added_up == []
        learner_summary.current(db.session, course, key=key)
        db.session.commit()
        assert added_up == [{_person(2)}]
        _rows_are_the_kpis(key)


def test_a_refresh_from_scratch_forgets_the_kept_totals(
    tmp_path: Path, app: Flask, added_up: list[set[int]]
) -> None:
    with app.app_context():
        key = pseudonym_key()
        _ingest(tmp_path, "first", [1, 2], 300)
        added_up.clear()
        course = log_course()
        learner_activity.forget(db.session, course)
        learner_summary.refresh(db.session, course, key=key)
        db.session.commit()
        assert added_up == [{_person(1), _person(2)}]
