"""Links for a table's rows: one per row to the same page of another id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for

# Routed once in place of a row's id, then replaced: 2**31 - 1, past any id a row can have.
_SLOT = 2_147_483_647


def id_links(endpoint: str, slot: str, **values: Any) -> Callable[[int], str]:
    """url_for(endpoint, **{slot: id}, **values) for the ids of many rows, routed once (50 rows'
    links routed one by one were a fifth of the learners table's template). `slot` is the last
    id in the endpoint's path."""
    # Any, not int: url_for's own keywords (_external: bool) would otherwise be checked against it.
    slotted: dict[str, Any] = {slot: _SLOT, **values}
    made = url_for(endpoint, **slotted)
    path, mark, query = made.partition("?")
    head, _, tail = path.rpartition(f"/{_SLOT}")
    if not head:
        raise ValueError(f"{slot} is not a path segment of {endpoint}")
    rest = f"{tail}{mark}{query}"
    return lambda row_id: f"{head}/{int(row_id)}{rest}"
