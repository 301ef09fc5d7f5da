"""The class's spread followed through a change of some learners (their old values taken out,
their new ones put in) is the spread of the class as it is then, taken whole."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.kpis import class_spread
from lti_tool.kpis.engagement import segments_and_cuts
from lti_tool.kpis.roster import Member

WEEK = date(2026, 3, 2)
_WEEKS = [WEEK + timedelta(days=7 * n) for n in range(-2, 2)]
# Few distinct values: learners share them, so a value taken out is one of several alike.
_SECONDS = st.sampled_from([0.0, 30.0, 45.5, 60.0, 600.0])


@st.composite
def _member(draw: st.DrawFn, person: int) -> Member:
    """A learner with a few weeks of activity (or none)."""
    weeks = {
        monday: [draw(_SECONDS), draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(_SECONDS)]
        for monday in draw(st.sets(st.sampled_from(_WEEKS), max_size=3))
    }
    member = Member(person_id=person, learner="", name="", email=None, pseudonymous=False)
    member.weeks = weeks
    member.time_total = sum(week[0] for week in weeks.values())
    member.active_days = sum(week[1] for week in weeks.values())
    return member


@st.composite
def _class_and_change(draw: st.DrawFn) -> tuple[dict[int, Member], dict[int, Member], set[int]]:
    """A class, the learners changed (as they are after; new ones among them) and those who
    left it."""
    people = draw(st.sets(st.integers(1, 30), min_size=1, max_size=12))
    before = {p: draw(_member(p)) for p in sorted(people)}
    changed = draw(st.sets(st.integers(1, 30), max_size=6))
    after = {p: draw(_member(p)) for p in sorted(changed)}
    left = draw(st.sets(st.sampled_from(sorted(people)), max_size=3)) - changed
    return before, after, left


def _attempts(members: dict[int, Member], seed: int) -> dict[tuple[int, date], tuple[int, int]]:
    """Some learners' problem attempts in the segment week (some of them not active in it)."""
    return {
        (p, WEEK): ((p * seed) % 5, (p * seed) % 3)
        for p in members
        if (p + seed) % 3 and WEEK in members[p].weeks
    }


@settings(max_examples=200, deadline=None)
@given(_class_and_change(), st.integers(1, 7))
def test_a_followed_spread_is_the_spread_of_the_class_as_it_is(
    change: tuple[dict[int, Member], dict[int, Member], set[int]], seed: int
) -> None:
    before, after, left = change
    now = {p: m for p, m in before.items() if p not in left} | after
    attempts_before = _attempts(before, seed)
    attempts_now = {
        key: found
        for key, found in attempts_before.items()
        if key[0] in now and key[0] not in after
    } | _attempts(after, seed + 1)
    spread = class_spread.of_class("of", before, WEEK, attempts_before)
    out = [m for p, m in before.items() if p in after or p in left]
    class_spread.follow(spread, out, after, WEEK, attempts_now)
    expected = class_spread.of_class("of", now, WEEK, attempts_now)
    assert spread.people == expected.people
    assert spread.active == expected.active
    # (A part left without values is as good as none: it keeps no row.)
    assert _held(spread) == _held(expected)
    assert spread.attempts == expected.attempts
    # The cuts taken off the spread are the segment week's, as the class's members give them.
    assert class_spread.cuts(spread) == segments_and_cuts(now, WEEK, attempts_now)[1]


def _held(spread: class_spread.Spread) -> dict[str, list[float]]:
    """A spread's parts that hold values."""
    return {part: values for part, values in spread.values.items() if values}


def test_a_value_the_spread_does_not_hold_is_refused() -> None:
    member = Member(person_id=1, learner="", name="", email=None, pseudonymous=False)
    member.time_total = 5.0
    spread = class_spread.of_class("of", {1: member}, WEEK, {})
    stranger = Member(person_id=2, learner="", name="", email=None, pseudonymous=False)
    stranger.time_total = 7.0
    with pytest.raises(class_spread.NotInSpread):
        class_spread.follow(spread, [stranger], {}, WEEK, {})
