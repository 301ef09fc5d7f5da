"""Translate a message into the language of the page being made, without Flask.

The KPIs write reasons and labels in words ("no activity for 9 days"); the pages show them in
the viewer's language, and the CLI, CSV and API keep them in English. So the KPIs call
`gettext` here, which uses the translations the web layer activated for the request
(lti_tool.i18n.web) and English anywhere else. Messages use named placeholders, formatted
after translating: gettext("%(days)d days", days=9).
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_ENGLISH = _gettext.NullTranslations()
_active: ContextVar[_gettext.NullTranslations | None] = ContextVar("translations", default=None)
#: Set by the web layer: the translations of the current request, when there is one.
provider: Callable[[], _gettext.NullTranslations | None] | None = None


def translations() -> _gettext.NullTranslations:
    """The translations in use here: activated ones, else the request's, else English."""
    found = _active.get()
    if found is None and provider is not None:
        found = provider()
    return found if found is not None else _ENGLISH


def activated() -> _gettext.NullTranslations | None:
    """The translations a `using` block activated here, if any."""
    return _active.get()


@contextmanager
def using(found: _gettext.NullTranslations) -> Iterator[None]:
    """Translate with these translations inside the block (tests, the pseudo-locale)."""
    token = _active.set(found)
    try:
        yield
    finally:
        _active.reset(token)


def gettext(message: str, **variables: Any) -> str:
    """The message in the current language, its %(name)s placeholders filled in."""
    found = translations().gettext(message)
    return found % variables if variables else found


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    """The singular or plural message for n in the current language (its plural rules);
    %(num)d is n."""
    found = translations().ngettext(singular, plural, n)
    return found % {"num": n, **variables}


class LazyText:
    """A message whose language is chosen when it is shown, not when it is made: the KPIs make
    reasons and labels once (and the pages cache them); each page shows them in its viewer's
    language, and CSV, the API and the CLI in English. Compares, hashes and serialises as the
    text in the current language (English outside a page)."""

    __slots__ = ("_said", "message", "n", "plural", "variables")

    def __init__(
        self, message: str, variables: dict[str, Any], plural: str | None = None, n: int = 0
    ) -> None:
        self.message, self.plural, self.n, self.variables = message, plural, n, variables
        # The text last said, with the translations it was said in: a cached figure's names
        # and reasons are shown on every request in one of a few languages (a videos page
        # says a few hundred names twice). Its values are as lasting as the text.
        self._said: tuple[_gettext.NullTranslations, str] | None = None

    def __str__(self) -> str:
        found = translations()
        said = self._said
        if said is not None and said[0] is found:
            return said[1]
        values = {
            name: str(value) if isinstance(value, LazyText) else value
            for name, value in self.variables.items()
        }
        if self.plural is not None:
            made = ngettext(self.message, self.plural, self.n, **values)
        else:
            made = gettext(self.message, **values)
        self._said = (found, made)
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (cached rows) as the message and its values, not what it last said.
        return (LazyText, (self.message, self.variables, self.plural, self.n))

    def __html__(self) -> str:
        from markupsafe import escape  # Jinja's own dependency: escaped like any text

        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"LazyText({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyText | str):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __contains__(self, part: str) -> bool:
        return part in str(self)

    def __len__(self) -> int:
        return len(str(self))

    def __add__(self, other: object) -> str:
        return str(self) + str(other)

    def __radd__(self, other: object) -> str:
        return str(other) + str(self)


class Explained(Exception):
    """An error that says why in words, given as a message (marked with N_ where raised) and
    its values: str() is English (logs, the CLI, stored records), `shown()` the message in the
    language of where it is shown (a page). Values may be LazyText too."""

    def __init__(self, message: str, **variables: Any) -> None:
        self.message, self.variables = message, variables
        with using(_ENGLISH):
            english = str(LazyText(message, variables)) if variables else message
        super().__init__(english)

    def shown(self) -> LazyText:
        """The explanation in the language of wherever it is shown."""
        return LazyText(self.message, self.variables)


def shown(error: BaseException) -> str | LazyText:
    """An error's explanation for a page: translated when it is Explained, else as it is."""
    return error.shown() if isinstance(error, Explained) else str(error)


class StandIn(str):
    """A name the tool makes for something without one ("Learner 7F3A9C"): a str with the
    English text, so it sorts, searches and goes into CSV, the API and the CLI as that, but
    shown in the language of where it is shown (a page: str() and Jinja's escaping)."""

    __slots__ = ("message", "variables")
    message: str
    variables: dict[str, Any]

    def __new__(cls, message: str, **variables: Any) -> StandIn:
        """The stand-in for a message (marked with N_ where it is written) and its values."""
        made = super().__new__(cls, message % variables)
        made.message, made.variables = message, variables
        return made

    def __str__(self) -> str:
        return gettext(self.message, **self.variables)

    def __html__(self) -> str:
        from markupsafe import escape  # Jinja's own dependency: escaped like any text

        return str(escape(str(self)))

    def __reduce__(self) -> tuple[Any, ...]:
        # Cached figures and rows are pickled: made again from the message and its values.
        return (_stand_in, (self.message, self.variables))


def _stand_in(message: str, variables: dict[str, Any]) -> StandIn:
    return StandIn(message, **variables)


class Joined:
    """Names joined by commas when shown (each in the language of where it is shown)."""

    __slots__ = ("names",)

    def __init__(self, names: Iterable[Any]) -> None:
        self.names = tuple(names)

    def __str__(self) -> str:
        return ", ".join(map(str, self.names))


def lazy_gettext(message: str, **variables: Any) -> LazyText:
    """gettext, in the language of wherever the text is shown."""
    return LazyText(message, variables)


def lazy_ngettext(singular: str, plural: str, n: int, **variables: Any) -> LazyText:
    """ngettext, in the language of wherever the text is shown (%(num)d is n)."""
    return LazyText(singular, variables, plural, n)


def english() -> _gettext.NullTranslations:
    """The messages as written: what CSV, the API and the CLI show (`with using(english())`)."""
    return _ENGLISH


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return message
