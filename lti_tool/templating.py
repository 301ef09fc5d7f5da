"""The templates' Jinja environment: Flask's, with rows kept as dicts read without a detour."""

from __future__ import annotations

from typing import Any

from flask.templating import Environment

# What a plain dict has as attributes (items, get, …): `row.items` stays the method, as in Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class RowsEnvironment(Environment):
    """Reads `row.name` of a plain dict as `row["name"]` straight away. Jinja tries the
    attribute first and takes the key after the AttributeError: a table of a few hundred rows
    raised some thousands of them per page. The same value either way."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`obj.attribute` in a template."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)
