"""Texts the tool stores as they happened (a sync run's error, a data source's last check, a
refused launch's reason), kept twice: the English text (the logs, the CLI, the API and CSV read
it) and the message id with its values, so a page shows it in its own language.

A row written before the ids were kept has only the English text, and shows it as it is.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from lti_tool.i18n import text
from lti_tool.i18n.formats import LazyDay, LazyNumber

# Keys of a value that stands for a lazily made text, number, date or list of names (any other
# value is kept as it is): a text's message, its plural and count, and its values.
_MESSAGE, _PLURAL, _N, _VALUES, _NUMBER, _DAY = "message", "plural", "n", "values", "number", "day"
_JOINED = "joined"
_TAG = "%stored"


@functools.cache
def _known_messages() -> frozenset[str]:
    # Only a message the catalogs hold is an id: an error still written as an f-string is kept
    # as English alone rather than as an id no catalog translates.
    from babel.messages.pofile import read_po

    from lti_tool.i18n.catalogs import TEMPLATE

    with TEMPLATE.open("rb") as stream:
        return frozenset(
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(stream)
            if message.id
        )


def encode(value: Any) -> Any:
    """A text, number, date or list of names shown in the page's language as JSON-ready data,
    which decode makes that value of again; other values as they are (or as English text)."""
    if isinstance(value, text.LazyText):
        return {_TAG: "text", **_text(value)}
    if isinstance(value, text.StandIn):
        return {_TAG: "text", _MESSAGE: value.message, _VALUES: _values(value.variables)}
    if isinstance(value, LazyNumber):
        return {_TAG: _NUMBER, _NUMBER: value.value}
    if isinstance(value, LazyDay):
        return {_TAG: _DAY, _DAY: value.value.isoformat()}
    if isinstance(value, text.Joined):
        return {_TAG: _JOINED, _JOINED: [encode(name) for name in value.names]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    with text.using(text.english()):
        return str(value)


def _values(variables: dict[str, Any]) -> dict[str, Any]:
    return {name: encode(value) for name, value in variables.items()}


def _text(made: text.LazyText) -> dict[str, Any]:
    found: dict[str, Any] = {_MESSAGE: made.message, _VALUES: _values(made.variables)}
    if made.plural is not None:
        found[_PLURAL], found[_N] = made.plural, made.n
    return found


def decode(value: Any) -> Any:
    """What encode gave, as the value it was."""
    if isinstance(value, dict) and _TAG in value:
        if value[_TAG] == _NUMBER:
            return LazyNumber(float(value[_NUMBER]))
        if value[_TAG] == _DAY:
            return LazyDay(date.fromisoformat(value[_DAY]))
        if value[_TAG] == _JOINED:
            return text.Joined(decode(name) for name in value[_JOINED])
        return _lazy(value)
    return value


def _lazy(found: dict[str, Any]) -> text.LazyText:
    variables = {name: decode(value) for name, value in (found.get(_VALUES) or {}).items()}
    return text.LazyText(found[_MESSAGE], variables, found.get(_PLURAL), int(found.get(_N) or 0))


def record(
    said: str | text.LazyText | text.Explained,
) -> tuple[str, str | None, dict[str, Any] | None]:
    """What to store for a text: (the English, its message id, its values), the id and values
    None when it is not a catalog's message."""
    if isinstance(said, text.Explained):
        said = said.shown()
    if not isinstance(said, text.LazyText):
        return str(said), None, None
    with text.using(text.english()):
        english = str(said)
    if said.message not in _known_messages():
        return english, None, None
    found = _text(said)
    values = found[_VALUES]
    if said.plural is not None:
        values = {**values, f"{_TAG}:{_PLURAL}": said.plural, f"{_TAG}:{_N}": said.n}
    return english, said.message, values


def shown(
    english: str | None, message: str | None, values: dict[str, Any] | None
) -> str | text.LazyText | None:
    """A stored text for a page: in the page's language when its id was kept, else as stored."""
    if not message:
        return english
    variables = dict(values or {})
    plural = variables.pop(f"{_TAG}:{_PLURAL}", None)
    n = variables.pop(f"{_TAG}:{_N}", 0)
    return _lazy({_MESSAGE: message, _VALUES: variables, _PLURAL: plural, _N: n})
