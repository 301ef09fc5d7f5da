"""The class's sums (video_sums, class_sums): adding and taking out viewings is exact, and an
ingest of a few learners adds their change to the stored sums instead of reading the whole
class's viewings, days, resources and weeks, with the same figures as adding up the class
again; a change made otherwise (a purge, a merge: touch_courses) or a rolled-back transaction
makes the class added up again. The enrollment page's history is followed the same way
(enrollment.since), and counted again when LMS dates move or its latest change goes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lti_tool.activity import replaced
from lti_tool.activity.rollups import (
    rebuild_learners,
    shown_again,
    summaries_later,
    touch_courses,
)
from lti_tool.events.sink import EventSink, IncomingEvent
from lti_tool.extensions import db
from lti_tool.kpis import (
    activity,
    class_sums,
    course_settings,
    enrollment,
    learner_summary,
    names,
    page_summary,
    problem_sums,
    problems,
    resources,
    roster,
    student,
    video_engagement,
    video_sums,
)
from lti_tool.kpis.roster import class_member_ids
from lti_tool.kpis.video import runs_coverage, seen_runs
from lti_tool.models import Enrollment, LmsEnrollment, PersonIdentity, Platform
from lti_tool.models.types import utcnow
from lti_tool.people import linking
from lti_tool.people.merge import merge_people
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.database import make_app
from tests.helpers.platform import INSTRUCTOR, launch_into
from tests.helpers.problems import PROBLEM, part_id, problem_check
from tests.helpers.tracking_logs import COURSE, VIDEO, days_ago, event, log_course, write
from tests.kpis.test_learner_summary import _computed, _same, _stored

DURATIONS = {"a": 120.0, "b": None}


@st.composite
def viewings(draw: st.DrawFn) -> list[tuple[str, list[int]]]:
    """Some learners' viewings: a video (one without a duration) and its segment runs."""
    found = []
    for _ in range(draw(st.integers(0, 6))):
        runs: list[int] = []
        for _run in range(draw(st.integers(1, 3))):
            first = draw(st.integers(0, 30))
            runs += [first, first + draw(st.integers(0, 10))]
        found.append((draw(st.sampled_from(sorted(DURATIONS))), runs))
    return found


@settings(max_examples=200, deadline=None)
@given(
    first=viewings(),
    second=viewings(),
    days=st.lists(st.sampled_from(["2026-03-02", "2026-03-03"]), max_size=4),
)
def test_sums_add_up_and_take_out_exactly(
    first: list[tuple[str, list[int]]], second: list[tuple[str, list[int]]], days: list[str]
) -> None:
    both = video_sums.of_viewings(first + second, DURATIONS, days)
    added = video_sums.of_viewings(first, DURATIONS, days)
    added.add(video_sums.of_viewings(second, DURATIONS))
    assert added.as_json() == both.as_json()
    # Taken out again: the first's sums, nothing of the second left (not even zeros).
    added.add(video_sums.of_viewings(second, DURATIONS), -1)
    assert added.as_json() == video_sums.of_viewings(first, DURATIONS, days).as_json()
    # Stored and read back: the same sums.
    stored = orjson.loads(orjson.dumps(both.as_json()))
    assert video_sums.VideoSums.from_json(stored).as_json() == both.as_json()


@settings(max_examples=200, deadline=None)
@given(found=viewings(), data=st.data())
def test_the_same_runs_of_many_viewers_count_once_for_each(
    found: list[tuple[str, list[int]]], data: st.DataObject
) -> None:
    # Many viewers of a video with the same runs (decoded, merged and covered once): the sums
    # are those of each viewing counted alone and added up, whichever way the driver gave the
    # runs (text, bytes, PostgreSQL's memoryview, or decoded).
    shapes = [
        lambda runs: runs,
        lambda runs: orjson.dumps(runs).decode(),
        orjson.dumps,
        lambda runs: memoryview(orjson.dumps(runs)),
    ]
    many = [viewing for viewing in found for _ in range(data.draw(st.integers(1, 3)))]
    many.sort(key=lambda viewing: viewing[0])  # (as the class's rows come: by video)
    given = [(video, data.draw(st.sampled_from(shapes))(runs)) for video, runs in many]
    one_by_one = video_sums.VideoSums()
    for viewing in many:
        one_by_one.add(video_sums.of_viewings([viewing], DURATIONS))
    assert video_sums.of_viewings(given, DURATIONS).as_json() == one_by_one.as_json()


@settings(max_examples=200, deadline=None)
@given(found=viewings(), data=st.data())
def test_sums_count_each_viewing_in_any_order(
    found: list[tuple[str, list[int]]], data: st.DataObject
) -> None:
    # of_viewings takes a video's viewings together when they come together (the class's rows
    # come by video); in any other order the sums are the same, and each viewing is counted as
    # runs_coverage and seen_runs count it alone.
    shuffled = data.draw(st.permutations(found))
    by_video = sorted(found, key=lambda viewing: viewing[0])
    sums = video_sums.of_viewings(shuffled, DURATIONS)
    assert sums.as_json() == video_sums.of_viewings(by_video, DURATIONS).as_json()
    for video_id in DURATIONS:
        mine = [runs for video, runs in found if video == video_id]
        assert sums.viewers[video_id] == len(mine)
        duration = DURATIONS[video_id]
        alone = [runs_coverage(runs, duration) if duration else (0.0, False) for runs in mine]
        assert sums.completions[video_id] == sum(completed for _share, completed in alone)
        shares = Counter(round(share, 4) for share, _completed in alone)
        assert sums.shares.get(video_id, Counter()) == shares
        user_starts = Counter(first for runs in mine for first, _last in seen_runs(runs))
        assert sums.user_starts.get(video_id, Counter()) == user_starts


def _log(
    folder: Path, name: str, users: range, start: int, video: str = VIDEO, duration: int = 120
) -> Path:
    """A log of viewings of the video by `users`, each from `start` seconds in, and a page of
    the courseware each."""
    lines = []
    for user in users:
        page = f"/courses/{COURSE}/courseware/w/{(user + start) % 3}/"
        lines.append(event(days_ago(user % 5, 600 + start), page, user=user, username=f"u{user}"))
        for kind, at in (("play_video", start), ("pause_video", start + 40 + user)):
            payload = {"id": video, "code": "html5", "duration": duration, "currentTime": at}
            stamp = days_ago(user % 5, 3600 + at)
            lines.append(
                event(
                    stamp, kind, user=user, username=f"u{user}", source="browser", payload=payload
                )
            )
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def eight_learners(tmp_path: Path) -> Iterator[Flask]:
    """An app whose course has eight learners viewing a video (a log of `_log`), in its
    context."""
    flask_app = make_app(tmp_path)
    with flask_app.app_context():
        ingest_tracking_logs(
            db.session, [_log(tmp_path, "first.log", range(1, 9), 0)], None, workers=0
        )
        yield flask_app
        db.session.remove()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield from eight_learners(tmp_path)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the reads of the whole class's viewings, active days, resources and weeks."""
    calls: list[str] = []
    for module, name in (
        (video_engagement, "class_videos"),
        (student, "class_active_counts"),
        (resources, "resource_reach"),
        (activity, "week_counts"),
    ):
        monkeypatch.setattr(module, name, _counted(calls, name, getattr(module, name)))
    return calls


def _counted(calls: list[str], name: str, real: Any) -> Any:
    """`real`, noting its name in `calls` at every call."""

    def counted(*args: Any) -> Any:
        calls.append(name)
        return real(*args)

    return counted


def _stored_and_expected() -> list[tuple[Any, Any]]:
    """Per video figure: as stored, and as adding up the class again computes it now."""
    course = log_course()
    people = class_member_ids(db.session, course)
    return [
        (
            page_summary.stored(db.session, course, page, None),
            orjson.loads(orjson.dumps(page_summary.figures_of(db.session, course, page, people))),
        )
        for page in (
            page_summary.VIDEOS,
            page_summary.TYPICAL,
            page_summary.CONTENT,
            page_summary.PROBLEMS,
            page_summary.NAMES,
            page_summary.CLASS_SUMS,
        )
    ]


def test_an_ingest_of_a_few_learners_adds_their_change_to_the_stored_sums(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    # Two learners the class had (their rows replaced) and one new to it.
    ingest_tracking_logs(
        db.session, [_log(tmp_path, "more.log", range(7, 10), 30)], None, workers=0
    )
    assert calls == []
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    sums = found[-1][0]
    assert sums["people"] == sorted(class_member_ids(db.session, log_course()))
    assert list(sums["videos"]["viewers"].values()) == [9]
    assert sum(count for _resource, _kind, count in sums["opened"]) > 9


def test_a_change_made_otherwise_adds_up_the_class_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    touch_courses(db.session, [log_course().id])  # as a purge or a merge does
    db.session.commit()
    assert sorted(calls) == [
        "class_active_counts",
        "class_videos",
        "resource_reach",
        "week_counts",
    ]
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]


@pytest.mark.parametrize("staff_last", [False, True], ids=["learner last", "instructor last"])
def test_a_course_s_first_log_is_added_up_as_written_less_its_staff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staff_last: bool
) -> None:
    # A course's first log (its history: a MOOC's 100,000 learners): the class's sums come
    # from the rows as the rebuilds wrote them, none read back; the instructor's own viewings,
    # pages and checks (in the log, not of the class) are taken out, and a problem whose
    # latest check was theirs is counted again.
    flask_app = make_app(tmp_path)
    launch_into(flask_app, COURSE, INSTRUCTOR, "sub-8", "u8")
    log = _log(tmp_path, "first.log", range(1, 9), 0)
    checks = []
    for user in range(1, 9):
        second = 900 - 100 * user if staff_last else 100 * user
        answer = "A" if user % 2 else "B"
        parts = {part_id(PROBLEM, 1): {"answer": answer, "correct": answer == "A"}}
        checks.append(problem_check(days_ago(0, second), parts, user=user, username=f"u{user}"))
    with log.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in checks)
    with flask_app.app_context():
        calls = _counting(monkeypatch)
        whole = []  # the class's every learner-day added up (not a few learners')
        real = roster.add_activity

        def add_activity(*args: Any, **kwargs: Any) -> None:
            whole.append(not kwargs.get("few"))
            real(*args, **kwargs)

        monkeypatch.setattr(roster, "add_activity", add_activity)
        platform = db.session.scalar(select(Platform).where(Platform.name == "Open edX"))
        ingest_tracking_logs(db.session, [log], platform, workers=0)
        assert calls == [] and not any(whole)
        course = log_course()
        _same(_stored(course), _computed(course, pseudonym_key()))
        found = _stored_and_expected()
        assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
        staff = db.session.scalar(
            select(PersonIdentity.person_id).where(PersonIdentity.value == "u8")
        )
        sums = found[-1][0]
        assert staff is not None and staff not in sums["people"] and len(sums["people"]) == 7
        assert list(sums["videos"]["viewers"].values()) == [7]
        (stats,) = found[3][0]["stats"]
        assert stats["learners"] == 7
        db.session.remove()


def test_a_learner_written_twice_in_the_first_transaction_adds_up_the_class_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sink that goes on after its first rebuild writes a learner's rows again in the same
    # transaction: what their first rows added is not taken out, so the class is added up
    # from its rows.
    def incoming(user: str, stamp: str) -> IncomingEvent:
        moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
        raw = f"{user} {stamp}".encode()
        return IncomingEvent(COURSE, user, "lab_user", moment, "step", "lab", {}, raw)

    flask_app = make_app(tmp_path)
    with flask_app.app_context():
        calls = _counting(monkeypatch)
        sink = EventSink(db.session, None)
        for user, stamp in [("a", "2026-03-02 10:00:00"), ("b", "2026-03-03 10:00:00")]:
            sink.add(incoming(user, stamp))
        sink.finish()
        sink.add(incoming("a", "2026-03-09 10:00:00"))  # a second week
        sink.finish()
        db.session.commit()
        assert "week_counts" in calls
        found = _stored_and_expected()
        assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
        assert sum(count for _week, _label, count in found[-1][0]["weeks"]) == 3
        db.session.remove()


def test_a_course_with_activity_before_is_not_added_up_as_written(
    app: Flask, tmp_path: Path
) -> None:
    # The eight learners' course has rows: a log of more is followed from the stored sums
    # (since), or, without them, the class added up again; never the new rows alone.
    course = log_course()
    page_summary.forget(db.session, course)
    db.session.commit()
    ingest_tracking_logs(
        db.session, [_log(tmp_path, "more.log", range(9, 12), 30)], None, workers=0
    )
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    assert list(found[-1][0]["videos"]["viewers"].values()) == [11]


def test_a_rolled_back_transaction_leaves_no_record(app: Flask, tmp_path: Path) -> None:
    course = log_course()
    people = sorted(class_member_ids(db.session, course))
    replaced.note(db.session, course.id, people, people)
    record = replaced.taken(db.session, course.id)
    assert record is not None and set(record.rows.days) == set(people)
    assert any(record.rows.viewings.values()) and any(record.rows.resources.values())
    db.session.rollback()
    assert replaced.taken(db.session, course.id) is None


@st.composite
def answer(draw: st.DrawFn) -> dict[str, Any]:
    """One part's answer as a problem_check event's details keep it."""
    found: dict[str, Any] = {
        "answer": draw(st.sampled_from(["A", "B", " <b>C</b> ", ["x", "y"], 7])),
        "variant": draw(st.sampled_from(["", "1", "7"])),
        "correct": draw(st.booleans()),
        "response_type": draw(st.sampled_from(["choiceresponse", "customresponse"])),
        "question": draw(st.sampled_from(["Q?", ""])),
    }
    if draw(st.booleans()):
        found["answer_value_id"] = draw(st.sampled_from(["choice_0", "choice_1"]))
    return found


@st.composite
def problem_rows(draw: st.DrawFn, people: range) -> list[tuple[Any, ...]]:
    """learner_problem rows of some of `people`, as the driver gives them: times that tie."""
    rows = []
    for person in people:
        for problem in draw(st.lists(st.sampled_from(["p1", "p2"]), unique=True)):
            attempts = draw(st.integers(1, 4))
            first = draw(st.sampled_from([1.0, 2.0, 3.0]))
            last = first + draw(st.sampled_from([0.0, 1.0, 2.0]))
            parts = st.dictionaries(st.sampled_from(["1_2_1", "1_3_1"]), answer(), max_size=2)
            names = [draw(st.sampled_from([None, "Name A", "Name B"])) for _side in range(2)]
            packed = orjson.dumps({"first": draw(parts), "last": draw(parts), "names": names})
            correct = draw(st.one_of(st.none(), st.integers(1, attempts)))
            rows.append((person, problem, attempts, correct, first, last, packed))
    return rows


@settings(max_examples=400, deadline=None)
@given(
    before=problem_rows(range(1, 7)),
    drawn=problem_rows(range(4, 9)),
    same=st.sets(st.sampled_from([4, 5, 6])),
    later=st.sets(st.sampled_from([4, 5, 6])),
)
def test_problem_sums_follow_learners_replaced_exactly(
    before: list[tuple[Any, ...]],
    drawn: list[tuple[Any, ...]],
    same: set[int],
    later: set[int],
) -> None:
    # Learners 4-6 replaced (their rows before out, after in), 7-8 new to the class, 1-3 kept;
    # of those replaced, some with the same rows as before, some with the same rows checked
    # again later (the same answers), the others with rows drawn anew.
    later -= same
    after = [row for row in drawn if row[0] not in same | later]
    after += [row for row in before if row[0] in same]
    after += [(*row[:4], row[4] + 5, row[5] + 5, row[6]) for row in before if row[0] in later]
    stored = problem_sums.of_checks(map(problems.check_of, before))
    sums = {
        problem: problem_sums.ProblemSums.from_json(orjson.loads(orjson.dumps(found.as_json())))
        for problem, found in stored.items()
    }
    again = class_sums.follow_problems(sums, [row for row in before if row[0] >= 4], after)
    now = [problems.check_of(row) for row in before if row[0] < 4] + [
        problems.check_of(row) for row in after
    ]
    for problem in again:  # counted again from the rows, as class_sums.since does
        sums.update(problem_sums.of_checks(c for c in now if c.problem_id == problem))
    now.sort(key=lambda check: (check.problem_id, check.person_id))  # as learner_checks
    expected = {"stats": problems.problem_stats(now), "answers": problems.distributions(now)}
    assert problem_sums.figures(sums) == expected


def _alike(rows: list[tuple[Any, ...]], pool: int, data: st.DataObject) -> list[tuple[Any, ...]]:
    """The rows, their packed answers drawn from `pool` of them: learners who answered alike
    (a problem's few choices)."""
    packed = sorted({row[6] for row in rows})[:pool]
    return [(*row[:6], data.draw(st.sampled_from(packed)) if packed else row[6]) for row in rows]


@settings(max_examples=300, deadline=None)
@given(rows=problem_rows(range(1, 9)), pool=st.integers(1, 4), data=st.data())
def test_problem_sums_of_rows_count_each_learners_checks_as_of_checks(
    rows: list[tuple[Any, ...]], pool: int, data: st.DataObject
) -> None:
    # Learners who gave the same answers (a problem's few choices) are decoded once: the sums
    # are the same as every learner's checks counted in one by one, the groups' most recent
    # answers and the problem's latest check included; the answers as any driver gives them.
    alike = _alike(rows, pool, data)
    given = [
        (*row[:6], memoryview(row[6]) if data.draw(st.booleans()) else row[6]) for row in alike
    ]
    checks = sorted(map(problems.check_of, alike), key=lambda c: (c.problem_id, c.person_id))
    found = problem_sums.of_rows(given)
    assert found == problem_sums.of_checks(checks)
    expected = {"stats": problems.problem_stats(checks), "answers": problems.distributions(checks)}
    assert problem_sums.figures(found) == expected


@settings(max_examples=300, deadline=None)
@given(rows=problem_rows(range(1, 9)), pool=st.integers(1, 3), data=st.data())
def test_problem_rows_counted_in_batches_sum_as_all_at_once(
    rows: list[tuple[Any, ...]], pool: int, data: st.DataObject
) -> None:
    # A first ingest's rebuilds hand their rows over a batch of learners at a time (in any
    # order of batches, counted in or counted apart and merged): the sums, and the JSON they
    # are stored as, are those of every row counted at once.
    alike = _alike(rows, pool, data)
    people = sorted({row[0] for row in alike})
    cuts = sorted(data.draw(st.lists(st.sampled_from(people), unique=True))) if people else []
    batches = [
        [row for row in alike if low <= row[0] < high]
        for low, high in zip([0, *cuts], [*cuts, 99], strict=True)
    ]
    found = problem_sums.RowSums()
    for batch in data.draw(st.permutations(batches)):
        if data.draw(st.booleans()):
            found.add(batch)
        else:  # counted apart (a worker's batch), then merged
            apart = problem_sums.RowSums()
            apart.add(batch)
            found.merge(apart)
    summed = found.sums()
    assert summed == problem_sums.of_rows(alike)
    assert found.sums() == summed  # (asked again: the same, nothing spent)
    as_json = {problem: sums.as_json() for problem, sums in summed.items()}
    checks = sorted(map(problems.check_of, alike), key=lambda c: (-c.person_id, c.problem_id))
    counted = problem_sums.of_checks(checks)  # the learners counted in reverse
    assert as_json == {problem: sums.as_json() for problem, sums in counted.items()}


def test_rows_the_same_before_and_after_are_left_out_of_both() -> None:
    # As replaced.read gives them (a viewing's packed runs as bytes: PostgreSQL's memoryview
    # is no dict key) or text.
    before = replaced.Rows(
        viewings={
            1: [("v1", b"[0,5]"), ("v2", b"[1,2]")],
            2: [("v1", "[0,9]")],
        },
        days={1: ["2026-01-01", "2026-01-02"], 2: ["2026-01-01"]},
        resources={1: [("r", "html", 1.0)], 2: []},
        weeks={1: [("2025-12-29", "VIEWED")], 2: []},
    )
    after = replaced.Rows(
        viewings={
            1: [("v1", b"[0,5]"), ("v2", b"[1,4]")],
            2: [("v1", "[0,9]")],
        },
        days={1: ["2026-01-02", "2026-01-03"], 2: ["2026-01-01"]},
        resources={1: [("r", "html", 1.0), ("s", "html", 2.0)], 2: []},
        weeks={1: [("2025-12-29", "VIEWED")], 2: []},
    )
    old, new = class_sums._less_shared(before, after, {1})
    assert old.viewings == {1: [("v2", b"[1,2]")], 2: [("v1", "[0,9]")]}
    assert new.viewings == {1: [("v2", b"[1,4]")], 2: [("v1", "[0,9]")]}  # 2: not replaced
    assert (old.days[1], new.days[1]) == (["2026-01-01"], ["2026-01-03"])
    assert (old.resources[1], new.resources[1]) == ([], [("s", "html", 2.0)])
    assert (old.weeks[1], new.weeks[1]) == ([], [])


def test_learners_replaced_by_the_same_or_later_checks_count_no_problem_again() -> None:
    # Learner 2 held p1's latest check and its groups' most recent answers; replaced with the
    # same row, or with one more check later (the first check as it was), nothing is counted
    # again from rows.
    answers = orjson.dumps(
        {"first": {"1_2_1": {"answer": "A", "response_type": "choiceresponse"}},
         "last": {"1_2_1": {"answer": "B", "response_type": "choiceresponse"}},
         "names": ["P", "P"]}
    )  # fmt: skip
    one = (1, "p1", 2, None, 1.0, 2.0, answers)
    two = (2, "p1", 3, 2, 3.0, 4.0, answers)
    later = (2, "p1", 4, 2, 3.0, 9.0, answers)
    for after in (two, later):
        sums = problem_sums.of_checks(map(problems.check_of, [one, two]))
        assert class_sums.follow_problems(sums, [two], [after]) == set()
        expected = problem_sums.of_checks(map(problems.check_of, [one, after]))
        assert problem_sums.figures(sums) == problem_sums.figures(expected)
    # Taken out first, as before, the latest check would go and p1 be counted again.
    sums = problem_sums.of_checks(map(problems.check_of, [one, two]))
    assert class_sums.count_out(sums, [two]) == {"p1"}


@pytest.mark.parametrize("rebuilt_first", [False, True], ids=["merged", "rebuilt then merged"])
def test_a_merge_takes_the_dropped_learners_rows_out_of_the_sums(
    app: Flask, monkeypatch: pytest.MonkeyPatch, rebuilt_first: bool
) -> None:
    # Two accounts found to be one learner: the dropped one's rows go (noted, as a rebuild
    # notes them), the kept one's are rebuilt with both's events. When a rebuild wrote both's
    # rows earlier in the same transaction, those it handed to the sums as written
    # (replaced.now) are the dropped one's no more: theirs are none.
    course = log_course()
    keep, drop = sorted(class_member_ids(db.session, course))[:2]
    calls = _counting(monkeypatch)
    if rebuilt_first:
        rebuild_learners(db.session, course.id, [keep, drop])
        assert replaced.now(db.session, course.id, [drop]).viewings[drop]
    merge_people(db.session, keep, drop)
    assert replaced.now(db.session, course.id, [drop]).viewings[drop] == []
    db.session.commit()
    assert calls == []
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    assert drop not in found[-1][0]["people"]


def test_the_rows_a_rebuild_wrote_are_handed_over_as_read_gives_them(
    app: Flask, tmp_path: Path
) -> None:
    checks = tmp_path / "checks.log"
    parts = {part_id(PROBLEM, 1): {"answer": "A", "correct": True}}
    check = problem_check(days_ago(1, 100), parts, user=1, username="u1")
    checks.write_text(check + "\n", encoding="utf-8")
    ingest_tracking_logs(db.session, [checks], None, workers=0)
    course = log_course()
    people = sorted(class_member_ids(db.session, course))[:3]
    rebuild_learners(db.session, course.id, people)
    asked: list[list[int]] = []
    real = replaced.read

    def read(session: Any, course_id: int, wanted: list[int]) -> replaced.Rows:
        asked.append(list(wanted))
        return real(session, course_id, wanted)

    handed = replaced.now(db.session, course.id, people)
    stored = read(db.session, course.id, people)
    # The same values, of the same types, on either database (read makes PostgreSQL's dates
    # text and its memoryviews bytes: a memoryview equals no bytes).
    for kind in ("viewings", "days", "resources", "problems", "weeks", "enrollments"):
        mine, theirs = getattr(handed, kind), getattr(stored, kind)
        assert mine.keys() == theirs.keys() == set(people)
        for person in people:
            assert sorted(mine[person], key=repr) == sorted(theirs[person], key=repr)
            assert sorted(map(repr, mine[person])) == sorted(map(repr, theirs[person]))
    assert handed.viewings[people[0]] and handed.days[people[0]] and handed.weeks[people[0]]
    assert any(handed.problems.values())
    # Nothing read back but for someone the transaction did not rebuild.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replaced, "read", read)
        asked.clear()
        replaced.now(db.session, course.id, [*people, 99_999])
    assert asked == [[99_999]]


def test_a_username_a_later_log_brings_keeps_the_sums_followed(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner the logs knew by user id alone, then by a username too: their rows are
    # shown again (the name), their activity replaced, the rest of the class's sums kept.
    first = tmp_path / "no-name.log"
    first.write_text(event(days_ago(2, 100), user=40, username="") + "\n", encoding="utf-8")
    ingest_tracking_logs(db.session, [first], None, workers=0)
    shown: list[Any] = []
    monkeypatch.setattr(linking, "shown_again", _counted(shown, "shown_again", shown_again))
    calls = _counting(monkeypatch)
    ingest_tracking_logs(
        db.session, [_log(tmp_path, "named.log", range(40, 41), 0)], None, workers=0
    )
    assert shown and calls == []
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    # The learner rows show the username now (written again though no fingerprint moved).
    course = log_course()
    _same(_stored(course), _computed(course, pseudonym_key()))


def test_a_launch_linking_a_learner_of_the_logs_keeps_the_sums_followed(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A learner's first launch names them by a new identity (their LTI sub) beside the logs'
    # username, in a transaction that leaves the summaries for later: their name may be shown
    # otherwise, their activity is not changed: the class's figures are kept, then followed.
    learner = sorted(class_member_ids(db.session, log_course()))[0]
    username = db.session.scalar(
        select(PersonIdentity.value).where(
            PersonIdentity.person_id == learner, PersonIdentity.kind == "openedx_username"
        )
    )
    summaries_later(db.session)
    linked = linking.link_person(
        db.session,
        None,
        linking.Claim([("lti_sub", "first-launch"), ("openedx_username", username)]),
    )
    db.session.commit()
    assert linked.id == learner
    # Marked stale by the launch: the reader (or the job) that writes the rows again keeps the
    # class's figures, and so does the next ingest, which follows the sums.
    course = log_course()
    assert learner_summary.stale_courses(db.session) == [course.id]
    calls = _counting(monkeypatch)
    learner_summary.current(db.session, course, key=pseudonym_key())
    db.session.commit()
    _same(_stored(course), _computed(course, pseudonym_key()))
    ingest_tracking_logs(db.session, [_log(tmp_path, "more.log", range(3, 5), 10)], None, workers=0)
    assert calls == []
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]


def test_a_video_new_to_the_course_keeps_the_sums_followed(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New content viewed (a video the sums hold nothing of): its viewings are added.
    calls = _counting(monkeypatch)
    log = _log(tmp_path, "new-video.log", range(3, 6), 10, video="a-new-video", duration=300)
    ingest_tracking_logs(db.session, [log], None, workers=0)
    assert calls == []
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    assert "a-new-video" in found[-1][0]["durations"]


@pytest.mark.parametrize("recorded", [True, False])
def test_a_video_new_to_the_course_without_a_duration_has_one_inferred(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    # A video no event gives a duration of, viewed first by learners an ingest replaced: its
    # duration is inferred from where they stopped, as adding up the class does; also when
    # the course has no record of the video at all (its viewings are all there is).
    if not recorded:
        monkeypatch.setattr(EventSink, "_record_videos", lambda *args: None)
    log = _log(tmp_path, "no-duration.log", range(3, 6), 10, video="untimed", duration=0)
    ingest_tracking_logs(db.session, [log], None, workers=0)
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]
    assert found[-1][0]["durations"]["untimed"] is not None


def test_a_video_whose_duration_moved_adds_up_the_class_again(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every share and completion of the video moves with its duration: counted again.
    calls = _counting(monkeypatch)
    log = _log(tmp_path, "longer.log", range(3, 4), 10, duration=240)
    ingest_tracking_logs(db.session, [log], None, workers=0)
    assert "class_videos" in calls
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]


def _enrollment_log(
    folder: Path, name: str, users: range, kind: str = "activated", mode: str = "audit"
) -> Path:
    """A log of `users` enrolling in the course (or another enrollment event), some days ago
    (the later, the greater the user's number)."""
    lines = [
        event(
            days_ago(9 - user, 300),
            f"edx.course.enrollment.{kind}",
            user=user,
            username=f"u{user}",
            payload={"user_id": user, "course_id": COURSE, "mode": mode},
        )
        for user in users
    ]
    return write(folder / name, lines)


def _enrollment_stored_and_expected() -> tuple[Any, Any]:
    """The enrollment history as stored (counted on to today, as its page does) and as
    enrollment.enrollments counts it now."""
    course = log_course()
    stored = page_summary.stored(db.session, course, page_summary.ENROLLMENT, None)
    assert stored is not None
    today = course_settings.load(db.session, course).today(utcnow())
    return enrollment.from_figures(stored, today), enrollment.enrollments(db.session, course)


def _counting_enrollments(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the countings of the course's whole enrollment history."""
    calls: list[str] = []
    counted = _counted(calls, "tally_of", enrollment.tally_of)
    monkeypatch.setattr(enrollment, "tally_of", counted)
    return calls


def test_an_ingest_follows_the_enrollment_history_through_its_learners_changes(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_tracking_logs(db.session, [_enrollment_log(tmp_path, "in.log", range(1, 4))], None)
    calls = _counting_enrollments(monkeypatch)
    # New viewings of learners 7 and 8 and of learner 9, new to the course: nobody enrolled,
    # left or changed mode.
    ingest_tracking_logs(db.session, [_log(tmp_path, "more.log", range(7, 10), 30)], None)
    assert calls == []
    stored, expected = _enrollment_stored_and_expected()
    assert stored == expected
    assert stored.from_events == 3
    calls.clear()
    # Learner 9 enrolls (today: the latest change), learner 2 moves to verified: their
    # histories are taken out as they were and added as they are, the others' not counted
    # again.
    nine = _enrollment_log(tmp_path, "nine.log", range(9, 10))
    two = _enrollment_log(tmp_path, "two.log", range(2, 3), "mode_changed", "verified")
    ingest_tracking_logs(db.session, [nine, two], None)
    assert calls == []
    stored, expected = _enrollment_stored_and_expected()
    assert stored == expected
    assert stored.from_events == 4


def test_a_merge_that_moves_lms_enrollment_dates_counts_the_history_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = log_course()
    keep, drop = sorted(class_member_ids(db.session, course))[:2]
    # The kept account is enrolled, without a date; the LMS dated the other account's
    # enrollment, of which the tool has no row (no enrollment events either): nobody counts.
    db.session.add(Enrollment(course_id=course.id, person_id=keep, course_role="learner"))
    db.session.add(
        LmsEnrollment(course_id=course.id, person_id=drop, created_at=utcnow(), mode="audit")
    )
    touch_courses(db.session, [course.id])
    db.session.commit()
    assert _enrollment_stored_and_expected()[0].from_lms == 0
    calls = _counting_enrollments(monkeypatch)
    # One learner after all: the date goes to the kept account's enrollment, nobody's
    # enrollment events or enrollments moved.
    merge_people(db.session, keep, drop)
    db.session.commit()
    assert calls == ["tally_of"]
    stored, expected = _enrollment_stored_and_expected()
    assert stored == expected
    assert stored.from_lms == 1


def test_the_enrollment_history_is_counted_again_when_its_latest_change_goes(app: Flask) -> None:
    # A tally keeps its latest change's time, not the one before it: a learner whose history
    # held it and no longer does leaves it unknown (a deletion; an ingest only adds events).
    course = log_course()
    zone = course_settings.load(db.session, course).zone
    tally = enrollment.Tally(utcnow().date())
    latest = (utcnow().timestamp(), "edx.course.enrollment.activated", "audit")
    earlier = (latest[0] - 86400, "edx.course.enrollment.activated", "audit")
    tally.add([enrollment.Change(*earlier)], False, zone)
    tally.add([enrollment.Change(*latest)], False, zone)
    gone = {2: ([latest], [])}
    assert enrollment.since(db.session, course, tally, gone, zone) is None
    # The same learner's history kept with it, or another's replaced: followed.
    kept = {2: ([latest], [latest, earlier])}
    assert enrollment.since(db.session, course, tally, kept, zone) is not None


def test_one_pass_counts_the_openers_and_finds_the_first_meetings_and_the_viewers(
    app: Flask, tmp_path: Path
) -> None:
    # The class's sums read the course's learner resources once for both: the same counts as
    # resource_reach over everyone and the same first meetings as names.first_seen.
    ingest_tracking_logs(
        db.session, [_log(tmp_path, "more.log", range(5, 12), 40)], None, workers=0
    )
    course = log_course()
    counted, first = resources.opened_and_first_met(db.session, course)
    assert first and first == names.first_seen(db.session, course)
    everyone = {
        (r["resource"], r["kind"]): r["learners"]
        for r in resources.resource_reach(db.session, course)
    }
    assert counted == everyone
    people = class_member_ids(db.session, course)
    assert resources.resource_reach(db.session, course, people, counted) == (
        resources.resource_reach(db.session, course, people)
    )
    # And the course's viewings once for the class's video sums and every learner's viewers.
    runs = video_engagement.course_runs(db.session, course)
    viewed = Counter(video_id for _person, video_id, _runs in runs)
    assert viewed and viewed == names.video_viewers(db.session, course)
    some = set(sorted(people)[:3])
    shared = video_engagement.class_videos(db.session, course, some, runs=runs)
    assert shared == video_engagement.class_videos(db.session, course, some)
