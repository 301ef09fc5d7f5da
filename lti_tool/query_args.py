"""Page numbers and ids from a query string, refused with a 400 when no database could hold them."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from werkzeug.routing import IntegerConverter, Map, ValidationError

# No listing has a millionth page; a larger number would overflow the database's OFFSET.
MAX_PAGE = 1_000_000
# Ids are 32-bit integers in PostgreSQL: a larger one can only be a mistake or an attack.
MAX_ID = 2**31 - 1


def page_arg(name: str = "page") -> int:
    """The 1-based page the query names (1 when absent or not a number); 400 past any page."""
    raw = request.args.get(name, "").strip()
    if not is_digits(raw) or not raw.strip("0"):
        return 1
    if _too_big(raw, MAX_PAGE):
        abort(400, description=f"{name}={raw[:30]} is past any page (at most {MAX_PAGE:,}).")
    return int(raw)


def id_arg(name: str) -> int | None:
    """An id the query names (None when absent or not a number); 400 past any id."""
    raw = request.args.get(name, "").strip()
    if not is_digits(raw):
        return None
    if _too_big(raw, MAX_ID):
        abort(400, description=f"{name}={raw[:30]} is no id: ids go up to {MAX_ID:,}.")
    return int(raw)


def is_digits(raw: str) -> bool:
    """Whether a string is a plain decimal number (not "²" or "٣", which isdigit() accepts)."""
    return raw.isascii() and raw.isdigit()


def _too_big(digits: str, limit: int) -> bool:
    """Whether a string of digits names more than limit."""
    # By length first: Python refuses to convert more than 4,300 digits (a ValueError).
    return len(digits.lstrip("0")) > len(str(limit)) or int(digits) > limit


class IdConverter(IntegerConverter):
    """The <int:…> of routes: a number past any id is no match (a 404), not a database error."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        """The id, refusing more digits than any id has before converting them."""
        if len(value.lstrip("0")) > len(str(MAX_ID)):
            raise ValidationError()
        return int(super().to_python(value))
