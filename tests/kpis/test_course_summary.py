"""The course summary (course_summary) holds what the KPI functions compute for the whole class
from the stored data, after any order of ingests, settings changes and syncs (a property test),
written in the commit that changed the data; the overview and the student page read it instead
of rebuilding the class."""

from __future__ import annotations

import dataclasses
import statistics
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool.activity.rollups import summaries_changed, touch_courses
from lti_tool.extensions import db
from lti_tool.kpis import (
    activity,
    at_risk,
    course_settings,
    course_summary,
    enrollment,
    geography,
    learner_summary,
    names,
    page_summary,
    problems,
    resources,
    student,
    video_engagement,
)
from lti_tool.kpis import learners as learners_kpi
from lti_tool.kpis.roster import class_member_ids
from lti_tool.models import Course, CourseSummary, PageSummary
from lti_tool.models.types import utcnow
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from tests.helpers.database import make_app
from tests.helpers.tracking_logs import log_course
from tests.kpis.test_learner_summary import _apply, ingests, settings_changes, syncs


def _expected(course: Course, key: bytes) -> dict[str, Any]:
    """The whole class's figures as the KPI functions compute them from the stored data now."""
    data = learners_kpi.class_data(db.session, course, key=key)
    people = set(data.members)
    shares = [p.share for p in data.progress.values() if p.share is not None]
    rows = learners_kpi.learner_rows(data)
    return {
        "class_size": len(rows),
        "sections": sorted({s for row in rows for s in row["sections"]}),
        "weekly_activity": activity.weekly_activity(db.session, course, people),
        "weekly_time": activity.class_weekly_time(course, data.members, people),
        "active_7_days": activity.learners_active_since(
            db.session, course, data.today - timedelta(6), people
        ),
        "median_completion": round(statistics.median(shares) * 100) if shares else None,
        "at_risk": at_risk.counts(data.risks, people),
        "shares": shares,
        "required": [p.required for p in data.progress.values() if p.share is not None],
        "posted_scores": sorted(
            row["posted_current_score"] for row in rows if row["posted_current_score"] is not None
        ),
    }


def _expected_videos(course: Course) -> dict[str, Any]:
    """The videos, content and problems pages' figures of the whole class as the KPI functions
    compute them now (the typical learner's videos by video id: the page puts them in course
    order)."""
    people = class_member_ids(db.session, course)
    rows = video_engagement.learner_video(db.session, course, people)
    checks = problems.learner_checks(db.session, course, people)
    viewers: dict[str, int] = {}
    completions: dict[str, int] = {}
    for row in rows:
        viewers[row["video_id"]] = viewers.get(row["video_id"], 0) + 1
        completions[row["video_id"]] = completions.get(row["video_id"], 0) + row["completed"]
    return {
        "summary": video_engagement.video_summary(db.session, course, people),
        "timeline": video_engagement.video_timeline(db.session, course, people),
        "viewers": viewers,
        "completions": completions,
        "typical": sorted(
            student.typical_videos(rows, len(people)), key=lambda row: row["video_id"]
        ),
        "active": student.class_share_active(
            db.session, course, people, date.today() - timedelta(days=20), date.today()
        ),
        "reach": resources.resource_reach(db.session, course, people),
        "problems": problems.performance_rows(checks, names.course_names(db.session, course)),
        "answers": {
            problem: problems.distribution_rows([c for c in checks if c.problem_id == problem])
            for problem in {c.problem_id for c in checks}
        },
        # The countries page's rows: the whole class's, the course's floor.
        "countries": geography.geography(db.session, course),
        # The enrollment page's history: the whole course's, to today.
        "enrollment": enrollment.enrollments(db.session, course),
        # The order learners first met the course's resources in (as JSON keeps pairs).
        "seen": [list(pair) for pair in names.seen_resources(db.session, course)],
    }


def _enrollment_shown(course: Course, stored: dict[str, Any]) -> Any:
    """The enrollment history its page shows from the stored figures (views.enrollment): they
    counted on to today, else, when they cannot say (a change dated after the day they were
    counted to: in a course time zone ahead of UTC, an event of today's UTC evening is
    tomorrow's), the history counted now."""
    today = course_settings.load(db.session, course).today(utcnow())
    shown = enrollment.from_figures(stored, today)
    return shown if shown is not None else enrollment.enrollments(db.session, course, None, today)


def _stored_pages(course: Course, mark: str) -> dict[str, Any]:
    """The page summary's rows of a course as stored with the fingerprint `mark`."""
    found = page_summary.stored(db.session, course, page_summary.VIDEOS, mark)
    typical = page_summary.stored(db.session, course, page_summary.TYPICAL, mark)
    assert typical is not None
    size = len(class_member_ids(db.session, course))
    first, last = date.today() - timedelta(days=20), date.today()
    content = page_summary.stored(db.session, course, page_summary.CONTENT, mark)
    problem = page_summary.stored(db.session, course, page_summary.PROBLEMS, mark)
    countries = page_summary.stored(db.session, course, page_summary.COUNTRIES, mark)
    enrolled = page_summary.stored(db.session, course, page_summary.ENROLLMENT, mark)
    seen = page_summary.stored(db.session, course, page_summary.NAMES, mark)
    assert found is not None and content is not None and problem is not None
    assert countries is not None and enrolled is not None and seen is not None
    floor = course_settings.load(db.session, course).privacy_floor
    known = names.course_names(db.session, course)
    return {
        **found,
        "typical": sorted(typical["videos"], key=lambda row: row["video_id"]),
        "active": student.active_shares(typical["active"], size, first, last),
        **content,
        "problems": problems.named_rows(problem["stats"], known),
        "answers": problem["answers"],
        "countries": geography.counted_rows(course, countries["counts"], floor),
        "enrollment": _enrollment_shown(course, enrolled),
        "seen": seen["seen"],
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=ingests(),
    steps=st.lists(st.one_of(ingests(), settings_changes(), syncs()), min_size=1, max_size=5),
)
def test_the_course_figures_are_what_the_kpis_compute_after_any_changes(
    tmp_path_factory: Any, first: tuple[str, list[str]], steps: list[tuple[str, Any]]
) -> None:
    folder = tmp_path_factory.mktemp("course-summary")
    app = make_app(folder)
    try:
        with app.app_context():
            key = pseudonym_key()  # made once, as the first page or launch makes it
            for number, step in enumerate([first, *steps]):
                _apply(app, step, folder, number)
                course = log_course()
                # Written when the change was committed: no reader has refreshed it.
                row = db.session.get(CourseSummary, course.id)
                expected = _expected(course, key)
                # (A class the syncs left without learners keeps no row at all.)
                assert (row is None) == (expected["class_size"] == 0), f"after step {number}"
                if row is not None:
                    mark, _settings, _today = learner_summary.fingerprint(
                        db.session, course, key, utcnow()
                    )
                    assert row.fingerprint == mark, f"stale after step {number}: {step[0]}"
                    found = course_summary.stored(db.session, course)
                    assert found is not None
                    assert found.__dict__ == expected
                    # The single pages' figures, written in the same commit.
                    assert _stored_pages(course, mark) == _expected_videos(course)
                else:
                    assert db.session.query(PageSummary).count() == 0
            db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_reader_writes_figures_a_course_has_none_of(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    with app.app_context():
        course = db.session.get(Course, 1)
        assert course is not None
        db.session.query(CourseSummary).delete()
        db.session.commit()
        key = pseudonym_key()
        found = course_summary.current(db.session, course, key=key)
        db.session.commit()
        assert found.__dict__ == _expected(course, key)
        assert db.session.get(CourseSummary, 1) is not None


def _count_calls(
    monkeypatch: pytest.MonkeyPatch, calls: list[str], *where: tuple[Any, str]
) -> None:
    """Have each (module, function name) add its name to `calls` when called."""
    for module, name in where:
        real = getattr(module, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def test_the_first_pages_after_new_data_do_not_rebuild_the_class(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        touch_courses(db.session, [1])  # new data: the summaries are written in this commit
        db.session.commit()
    built: list[int] = []
    real = learners_kpi.class_data

    def counted(*args: Any, **kwargs: Any) -> learners_kpi.ClassData:
        built.append(1)
        return real(*args, **kwargs)

    # Every caller reads class_data through its module (the views and both summaries).
    monkeypatch.setattr(learners_kpi, "class_data", counted)
    monkeypatch.setattr(learner_summary, "class_data", counted)
    monkeypatch.setattr(course_summary, "class_data", counted)
    overview = client.get(f"/courses/1/?t={seeded['t']}")
    typical = client.get(f"/courses/1/me?t={seeded['t']}")
    assert overview.status_code == 200 and typical.status_code == 200
    assert 'id="weekly-activity-title"' in overview.get_data(as_text=True)
    assert built == []


def test_no_page_adds_up_the_whole_class_after_new_data(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pages of issue 20 read the summaries written in the commit that changed the data: none
    # rebuilds the class's rows, nor reads the class's viewings, resources or problem checks.
    with app.app_context():
        touch_courses(db.session, [1])
        db.session.commit()
    computed: list[str] = []
    _count_calls(
        monkeypatch,
        computed,
        *((module, "class_data") for module in (learners_kpi, learner_summary, course_summary)),
        (video_engagement, "class_videos"),
        (resources, "resource_reach"),
        (problems, "learner_checks"),
        (problems, "check_rows"),
        (student, "class_share_active"),
    )
    t = seeded["t"]
    pages = [
        "videos",
        "grades",
        "content",
        "problems",
        "me",
        f"learners/{seeded['A']}",
        "learners",
        "",
    ]
    for page in pages:
        answer = client.get(f"/courses/1/{page}?t={t}")
        assert answer.status_code == 200, page
    assert computed == []


def test_a_settings_change_keeps_the_page_figures_and_new_activity_writes_them_again(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pages' figures depend on the activity, syncs and learners, not on the settings: a
    # settings change rewrites the learner rows but keeps them (at 100,000 learners, adding
    # them up is most of a refresh), and new activity writes them again.
    with app.app_context():
        course = db.session.get(Course, 1)
        assert course is not None
        course_summary.current(db.session, course, key=pseudonym_key())  # a reader writes them
        db.session.commit()
        computed: list[str] = []
        _count_calls(
            monkeypatch,
            computed,
            (video_engagement, "class_videos"),
            (resources, "resource_reach"),
            (problems, "check_rows"),
            (geography, "country_counts"),
        )
        before = {row.page: row.figures for row in db.session.query(PageSummary)}
        assert set(before) == set(page_summary.PAGES)
        chosen = dataclasses.replace(course_settings.load(db.session, course), risk_inactive_days=2)
        course_settings.save(db.session, course, chosen)
        summaries_changed(db.session, [course.id])
        db.session.commit()
        key = pseudonym_key()
        mark, _settings, _today = learner_summary.fingerprint(db.session, course, key, utcnow())
        assert computed == []
        assert db.session.get(CourseSummary, 1).fingerprint == mark  # type: ignore[union-attr]
        for page in page_summary.PAGES:  # kept, and current for the readers
            assert page_summary.stored(db.session, course, page, mark) == orjson.loads(before[page])
        touch_courses(db.session, [course.id])
        db.session.commit()
        assert sorted(computed) == sorted(
            ["class_videos", "resource_reach", "check_rows", "country_counts"]
        )


def test_a_page_checks_the_course_summary_once_a_request(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The typical Student view reads the class figures, then two page summaries which read
    # them too: each check is five queries, made once per request.
    checked: list[str] = []
    _count_calls(monkeypatch, checked, (course_summary, "current"))
    for _request in range(2):
        answer = client.get(f"/courses/1/me?t={seeded['t']}")
        assert answer.status_code == 200
    assert checked == ["current", "current"]


def test_a_worker_reads_a_page_summary_once_while_the_data_holds(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The videos page's figures are megabytes of JSON at 100,000 learners: parsed once per
    # worker until the data moves.
    read: list[str] = []
    real = page_summary.current

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        read.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(page_summary, "current", counted)
    for _request in range(2):
        assert client.get(f"/courses/1/videos?t={seeded['t']}").status_code == 200
    assert read == [page_summary.VIDEOS]
    with app.app_context():
        touch_courses(db.session, [1])  # new data
        db.session.commit()
    assert client.get(f"/courses/1/videos?t={seeded['t']}").status_code == 200
    assert read == [page_summary.VIDEOS, page_summary.VIDEOS]
