"""JSON from outside (request bodies, pasted key sets), parsed within a nesting limit."""

from __future__ import annotations

from typing import Any

import orjson

# Deeper JSON is refused: no event, statement or key set nests like that, and storing or hashing
# it (orjson writes at most 254 levels; Python's json recurses) would fail with a 500.
MAX_DEPTH = 64


class JsonInputError(ValueError):
    """The text is not JSON, or nests too deeply; the message says which."""


def too_deep_message() -> str:
    """What a client is told about over-deep JSON."""
    return f"nests arrays and objects more than {MAX_DEPTH} levels deep; send flatter JSON"


def scan(value: Any) -> tuple[int, bool]:
    """One walk over a parsed JSON value: how deeply arrays and objects nest (a scalar is 0),
    and whether every string and key is text a database can store.

    Neither a NUL nor a lone surrogate ("\\ud800") can be sent to the database (PostgreSQL text
    refuses NUL): a value that holds one is refused where it comes in, not with a 500 later.
    """
    deepest, storable = 0, True
    # A stack, not recursion: the value may nest as deep as the parser allowed.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            storable = storable and _storable(item)
            continue
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in item)
    return deepest, storable


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0)."""
    return scan(value)[0]


NOT_STORABLE = "holds a NUL character (\\u0000) or a lone surrogate, which no stored text may hold"


def loads(data: bytes | str) -> Any:
    """Parsed JSON, or JsonInputError when it is not JSON, nests more than MAX_DEPTH or holds
    text no database can store."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson stops at 1024 levels whatever the input's depth, without recursing.
        if "depth limit" in str(exc):
            raise JsonInputError(too_deep_message()) from None
        raise JsonInputError(f"is not valid JSON: {exc}") from None
    depth, storable = scan(value)
    if depth > MAX_DEPTH:
        raise JsonInputError(too_deep_message())
    if not storable:
        raise JsonInputError(NOT_STORABLE)
    return value
