"""The learners page reads the learner summary: written when the data changes, refreshed by the
page when something else moved it, and shown as stored while the database is busy writing."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from lti_tool.extensions import db
from lti_tool.kpis import learner_summary, names, page_summary
from lti_tool.models import (
    Course,
    Enrollment,
    LearnerSummary,
    PageSummary,
    Person,
    Section,
    SectionMember,
)
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.learners import matched_count, summary_sections


def _names(html: str) -> list[str]:
    """Learner names in table order (the links to their pages)."""
    return re.findall(r'<a href="/courses/1/learners/\d+\?t=[^"]+">([^<]*)</a>', html)


def _locked(*_args: Any, **_kwargs: Any) -> int:
    raise OperationalError("DELETE FROM learner_summary", {}, Exception("database is locked"))


def _enroll_newcomer(app: Flask) -> None:
    """A new learner on the course's roster (as a launch or a roster sync adds one)."""
    with app.app_context():
        person = Person(name="Zed Newcomer")
        db.session.add(person)
        db.session.flush()
        db.session.add(Enrollment(course_id=1, person_id=person.id, course_role="learner"))
        db.session.commit()


def test_a_learner_the_launch_added_shows_at_the_next_page(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    page = f"/courses/1/learners?t={seeded['t']}&sort=name"
    assert "Zed Newcomer" not in _names(client.get(page).get_data(as_text=True))
    _enroll_newcomer(app)
    assert _names(client.get(page).get_data(as_text=True))[-1] == "Zed Newcomer"
    with app.app_context():
        stored = db.session.scalars(
            select(LearnerSummary.name).where(LearnerSummary.course_id == 1)
        )
        assert "Zed Newcomer" in set(stored)


def test_while_the_database_is_locked_the_stored_rows_are_shown(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = f"/courses/1/learners?t={seeded['t']}&sort=name"
    before = _names(client.get(page).get_data(as_text=True))
    _enroll_newcomer(app)
    monkeypatch.setattr(learner_summary, "refresh", _locked)
    answer = client.get(page)
    assert answer.status_code == 200
    assert _names(answer.get_data(as_text=True)) == before  # as stored, newcomer not yet in
    monkeypatch.undo()
    assert "Zed Newcomer" in _names(client.get(page).get_data(as_text=True))


def test_a_course_never_summarised_while_locked_is_an_error_not_an_empty_table(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learner_summary, "refresh", _locked)
    with app.app_context():
        db.session.execute(LearnerSummary.__table__.delete())
        db.session.execute(learner_summary.LearnerSummaryState.__table__.delete())
        db.session.commit()
    # (The testing app lets the error through; in production it is the 500 page.)
    with pytest.raises(OperationalError):
        client.get(f"/courses/1/learners?t={seeded['t']}")


def test_a_large_course_shows_its_rows_as_written_while_the_job_writes_them(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above SUMMARY_INLINE_LEARNERS a page does not write the summary in its request (about a
    # second per 10,000 learners): it shows the rows as written, says so, and leaves them to
    # the scheduler's job.
    app.config["SUMMARY_INLINE_LEARNERS"] = "1"
    page = f"/courses/1/learners?t={seeded['t']}&sort=name"
    overview = f"/courses/1/?t={seeded['t']}"
    first = client.get(page).get_data(as_text=True)
    assert 'id="figures-behind"' not in first
    before = _names(first)
    _enroll_newcomer(app)
    for url in (page, overview):
        answer = client.get(url)
        assert answer.status_code == 200
        assert 'id="figures-behind"' in answer.get_data(as_text=True), url

    # The pages with figures of their own read them as written too, computing nothing.
    def written() -> set[tuple[str, str]]:
        with app.app_context():
            rows = db.session.execute(select(PageSummary.page, PageSummary.fingerprint))
            return set(rows.tuples())

    before_pages = written()
    assert before_pages  # written with the summaries before the newcomer came
    # Names too: the order resources were first met as written (8 s to group at 100,000).
    grouped: list[int] = []
    real_seen = names.seen_resources
    monkeypatch.setattr(names, "seen_resources", lambda *a: grouped.append(1) or real_seen(*a))
    app.extensions["course_figures_cache"].clear()  # as a worker started since would find
    for name in ("videos", "content", "problems", "countries", "enrollment"):
        assert client.get(f"/courses/1/{name}?t={seeded['t']}").status_code == 200, name
    assert written() == before_pages
    assert grouped == []
    assert _names(client.get(page).get_data(as_text=True)) == before
    with app.app_context():
        state = db.session.get(learner_summary.LearnerSummaryState, 1)
        assert state is not None and state.stale_at is not None  # the job's cue
        assert learner_summary.stale_courses(db.session) == [1]
        assert learner_summary.refresh_stale(db.session, pseudonym_key()) == 1
    after = client.get(page).get_data(as_text=True)
    assert 'id="figures-behind"' not in after
    assert "Zed Newcomer" in _names(after)


def test_pages_shown_as_written_are_read_once_per_worker_while_the_job_writes_them(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # While a large course's summaries wait for the job, a page's figures as written (the
    # videos page's are megabytes at 100,000 learners) are read and parsed once per worker,
    # not at every request; the next change of the data reads them again.
    app.config["SUMMARY_INLINE_LEARNERS"] = "1"
    t = seeded["t"]
    assert client.get(f"/courses/1/videos?t={t}").status_code == 200
    _enroll_newcomer(app)
    read: list[str] = []
    real_stored = page_summary.stored
    monkeypatch.setattr(
        page_summary,
        "stored",
        lambda s, c, page, mark: read.append(page) or real_stored(s, c, page, mark),
    )
    pages = ("videos", "content", "problems")
    for _ in range(3):
        for name in pages:
            assert client.get(f"/courses/1/{name}?t={t}").status_code == 200, name
    # Each once (the course's names, as written, too: kept with them).
    assert Counter(read) == Counter([*pages, "names"])
    with app.app_context():
        assert learner_summary.stale_courses(db.session) == [1]  # still behind: the job's
    _enroll_newcomer(app)  # another change: still behind, read again (once)
    for _ in range(2):
        assert client.get(f"/courses/1/videos?t={t}").status_code == 200
    assert read.count("videos") == 2


def test_the_whole_class_is_counted_from_the_summary_not_row_by_row(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unfiltered, the table's size is the class's as the summary keeps it (counting 100,000
    # rows per request was a fifth of the page on PostgreSQL); filtered, the rows are counted.
    client.get(f"/courses/1/learners?t={seeded['t']}")  # the summary written
    with app.app_context():
        size = db.session.scalar(
            select(func.count()).select_from(LearnerSummary).where(LearnerSummary.course_id == 1)
        )
    assert size
    real = learner_summary.count
    counted: list[dict[str, str]] = []

    def count(session: Any, course: Any, filters: dict[str, str] | None = None) -> int:
        counted.append(dict(filters or {}))
        return real(session, course, filters)

    monkeypatch.setattr(learner_summary, "count", count)
    html = client.get(f"/courses/1/learners?t={seeded['t']}").get_data(as_text=True)
    assert counted == []
    assert f"{size} of {size} learners match" in html
    html = client.get(f"/courses/1/learners?t={seeded['t']}&risk=1").get_data(as_text=True)
    assert [found["risk"] for found in counted] == ["1"]


def _get_seeing_statements(app: Flask, client: FlaskClient, page: str) -> tuple[Any, list[str]]:
    """The page's answer and the SQL statements it ran (whitespace folded)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        return client.get(page), seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_page_that_writes_the_summaries_reads_its_course_and_platform_once(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    page = f"/courses/1/learners?t={seeded['t']}"
    client.get(page)
    _enroll_newcomer(app)  # the next page writes the summaries again and commits them
    answer, seen = _get_seeing_statements(app, client, page)
    assert answer.status_code == 200
    # The page wrote the rows again (the newcomer is in them; on PostgreSQL by COPY, which
    # the statements seen do not show).
    assert "Zed Newcomer" in _names(answer.get_data(as_text=True))
    # Loaded once (in one read): the commit keeps what the request had loaded (nothing it
    # wrote changes them).
    assert sum("course.lti_context_id" in s for s in seen) == 1
    assert sum("platform.issuer" in s for s in seen) == 1


def test_a_page_reads_its_course_platform_viewer_and_settings_with_two_statements(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    # The session's check reads the course, its platform and the viewer with the enrollment;
    # the marks read the settings: each of them once, in those two statements.
    page = f"/courses/1/?t={seeded['t']}"
    client.get(page)
    answer, seen = _get_seeing_statements(app, client, page)
    assert answer.status_code == 200 and "Signed in as" in answer.get_data(as_text=True)
    columns = ("course.lti_context_id", "platform.issuer", "person.given_name")
    [check] = [s for s in seen if "enrollment.sessions_revoked_at" in s]
    assert all(column in check for column in columns)
    assert [sum(column in s for s in seen) for column in columns] == [1, 1, 1]
    [settings] = [s for s in seen if "course_settings.time_zone" in s]
    assert "count(*)" in settings  # the marks' read


def _matched(html: str) -> tuple[int, int]:
    """The table's "N of M learners match"."""
    found = re.search(r'<p id="matched">(\d+) of (\d+) learners match', html)
    assert found, "no match count"
    return int(found.group(1)), int(found.group(2))


def test_a_filtered_count_follows_the_rows(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    page = f"/courses/1/learners?t={seeded['t']}&risk=1"
    at_risk, total = _matched(client.get(page).get_data(as_text=True))
    assert _matched(client.get(page).get_data(as_text=True)) == (at_risk, total)  # kept
    _enroll_newcomer(app)  # no activity at all: at risk
    html = client.get(page).get_data(as_text=True)
    assert "Zed Newcomer" in _names(html)
    assert _matched(html) == (at_risk + 1, total + 1)


def test_a_filtered_count_is_kept_for_the_rows_as_they_are(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    # Rows written again without the data's marks moving (a new day, a due date passing) are
    # counted again: the count is kept per fingerprint of the rows, not per data marks only.
    client.get(f"/courses/1/learners?t={seeded['t']}")
    risk = {"q": "", "section": "", "segment": "", "risk": "1", "level": ""}
    with app.test_request_context("/"):
        course = db.session.get(Course, 1)
        assert course is not None
        state = learner_summary.current(db.session, course, key=pseudonym_key())
        first = matched_count(course, state, risk)
        assert first == learner_summary.count(db.session, course, risk) and first > 1
        person = db.session.scalars(
            select(LearnerSummary.person_id).where(LearnerSummary.risk_rank > 0)
        ).first()
        db.session.execute(
            LearnerSummary.__table__.update()
            .where(LearnerSummary.person_id == person)
            .values(risk_rank=0)
        )
        assert matched_count(course, state, risk) == first  # the same rows' count, kept
        rewritten = dataclasses.replace(state, mark=state.mark + "-again")
        assert matched_count(course, rewritten, risk) == first - 1


def test_the_sections_listed_are_kept_for_the_rows_as_they_are(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    client.get(f"/courses/1/learners?t={seeded['t']}")
    with app.test_request_context("/"):
        course = db.session.get(Course, 1)
        assert course is not None
        state = learner_summary.current(db.session, course, key=pseudonym_key())
        first = summary_sections(course, state)
        assert first == learner_summary.sections(db.session, course)
        person = db.session.scalars(select(LearnerSummary.person_id)).first()
        section = Section(course_id=1, lms_section_id="late-1", name="Late section")
        db.session.add(section)
        db.session.flush()
        db.session.add(SectionMember(section_id=section.id, person_id=person))
        db.session.flush()
        assert summary_sections(course, state) == first  # the same rows' sections, kept
        rewritten = dataclasses.replace(state, mark=state.mark + "-again")
        assert summary_sections(course, rewritten) == sorted([*first, "Late section"])
