"""Numbers, percentages, dates and durations as each language writes them (Babel's CLDR data):
a decimal comma in Spanish and Norwegian, their month and weekday names, "1 h 05 min" and
"1 t 5 min" for durations. The pages use these through Jinja filters; CSV, the API and the
CLI keep their plain forms."""

from __future__ import annotations

import functools
import math
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)

from lti_tool.i18n import DEFAULT, text

# Locales the CLDR data is read for: Norwegian Bokmål is "nb"; English writes dates US-style.
_CLDR = {"en": "en_US", "es": "es", "nb": "nb"}


def cldr(language: str) -> str:
    """The CLDR locale a language's numbers and dates are written in."""
    return _CLDR.get(language, _CLDR[DEFAULT])


def number(value: float, language: str, digits: int = 0) -> str:
    """A number with `digits` decimals and the language's separators (1,234.5 · 1.234,5)."""
    if 0 <= value < QUICK_BELOW and digits <= MAX_QUICK_DIGITS and math.copysign(1.0, value) > 0:
        # What babel's pattern writes, a fifth to a tenth of its time (a table's hundreds of
        # numbers): rounded as babel rounds (the number's shortest decimal form, half to
        # even), grouped by thousands, with the language's signs. Babel's own way for the
        # rest: negative numbers (the language's minus sign), -0.0 (written -0), infinity.
        if not digits and value < 999.5:
            return str(round(value))  # a count: no separator in any language
        rounded = Decimal(repr(value)).quantize(_QUANTA[digits])
        return f"{rounded:,f}".translate(_signs(language))
    pattern, locale = _number_format(language, digits)
    return str(pattern.apply(value, locale))


#: number's short way for up to this many decimals (the pages show at most two), below this.
MAX_QUICK_DIGITS = 4
QUICK_BELOW = 1e15
_QUANTA = {digits: Decimal(1).scaleb(-digits) for digits in range(MAX_QUICK_DIGITS + 1)}


@functools.lru_cache(maxsize=16)
def _signs(language: str) -> dict[int, str]:
    """Python's "," and "." as the language's group and decimal signs (str.translate)."""
    locale = cldr(language)
    return str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})


@functools.lru_cache(maxsize=64)
def _number_format(language: str, digits: int) -> tuple[NumberPattern, Locale]:
    """number's pattern and locale, parsed once (what format_decimal parses at every call: a
    table of a few hundred numbers spent more on that than on the numbers)."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return parse_pattern(pattern), Locale.parse(cldr(language))


def percent(share: float, language: str, digits: int = 0) -> str:
    """A share (0 to 1) as a percentage: 45 % in Spanish and Norwegian, 45% in English."""
    pattern, locale = _percent_format(language, digits)
    return str(pattern.apply(share, locale))


@functools.lru_cache(maxsize=64)
def _percent_format(language: str, digits: int) -> tuple[NumberPattern, Locale]:
    """percent's pattern and locale, parsed once (see _number_format)."""
    locale = Locale.parse(cldr(language))
    # The language's own pattern ("#,##0\u00a0%" in es and nb), with the decimals asked for.
    pattern = locale.percent_formats[None].pattern
    if digits:
        last = pattern.rindex("0") + 1
        pattern = pattern[:last] + "." + "0" * digits + pattern[last:]
    return parse_pattern(pattern), locale


def duration(seconds: float | None, language: str) -> str:
    """A duration to the minute: 1:05 (English, the pages' h:mm), 1 h 05 min, 1 t 5 min."""
    if seconds is None:
        return "\u2013"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if language == "es":
        return f"{hours} h {rest:02d} min" if hours else f"{rest} min"
    if language == "nb":
        return f"{hours} t {rest} min" if hours else f"{rest} min"
    return f"{hours}:{rest:02d}"


@functools.lru_cache(maxsize=8192)
def day(value: date, language: str, form: str = "medium") -> str:
    """A date as the language writes it (Nov 2, 2026 · 2 nov 2026 · 2. nov. 2026); kept (a
    table writes the same few hundred days on every request, each a twentieth of a
    millisecond in babel)."""
    return str(format_date(value, format=form, locale=cldr(language)))


def moment(value: datetime, language: str) -> str:
    """A date and time (minutes) as the language writes them."""
    return format_datetime(value, format="short", locale=cldr(language))


def plotly_separators(language: str) -> str:
    """Plotly's `separators`: the decimal sign, then the thousands sign."""
    locale = cldr(language)
    return get_decimal_symbol(locale) + get_group_symbol(locale)


def current_language() -> str:
    """The language translating now: the page's on a page, English outside one (text)."""
    return str(text.translations().info().get("language") or DEFAULT)


class LazyNumber:
    """A number in a lazily translated text (text.LazyText), written as the language of where
    it is shown writes it, to at most two decimals (55.5 · 55,5)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value

    def __str__(self) -> str:
        return format_decimal(round(self.value, 2), format="0.##", locale=cldr(current_language()))


class LazyDay:
    """A date in a lazily translated text, written as the language of where it is shown writes
    it (ISO in English outside a page: the CLI's and the API's form)."""

    __slots__ = ("value",)

    def __init__(self, value: date) -> None:
        self.value = value

    def __str__(self) -> str:
        language = current_language()
        return self.value.isoformat() if language == DEFAULT else day(self.value, language)
