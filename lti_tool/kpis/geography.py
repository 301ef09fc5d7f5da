"""Where learners are: learners per last known country, as Open edX Insights' geography view.

Insights (edx-analytics-pipeline, `insights/location_per_course.py`) counts a course's learners
by the country of the IP address of their last event. The country is found at ingest
(lti_tool.activity.countries); here the class's learners are counted per country. Two rows are
not countries: "Country unknown" (the last address is in no country's range: a private or
reserved address, Insights' UNKNOWN) and "No location recorded" (no event with an address: a
learner known only from the roster, Canvas, xAPI or the event API; Insights' NULL country).

Countries with fewer learners than the course's privacy floor are counted together as "Other
countries", so that no small group of learners can be told apart by where they are.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

from babel import Locale, UnknownLocaleError
from sqlalchemy import select

from lti_tool.activity.sql import select_in
from lti_tool.i18n.text import LazyText, lazy_gettext
from lti_tool.kpis import course_settings
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.roster import class_member_ids
from lti_tool.models import Course, LearnerCountry
from lti_tool.models.types import DbSession

FIELDS = ("course", "country_code", "country", "learners")

#: The codes of the rows that are not one country (Insights reports UNKNOWN too).
OTHER = "OTHER"
UNKNOWN = "UNKNOWN"
NOT_RECORDED = "NONE"
# In the language of wherever they are shown (CSV and the API: English).
ROW_NAMES = {
    OTHER: lazy_gettext("Other countries"),
    UNKNOWN: lazy_gettext("Country unknown"),
    NOT_RECORDED: lazy_gettext("No location recorded"),
}
# After the countries, in this order.
_LAST = (OTHER, UNKNOWN, NOT_RECORDED)


@functools.cache
def _territories(locale: str) -> dict[str, str]:
    """CLDR's territory names in a language (English when Babel does not know it)."""
    try:
        found = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        found = Locale.parse("en")
    return dict(found.territories)


def country_name(code: str | None, locale: str = "en") -> str | LazyText:
    """A country's name from its ISO 3166-1 alpha-2 code in a language (CLDR's names); the rows
    that are not one country in the language of wherever they are shown; the code itself when
    unknown."""
    if code is None:
        return ROW_NAMES[UNKNOWN]
    if code in ROW_NAMES:
        return ROW_NAMES[code]
    return _territories(locale).get(code.upper(), code)


def learner_countries(
    session: DbSession, course: Course, people: set[int] | None = None
) -> dict[int, str]:
    """Each learner's last known country code in the course (UNKNOWN when the address is in no
    country's range); learners with no address recorded are left out."""
    rows = session.connection().execute(
        select(LearnerCountry.person_id, LearnerCountry.country_code).where(
            LearnerCountry.course_id == course.id
        )
    )
    return {person: code or UNKNOWN for person, code in rows if people is None or person in people}


#: Some people's country codes in a course (select_in's SQL).
_COUNTRIES_OF = (
    "SELECT person_id, country_code FROM learner_country WHERE course_id = {p} AND person_id {in}"
)


def countries_of(session: DbSession, course: Course, people: Sequence[int]) -> dict[int, str]:
    """learner_countries of some people (their rows alone read)."""
    found = select_in(session, _COUNTRIES_OF, [course.id], people)
    return {person: code or UNKNOWN for person, code in found}


def country_counts(
    session: DbSession,
    course: Course,
    people: set[int],
    countries: Mapping[int, str] | None = None,
) -> dict[str, int]:
    """Learners of `people` per country code, UNKNOWN and NOT_RECORDED (no floor applied);
    `countries`: learner_countries, when the caller has them."""
    if countries is None:
        countries = learner_countries(session, course, people)
    # (Counted in C: a MOOC's class is 100,000 learners at every refresh.)
    return dict(Counter(map(countries.get, people, repeat(NOT_RECORDED))))


def group_small(counts: dict[str, int], floor: int) -> dict[str, int]:
    """The counts with every country below `floor` learners added into OTHER."""
    grouped: dict[str, int] = {}
    for code, learners in counts.items():
        if code not in ROW_NAMES and learners < floor:
            code = OTHER
        grouped[code] = grouped.get(code, 0) + learners
    return grouped


def geography(
    session: DbSession,
    course: Course,
    people: set[int] | None = None,
    floor: int | None = None,
    locale: str = "en",
) -> list[dict[str, Any]]:
    """Learners per last known country, most first; countries below the privacy floor together
    as "Other countries", then "Country unknown" and "No location recorded".

    `people` defaults to the class (who counts: see kpis.roster); `floor` to the course's.
    """
    if people is None:
        people = class_member_ids(session, course)
    if floor is None:
        floor = course_settings.load(session, course).privacy_floor
    return counted_rows(course, country_counts(session, course, people), floor, locale)


def counted_rows(
    course: Course, counts: dict[str, int], floor: int, locale: str = "en"
) -> list[dict[str, Any]]:
    """geography's rows from the learners per country code (country_counts)."""
    grouped = group_small(counts, floor)
    label = course_label(course)
    named = {code: country_name(code, locale) for code in grouped}
    order = sorted(
        grouped,
        key=lambda code: (
            _LAST.index(code) + 1 if code in _LAST else 0,
            -grouped[code],
            named[code],
        ),
    )
    return [
        {"course": label, "country_code": code, "country": named[code], "learners": grouped[code]}
        for code in order
    ]
