"""Learner-day blocks (lti_tool.activity.blocks): packing, merging, idempotence, the rollups."""

from __future__ import annotations

import math
from datetime import date

from lti_tool.activity import blocks
from lti_tool.activity.blocks import (
    DETAIL,
    KEY,
    NOT_FINITE,
    TIME,
    append_row,
    decode,
    empty,
    encode,
    event_row,
    fill_details,
    merge,
    rows,
)
from lti_tool.activity.rollups import learner_rollup

DAY = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday


def block(*events: tuple[float, int]) -> list[list]:
    """Columns of page views at (seconds into the day, key)."""
    columns = empty()
    for seconds, key in events:
        append_row(columns, event_row(DAY + seconds, key, "/courses/x/courseware", "server", {}))
    return columns


def test_merge_sorts_by_time_and_keeps_the_first_of_each_key() -> None:
    merged, added = merge(None, block((30, 3), (10, 1), (20, 2), (10, 1)))
    assert added == 3
    assert [t - DAY for t in merged[TIME]] == [10, 20, 30]
    # Again: nothing new. A late event: it lands in time order.
    again, added = merge(merged, block((20, 2), (10, 1)))
    assert (again, added) == (merged, 0)
    late, added = merge(merged, block((15, 4), (30, 3)))
    assert added == 1
    assert [(t - DAY, k) for t, k in zip(late[TIME], late[KEY], strict=True)] == [
        (10, 1),
        (15, 4),
        (20, 2),
        (30, 3),
    ]


def test_merge_result_depends_only_on_the_set_of_events() -> None:
    # Ties in time are ordered by key, so that any arrival order stores the same value.
    one, _ = merge(merge(None, block((5, 9), (5, 1)))[0], block((7, 4)))
    other, _ = merge(merge(None, block((7, 4), (5, 1)))[0], block((5, 9)))
    assert encode(one) == encode(other)


def test_encode_decode_round_trip_and_rows() -> None:
    columns = empty()
    play = {"id": "block-v1:X+type@video+block@abc", "currentTime": "12.5", "duration": 60}
    append_row(columns, event_row(DAY, -(2**63), "play_video", "browser", play))
    append_row(
        columns, event_row(DAY + 1, 2**63 - 1, "pause_video", "browser", {"currentTime": math.nan})
    )
    assert decode(encode(columns)) == columns
    first, second = rows(columns)
    assert first[1:8] == (-(2**63), "play_video", "browser", True, "PLAYED_VIDEO", "abc", "play")
    assert first[8:] == (12.5, None, None, 60.0, None)  # no detail: not a problem or enrollment
    # JSON has no NaN: a non-finite position is stored as one the video rules drop anyway.
    assert second[8] == NOT_FINITE


def test_learner_rollup_days_gaps_weeks_across_days() -> None:
    monday = merge(None, block((36000, 1), (36600, 2)))[0]  # 10:00, 10:10
    sunday = empty()  # 2026-03-08, the same ISO week
    append_row(sunday, event_row(DAY + 6 * 86400 + 60, 3, "problem_check", "server", {}))
    append_row(sunday, event_row(DAY + 6 * 86400 + 90, 4, "x", "task", {}))  # not activity
    rollup = learner_rollup(
        [(date(2026, 3, 2), encode(monday)), (date(2026, 3, 8), encode(sunday))], {}
    )
    # Monday: one 10-minute gap. Sunday's first gap reaches back to Monday 10:10: the longest
    # bucket. Histograms are packed [minute, gaps, seconds, ...].
    assert rollup.days == [
        (date(2026, 3, 2), 2, DAY + 36000, DAY + 36600, [10, 1, 600.0]),
        (
            date(2026, 3, 8),
            1,
            DAY + 6 * 86400 + 60,
            DAY + 6 * 86400 + 60,
            [240, 1, 6 * 86400 + 60 - 36600.0],
        ),
    ]
    assert rollup.weeks == {(date(2026, 3, 2), "ACTIVE"), (date(2026, 3, 2), "ATTEMPTED_PROBLEM")}


def test_details_are_stored_only_when_an_event_has_one_and_filled_in_once() -> None:
    page = block((10, 1))
    assert b'"detail"' not in encode(merge(None, page)[0])  # blocks without details look as before
    stored = merge(None, block((10, 1), (20, 2)))[0]
    again = block((20, 2))
    again[DETAIL][0] = {"mode": "verified"}
    # The same event read again with a detail fills it in; a stored detail is never replaced.
    assert fill_details(stored, again) == 1
    assert stored[DETAIL] == [None, {"mode": "verified"}]
    assert decode(encode(stored)) == stored
    again[DETAIL][0] = {"mode": "audit"}
    assert fill_details(stored, again) == 0
    assert stored[DETAIL][1] == {"mode": "verified"}


def test_event_row_tells_events_apart_by_name_and_source_on_every_call() -> None:
    # event_row keeps what it found for a (name, source) pair: the same name from another
    # source, or a repeat after it, must still get its own columns.
    answers = {"problem_id": "p1", "answers": {"p1_2_1": "choice_1"}}
    for _ in range(2):
        server = event_row(DAY, 1, "problem_check", "server", answers)
        browser = event_row(DAY, 2, "problem_check", "browser", answers)
        task = event_row(DAY, 3, "problem_check", "task", answers)
        play = event_row(DAY, 4, "play_video", "browser", {"id": "v1", "currentTime": 3})
        server_play = event_row(DAY, 5, "play_video", "server", {"id": "v1", "currentTime": 3})
        assert server[5:7] == ("ATTEMPTED_PROBLEM", "p1") and server[DETAIL] is not None
        assert browser[4:7] == (True, None, None) and browser[DETAIL] is None
        assert task[4:7] == (False, None, None)
        assert play[5:9] == ("PLAYED_VIDEO", "v1", "play", 3.0)
        assert server_play[5:9] == (None, "v1", "play", 3.0)


def test_event_row_keeps_no_rule_for_a_name_or_source_longer_than_a_block_stores() -> None:
    # The rules event_row keeps are bounded: a log of odd, long names must not grow them.
    long_name, long_source = "/courses/x/" + "a" * 300, "browser" + "x" * 30
    row = event_row(DAY, 1, long_name, "server", {})
    other = event_row(DAY, 2, "page_close", long_source, {})
    assert (row[2], other[3]) == (long_name[:200], long_source[:20])
    assert (long_name, "server") not in blocks._RULES
    assert ("page_close", long_source) not in blocks._RULES
    event_row(DAY, 3, "page_close", "browser", {})
    assert ("page_close", "browser") in blocks._RULES
