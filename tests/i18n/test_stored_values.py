"""Values kept as JSON to be shown later in the page's language (stored texts, the learner
summary's at-risk reasons): what i18n.stored.encode writes, decode makes the same value of
again, in every language, names joined by commas, numbers and pseudonyms included."""

from __future__ import annotations

from datetime import date

import orjson

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import pseudo_translations
from lti_tool.i18n.formats import LazyDay, LazyNumber
from lti_tool.i18n.stored import decode, encode
from lti_tool.i18n.text import N_, Joined, StandIn, lazy_gettext, lazy_ngettext


def _reason() -> text.LazyText:
    names = Joined([StandIn(N_("Assignment %(number)s"), number=3), "Lab report"])
    return lazy_ngettext(
        "%(num)d assignment handed in late (%(names)s)",
        "%(num)d assignments handed in late (%(names)s)",
        2,
        names=lazy_gettext("%(names)s and %(rest)s more", names=names, rest=LazyNumber(4)),
    )


def _shown(value: object, translations: object) -> str:
    with text.using(translations):  # type: ignore[arg-type]
        return str(value)


def test_a_reason_through_json_shows_the_same_in_each_language() -> None:
    reason = _reason()
    again = decode(orjson.loads(orjson.dumps(encode(reason))))
    for translations in (text.english(), pseudo_translations()):
        assert _shown(again, translations) == _shown(reason, translations)
    english = _shown(again, text.english())
    assert english == "2 assignments handed in late (Assignment 3, Lab report and 4 more)"
    # The pseudo-locale marks every message, the nested ones and the pseudonym included.
    assert _shown(again, pseudo_translations()) != english


def test_joined_names_and_days_come_back_as_what_they_were() -> None:
    joined = decode(orjson.loads(orjson.dumps(encode(Joined(["a", LazyDay(date(2026, 3, 1))])))))
    assert isinstance(joined, Joined)
    assert isinstance(joined.names[1], LazyDay)
    assert joined.names[1].value == date(2026, 3, 1)
    assert decode(encode(7)) == 7 and decode(encode(None)) is None
