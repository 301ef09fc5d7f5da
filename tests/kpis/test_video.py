"""Video KPIs: viewings, segments and summaries as Open edX Insights computes them."""

import math
import random

import pytest

from lti_tool.activity.video import (
    MAX_VIEWING_SECONDS,
    SEGMENT_SECONDS,
    segment_runs,
    viewing_spans,
)
from lti_tool.kpis.video import (
    VideoEvent,
    VideoSummary,
    Viewing,
    end_segment,
    final_segment,
    infer_duration,
    learner_coverage,
    reported_segments,
    runs_coverage,
    runs_totals,
    seen_runs,
    segments,
    summarize,
    timeline,
    viewings,
    views_per_segment,
)


def play(t, pos, duration=None):
    return VideoEvent(t, "play", pos, duration=duration)


def pause(t, pos):
    return VideoEvent(t, "pause", pos)


def stop(t, pos):
    return VideoEvent(t, "stop", pos)


def seek(t, old, new):
    return VideoEvent(t, "seek", None, old_time=old, new_time=new)


# --- viewings -------------------------------------------------------------------------------


def test_play_then_pause_is_one_viewing_ending_at_pause_position():
    # play at position 10, pause at position 30 -> one viewing 10..30
    assert viewings([play(100, 10), pause(120, 30)]) == [Viewing(10, 30)]


def test_play_then_stop_ends_at_stop_position():
    assert viewings([play(0, 0), stop(42, 42.5)]) == [Viewing(0, 42.5)]


def test_seek_ends_viewing_at_old_time_and_next_play_starts_at_new_time():
    # play 0 -> seek from 12 to 60 closes 0..12; the following play reports a stale position 12
    # but starts at the seek's new_time 60; pause at 70 -> 60..70.
    events = [play(0, 0), seek(12, 12, 60), play(12.1, 12), pause(22, 70)]
    assert viewings(events) == [Viewing(0, 12), Viewing(60, 70)]


def test_seek_before_play_moves_start_even_with_events_outside_a_viewing_in_between():
    # The seek closes 0..20 and remembers 80; the pause at 13 s has no viewing open and is
    # ignored without forgetting the seek, so the play (stale position 20) starts at 80.
    events = [play(0, 0), seek(10, 20, 80), pause(13, 20), play(15, 20), pause(25, 90)]
    assert viewings(events) == [Viewing(0, 20), Viewing(80, 90)]


def test_seek_with_no_viewing_open_is_ignored():
    # Nothing is playing, so the seek 0 -> 40 neither ends nor starts anything: the play starts
    # at its own position 0 and the pause at 20 gives 0..20 (starting at 40 would give
    # end < start and nothing at all).
    events = [seek(0, 0, 40), play(1, 0), pause(21, 20)]
    assert viewings(events) == [Viewing(0, 20)]


def test_play_after_a_pause_starts_at_its_own_position():
    # The last viewing ended with a pause, not a seek, so the stray seek (no viewing open) and the
    # earlier history do not move the start: second viewing is 50..55.
    events = [play(0, 0), pause(10, 10), seek(11, 10, 90), play(12, 50), pause(17, 55)]
    assert viewings(events) == [Viewing(0, 10), Viewing(50, 55)]


def test_pause_without_play_is_ignored():
    assert viewings([pause(0, 5)]) == []
    assert viewings([pause(0, 5), play(1, 10), pause(11, 20)]) == [Viewing(10, 20)]


def test_play_after_play_discards_the_open_viewing():
    # play at 0 is replaced by play at 50; pause at 60 -> only 50..60 (not 0..60).
    assert viewings([play(0, 0), play(10, 50), pause(20, 60)]) == [Viewing(50, 60)]


def test_viewing_without_an_end_event_is_dropped():
    assert viewings([play(0, 0)]) == []
    assert viewings([play(0, 0), pause(5, 5), play(6, 5)]) == [Viewing(0, 5)]


def test_viewing_shorter_than_a_quarter_second_is_dropped():
    # 10..10.2 lasts 0.2 s < 0.25 -> dropped; 20..20.25 lasts exactly 0.25 s -> kept.
    assert viewings([play(0, 10), pause(1, 10.2)]) == []
    assert viewings([play(0, 20), pause(1, 20.25)]) == [Viewing(20, 20.25)]


def test_viewing_ending_before_it_starts_is_dropped_and_closed():
    # 30..20 is dropped; the viewing is closed anyway, so the later pause at 40 is outside one.
    assert viewings([play(0, 30), pause(5, 20), pause(9, 40)]) == []
    # Same start with a later end is a normal viewing 30..40.
    assert viewings([play(0, 30), pause(9, 40)]) == [Viewing(30, 40)]


def test_viewing_past_duration_plus_one_is_dropped_but_exactly_plus_one_kept():
    # duration 100: end 101.5 > 101 dropped; end 101 == 101 kept.
    assert viewings([play(0, 90), pause(12, 101.5)], duration=100) == []
    assert viewings([play(0, 90), pause(11, 101)], duration=100) == [Viewing(90, 101)]
    # Unknown duration: no upper bound.
    assert viewings([play(0, 90), pause(12, 101.5)]) == [Viewing(90, 101.5)]


def test_duration_carried_by_the_play_event_wins_over_the_fallback():
    # The play says 200 s, so 150 is fine although the caller's fallback says 100.
    assert viewings([play(0, 140, duration=200), pause(10, 150)], duration=100) == [
        Viewing(140, 150)
    ]
    # The play says 100 s: 150 > 101 dropped even though no fallback is given.
    assert viewings([play(0, 140, duration=100), pause(10, 150)]) == []


def test_positions_over_ten_hours_discard_the_event_not_the_viewing():
    over = MAX_VIEWING_SECONDS + 1  # 36001
    # The pause at 36001 never happened as far as Insights is concerned: play 0 stays open and
    # the pause at 100 closes it -> 0..100.
    assert viewings([play(0, 0), pause(10, over), pause(20, 100)]) == [Viewing(0, 100)]
    # Nothing else closes it -> no viewing.
    assert viewings([play(0, 0), pause(10, over)]) == []
    # Exactly 10 h is still a valid position: 0..36000 is kept.
    assert viewings([play(0, 0), pause(10, MAX_VIEWING_SECONDS)]) == [
        Viewing(0, MAX_VIEWING_SECONDS)
    ]


def test_negative_and_non_finite_positions_discard_the_event():
    events = [play(0, -1), play(1, math.nan), play(2, 5), pause(3, math.inf), pause(9, 9)]
    # Only play at 5 and pause at 9 survive -> 5..9.
    assert viewings(events) == [Viewing(5, 9)]


def test_pause_without_position_counts_as_zero_and_play_without_position_is_dropped():
    # pause(None) means position 0: it closes 10..0 (dropped), so the pause at 30 is outside.
    assert viewings([play(0, 10), pause(5, None), pause(9, 30)]) == []
    # A play without a position is dropped; a stop without one too.
    assert viewings([play(0, None), pause(5, 5)]) == []
    assert viewings([play(0, 0), stop(5, None), pause(9, 9)]) == [Viewing(0, 9)]


def test_other_kinds_are_ignored():
    events = [play(0, 0), VideoEvent(3, "speed_change", 3), pause(5, 5)]
    assert viewings(events) == [Viewing(0, 5)]


def test_events_out_of_order_are_sorted_by_time():
    events = [play(0, 0), seek(12, 12, 60), play(12.1, 12), pause(22, 70)]
    assert viewings(reversed(events)) == [Viewing(0, 12), Viewing(60, 70)]


def test_simultaneous_events_are_ordered_like_the_pipeline():
    # Pause and play both at t=10: Insights sorts pause_video before play_video, giving 0..10
    # then 10..20. Input order (play before pause) would instead restart and lose both.
    events = [play(0, 0), play(10, 10), pause(10, 10), pause(20, 20)]
    assert viewings(events) == [Viewing(0, 10), Viewing(10, 20)]


# --- segments -------------------------------------------------------------------------------


def test_segment_boundaries():
    assert SEGMENT_SECONDS == 5
    assert list(segments(Viewing(0, 4.99))) == [0]
    assert list(segments(Viewing(4.99, 5.0))) == [0, 1]
    assert list(segments(Viewing(5.0, 9.99))) == [1]
    assert list(segments(Viewing(12.7, 31))) == [2, 3, 4, 5, 6]


def test_views_per_segment_counts_each_viewing_once_per_segment():
    # 0..12 -> 0,1,2 ; 10..16 -> 2,3 ; segment 2 is seen twice.
    assert views_per_segment([Viewing(0, 12), Viewing(10, 16)]) == {0: 1, 1: 1, 2: 2, 3: 1}


def test_end_segment_when_the_30_second_rule_wins():
    # 600: max(570, 570) = 570 -> 570 // 5 = 114
    assert end_segment(600) == 114
    # 1000: max(970, 950) = 970 -> 194
    assert end_segment(1000) == 194


def test_end_segment_when_the_5_percent_rule_wins():
    # 100: max(70, 95) = 95 -> 19 ; 20: max(-10, 19) = 19 -> 3 ; 14: max(-16, 13.3) -> 13 -> 2
    assert end_segment(100) == 19
    assert end_segment(20) == 3
    assert end_segment(14) == 2


# --- inferred duration ----------------------------------------------------------------------


def test_infer_duration_from_a_clear_drop_off():
    # From the end: 2 <= 3 * 0.05? no. 3 <= 70 * 0.05 = 3.5? yes -> final = 3 (the segment
    # before the drop) -> duration = (3 + 1) * 5 - 1 = 19.
    assert infer_duration({0: 100, 1: 90, 2: 80, 3: 70, 4: 3, 5: 2}) == 19


def test_infer_duration_takes_the_first_drop_scanning_back_and_counts_equality():
    # From the end: 1 <= 100 * 0.05 -> final = 3 -> 19; the earlier drop at 2 is never reached.
    assert infer_duration({0: 100, 1: 100, 2: 4, 3: 100, 4: 1}) == 19
    # 5 <= 100 * 0.05 = 5 (equality drops) -> final 0 -> 4; 6 users would not.
    assert infer_duration({0: 100, 1: 5}) == 4
    assert infer_duration({0: 100, 1: 6}) == 9


def test_infer_duration_without_a_drop_and_with_gaps():
    # No drop: final is the last watched segment 2 -> 14.
    assert infer_duration({0: 10, 1: 9, 2: 8}) == 14
    # Only watched segments are compared: 10 follows 0 directly, 1 <= 5 -> final 0 -> 4.
    assert infer_duration({0: 100, 10: 1}) == 4
    # Segments with no users are not in Insights' map at all.
    assert infer_duration({0: 10, 1: 9, 2: 8, 3: 0}) == 14
    assert infer_duration({}) is None


# --- summary --------------------------------------------------------------------------------


VIEWS = {0: 3, 1: 2, 2: 2, 3: 1, 4: 1}
USERS = {0: 2, 1: 2, 2: 1, 3: 1, 4: 1}


def test_summarize_with_known_duration():
    # duration 20: final segment 4, all rows reported -> (3+2+2+1+1) * 5 = 45 s;
    # start = users in 0 = 2; end segment 3 -> 1 user.
    assert summarize(VIEWS, USERS, 20) == VideoSummary(20, 5, 2, 1, 45)


def test_summarize_stops_at_the_final_segment():
    # duration 14: final segment 2 -> rows 0..2 -> (3+2+2) * 5 = 35; end segment 2 -> 1 user.
    assert summarize(VIEWS, USERS, 14) == VideoSummary(14, 5, 2, 1, 35)
    # Insights' loop stops only on meeting the final segment: with duration 12 (final 2) and
    # nobody in segment 2, every row is reported -> (2+2+1) * 5 = 25.
    assert summarize({0: 2, 1: 2, 4: 1}, {0: 1, 1: 1, 4: 1}, 12).total_viewed_seconds == 25


def test_summarize_infers_the_duration_when_unknown():
    # 1 <= 38 * 0.05 = 1.9 -> final 2 -> duration 14; end segment 2 -> 38 users;
    # rows 0..2 -> (50+45+40) * 5 = 675.
    views = {0: 50, 1: 45, 2: 40, 3: 1}
    users = {0: 40, 1: 40, 2: 38, 3: 1}
    assert summarize(views, users, None) == VideoSummary(14, 5, 40, 38, 675)


def test_summarize_with_nothing_watched():
    assert summarize({}, {}, None) == VideoSummary(None, 5, 0, 0, 0)


def test_final_and_reported_segments():
    assert final_segment({0: 1}, 24.9) == 4
    assert final_segment({0: 100, 1: 5}, None) == 0
    assert reported_segments([3, 0, 1, 2], 1) == [0, 1]
    assert reported_segments([0, 1, 3], 2) == [0, 1, 3]
    assert reported_segments([1, 0], None) == [0, 1]


# --- per learner and aggregation ------------------------------------------------------------


def test_learner_coverage_share_and_completion():
    # duration 100 -> segments 0..20 (21 of them); end segment 19.
    # Saw 0..9 and 19 (11 segments) plus 25, which is past the end and ignored -> 11/21, True.
    share, done = learner_coverage(set(range(10)) | {19, 25}, 100)
    assert share == pytest.approx(11 / 21)
    assert done is True
    # Saw 0..18 -> 19/21, end segment 19 not reached.
    share, done = learner_coverage(set(range(19)), 100)
    assert share == pytest.approx(19 / 21)
    assert done is False
    assert learner_coverage(set(), 100) == (0.0, False)
    with pytest.raises(ValueError):
        learner_coverage({0}, -1)


def test_timeline_aggregates_users_and_views_per_segment():
    # segment 0: ann 2 + bob 1 -> 2 users, 3 views; segment 1: ann 1 -> (1, 1);
    # segment 2: bob 1 (cat's 0 views do not count her) -> (1, 1).
    per_learner = {"ann": {0: 2, 1: 1}, "bob": {0: 1, 2: 1}, "cat": {2: 0}}
    assert timeline(per_learner) == {0: (2, 3), 1: (1, 1), 2: (1, 1)}


def test_events_to_summary_end_to_end():
    # ann: 0..30 (closed by the seek)        -> segments 0..6
    #      60..62 dropped (62 > 60 + 1), then 55..61 -> segments 11, 12 ; one view each
    # bob: 0..12                              -> segments 0, 1, 2
    # duration 60 (from the plays): end segment max(30, 57) = 57 -> 11; final segment 12.
    logs = {
        "ann": [
            play(0, 0, 60),
            seek(30, 30, 60),
            play(30.1, 30, 60),
            pause(32, 62),  # 62 > 61: past the end, dropped
            play(40, 55, 60),
            pause(47, 61),  # 55..61 -> segments 11, 12
        ],
        "bob": [play(0, 0, 60), pause(12, 12)],
    }
    per_learner = {name: views_per_segment(viewings(ev)) for name, ev in logs.items()}
    assert per_learner["ann"] == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 11: 1, 12: 1}
    rows = timeline(per_learner)
    assert rows[0] == (2, 2)
    assert rows[3] == (1, 1)
    views = {s: v for s, (_, v) in rows.items()}
    users = {s: u for s, (u, _) in rows.items()}
    # views: 2+2+2+1+1+1+1+1+1 = 12 -> 60 s; start 2 users; end segment 11 -> 1 user (ann).
    assert summarize(views, users, 60) == VideoSummary(60, 5, 2, 1, 60)
    assert learner_coverage(set(per_learner["ann"]), 60) == (9 / 13, True)
    assert learner_coverage(set(per_learner["bob"]), 60) == (3 / 13, False)


# --- packed runs (the per-learner rollup) ---------------------------------------------------


def test_segment_runs_pack_viewings_and_give_the_same_views_users_and_coverage():
    # ann: 0..12 (segments 0-2) and 10..16 (2-3); bob: 40..44 (8); cat: nothing
    ann = segment_runs([(0, 12), (10, 16)])
    assert ann == [0, 2, 2, 3]
    assert seen_runs(ann) == [(0, 3)]
    bob = segment_runs([(40, 44.9)])
    views, users = runs_totals([ann, bob, []])
    assert views == {0: 1, 1: 1, 2: 2, 3: 1, 8: 1}
    assert users == {0: 1, 1: 1, 2: 1, 3: 1, 8: 1}
    # duration 20: segments 0..4, ann saw 0..3 and the end segment 3 -> (4/5, True)
    assert runs_coverage(ann, 20) == learner_coverage({0, 1, 2, 3}, 20) == (4 / 5, True)
    assert runs_coverage([], 20) == (0.0, False)
    with pytest.raises(ValueError):
        runs_coverage(ann, math.nan)


def test_segment_runs_agree_with_the_segment_by_segment_rules_on_random_viewings():
    rng = random.Random(3)
    for _ in range(300):
        learners = {}
        for name in "abcde":
            spans = []
            for _ in range(rng.randint(0, 6)):
                start = rng.uniform(0, 300)
                spans.append((start, start + rng.uniform(0, 120)))
            learners[name] = spans
        per_learner = {n: views_per_segment(Viewing(*s) for s in v) for n, v in learners.items()}
        expected = timeline(per_learner)
        views, users = runs_totals(segment_runs(v) for v in learners.values())
        assert views == {s: v for s, (_u, v) in expected.items()}
        assert users == {s: u for s, (u, _v) in expected.items()}
        duration = rng.uniform(0, 400)
        for name, spans in learners.items():
            assert runs_coverage(segment_runs(spans), duration) == learner_coverage(
                set(per_learner[name]), duration
            )


def test_viewing_spans_on_tuples_match_viewings():
    events = [play(0, 0), seek(12, 12, 60), play(12.1, 12), pause(22, 70)]
    rows = [(e.time, e.kind, e.current_time, e.old_time, e.new_time, e.duration) for e in events]
    assert viewing_spans(rows) == [(0, 12), (60, 70)]
    assert [Viewing(*s) for s in viewing_spans(rows)] == viewings(events)
