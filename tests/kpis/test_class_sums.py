"""The class's sums (video_sums, class_sums): adding and taking out viewings is exact, and an
ingest of a few learners adds their change to the stored sums instead of reading the whole
class's viewings, days and resources, with the same figures as adding up the class again; a
change made otherwise (a purge, a merge: touch_courses) or a rolled-back transaction makes the
class added up again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.activity import replaced
from lti_tool.activity.rollups import touch_courses
from lti_tool.extensions import db
from lti_tool.kpis import page_summary, resources, student, video_engagement, video_sums
from lti_tool.kpis.roster import class_member_ids
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.database import make_app
from tests.helpers.tracking_logs import COURSE, VIDEO, event
from tests.kpis.test_learner_summary import _course, _stamp

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


def _log(folder: Path, name: str, users: range, start: int) -> Path:
    """A log of viewings of the video by `users`, each from `start` seconds in, and a page of
    the courseware each."""
    lines = []
    for user in users:
        page = f"/courses/{COURSE}/courseware/w/{(user + start) % 3}/"
        lines.append(event(_stamp(user % 5, 600 + start), page, user=user, username=f"u{user}"))
        for kind, at in (("play_video", start), ("pause_video", start + 40 + user)):
            payload = {"id": VIDEO, "code": "html5", "duration": 120, "currentTime": at}
            stamp = _stamp(user % 5, 3600 + at)
            lines.append(
                event(
                    stamp, kind, user=user, username=f"u{user}", source="browser", payload=payload
                )
            )
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    flask_app = make_app(tmp_path)
    with flask_app.app_context():
        ingest_tracking_logs(
            db.session, [_log(tmp_path, "first.log", range(1, 9), 0)], None, workers=0
        )
        yield flask_app
        db.session.remove()


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the reads of the whole class's viewings, active days and resources."""
    calls: list[str] = []
    for module, name in (
        (video_engagement, "class_videos"),
        (student, "class_active_counts"),
        (resources, "resource_reach"),
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
    course = _course()
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
    sums = found[3][0]
    assert sums["people"] == sorted(class_member_ids(db.session, _course()))
    assert list(sums["videos"]["viewers"].values()) == [9]
    assert sum(count for _resource, _kind, count in sums["opened"]) > 9


def test_a_change_made_otherwise_adds_up_the_class_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    touch_courses(db.session, [_course().id])  # as a purge or a merge does
    db.session.commit()
    assert sorted(calls) == ["class_active_counts", "class_videos", "resource_reach"]
    found = _stored_and_expected()
    assert [stored for stored, _expected in found] == [expected for _stored, expected in found]


def test_a_rolled_back_transaction_leaves_no_record(app: Flask, tmp_path: Path) -> None:
    course = _course()
    people = sorted(class_member_ids(db.session, course))
    replaced.note(db.session, course.id, people, people)
    record = replaced.taken(db.session, course.id)
    assert record is not None and set(record.rows.days) == set(people)
    assert any(record.rows.viewings.values()) and any(record.rows.resources.values())
    db.session.rollback()
    assert replaced.taken(db.session, course.id) is None
