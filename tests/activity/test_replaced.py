"""A record's rows carried between transactions (replaced.packed, replaced.restore) come back
as the driver gave them: bytes (a PostgreSQL bytea's memoryview as bytes), dates, times,
numbers, text and None, each row a tuple."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lti_tool.activity import replaced

_VALUES = (
    st.none()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.binary(max_size=40)
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
)
_ROW = st.tuples(_VALUES, _VALUES, _VALUES)


class _Session:
    """What restore uses of a session: its info."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


@given(
    st.dictionaries(
        st.integers(min_value=1, max_value=50),
        st.tuples(
            st.lists(_ROW, max_size=4),
            st.lists(st.dates() | st.text(max_size=10), max_size=4),
            st.lists(_ROW, max_size=4),
            st.lists(_ROW, max_size=4),
            st.lists(_ROW, max_size=4),
            st.lists(_ROW, max_size=4),
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_packed_rows_come_back_as_they_were(
    people: dict[int, tuple[list[Any], ...]], as_memoryview: bool
) -> None:
    rows = replaced.Rows()
    for person, kinds in people.items():
        for kind, items in zip(replaced._KINDS, kinds, strict=True):
            if as_memoryview:  # as psycopg2 gives a bytea
                items = [
                    tuple(memoryview(v) if isinstance(v, bytes) else v for v in item)
                    if isinstance(item, tuple)
                    else item
                    for item in items
                ]
            getattr(rows, kind)[person] = items
    session = _Session()
    carried = {person: replaced.packed(rows, person) for person in people}
    replaced.restore(session, 7, "mark", carried)  # type: ignore[arg-type]
    record = session.info[replaced.REPLACED][7]
    assert record.mark == "mark"
    for kind in replaced._KINDS:
        want = {
            person: [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in item)
                if isinstance(item, tuple)
                else item
                for item in items
            ]
            for person, items in getattr(rows, kind).items()
        }
        got = getattr(record.rows, kind)
        assert got == want
        for person, items in got.items():
            for was, now in zip(want[person], items, strict=True):
                assert type(was) is type(now)
                if isinstance(was, tuple):
                    assert [type(v) for v in was] == [type(v) for v in now]


def test_a_transactions_own_rows_join_the_carried_ones_as_the_older_stand() -> None:
    session = _Session()
    own = replaced.Replaced("after the batches")
    own.rows.days.update({1: ["2026-03-02"], 2: [date(2026, 3, 3)]})
    own.rows.viewings.update({1: [], 2: [("v", b"\x00")]})
    session.info[replaced.REPLACED] = {7: own}
    carried = replaced.Rows(days={1: ["2026-03-01"]}, viewings={1: [("v", b"\x01")]})
    texts = {1: replaced.packed(carried, 1)}
    replaced.restore(session, 7, "before the batches", texts)  # type: ignore[arg-type]
    record = session.info[replaced.REPLACED][7]
    assert record.mark == "before the batches"
    assert record.rows.days == {1: ["2026-03-01"], 2: [date(2026, 3, 3)]}
    assert record.rows.viewings == {1: [("v", b"\x01")], 2: [("v", b"\x00")]}
