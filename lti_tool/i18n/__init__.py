"""Languages: which ones the tool offers, and how a language tag finds one of them.

The pages come in English (the source language), Spanish and Norwegian Bokmål. A page's
language is the first one offered of: the launch's `launch_presentation.locale`, the course's
default language (a setting), the browser's Accept-Language, English (README "Languages").
This package holds no Flask: `text` translates for the KPIs and pages alike, `catalogs` loads
the message catalogs, `formats` writes numbers, dates and durations for a language, and
`web` ties them to the Flask app.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The languages the pages come in; the first is the source language and the fallback.
LANGUAGES = ("en", "es", "nb")
DEFAULT = "en"
#: Each language's name in itself (the settings page's choice).
NAMES = {"en": "English", "es": "Español", "nb": "Norsk bokmål"}
# Tags that mean one of ours without saying it: Norwegian ("no") is written Bokmål by most,
# and Nynorsk readers read Bokmål; a pseudo-locale for the tests.
_ALIASES = {"no": "nb", "nn": "nb"}


def language_of(tag: str | None) -> str | None:
    """The language we offer for a BCP 47 / POSIX tag (es-CL, nb_NO, no), or None."""
    if not tag or not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in LANGUAGES else None


def first_offered(tags: Iterable[str | None]) -> str | None:
    """The first of some tags (in order of preference) that names a language we offer."""
    for tag in tags:
        found = language_of(tag)
        if found is not None:
            return found
    return None
