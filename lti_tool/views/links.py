"""Links for a table's rows: one per row to the same page of another id (routed once: 50 to
200 rows' links routed one by one were a fifth of a table's template)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from flask import g, url_for

# Routed once in place of a row's id, then replaced: 2**31 - 1, past any id a row can have.
_SLOT = 2_147_483_647
# What werkzeug's url_for leaves unquoted in a query value (werkzeug.urls._urlencode).
_QUERY_SAFE = "!$'()*,/:;?@"


def id_links(endpoint: str, slot: str, **values: Any) -> Callable[[int], str]:
    """url_for(endpoint, **{slot: id}, **values) for the ids of many rows. `slot` is the last
    id in the endpoint's path."""
    # Any, not int: url_for's own keywords (_external: bool) would otherwise be checked against it.
    slotted: dict[str, Any] = {slot: _SLOT, **values}
    path, mark, query = url_for(endpoint, **slotted).partition("?")
    head, _, tail = path.rpartition(f"/{_SLOT}")
    if not head:
        raise ValueError(f"{slot} is not a path segment of {endpoint}")
    rest = f"{tail}{mark}{query}"
    return lambda row_id: f"{head}/{int(row_id)}{rest}"


class QueryLinks:
    """url_for(endpoint, **{name: value}, **values) for the values of many rows: `head`, the
    value as `quoted` writes it, then `rest` (a table kept per worker keeps its rows' quoted
    values; the head and rest hold the viewer's session)."""

    def __init__(self, head: str, rest: str) -> None:
        self.head, self.rest = head, rest

    def __call__(self, value: object) -> str:
        """The link of one value."""
        return f"{self.head}{quoted(value)}{self.rest}"


def quoted(value: object) -> str:
    """A value as url_for writes it in a query."""
    return quote_plus(str(value), safe=_QUERY_SAFE)


def query_links(endpoint: str, name: str, **values: Any) -> QueryLinks:
    """url_for(endpoint, **{name: value}, **values) for the values of many rows, `name` a
    query parameter (the first of the query, as url_for would write it)."""
    slotted: dict[str, Any] = {name: _SLOT, **values}
    path, _mark, query = url_for(endpoint, **slotted).partition("?")
    given = f"{name}={_SLOT}"
    if not query.startswith(given):
        raise ValueError(f"{name} is not a query parameter of {endpoint}")
    return QueryLinks(f"{path}?{name}=", query[len(given) :])


def row_choice_links(endpoint: str, name: str, course_id: int, section: str) -> QueryLinks:
    """Links to a course page with another row chosen (its `name` query value: a video, a
    problem), the section shown and the session kept."""
    return query_links(
        endpoint, name, course_id=course_id, section=section or None, t=g.session_token
    )
