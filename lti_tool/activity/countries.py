"""Where learners are: the country of an event's network address, and each learner's last one.

Open edX Insights (edx-analytics-pipeline, `insights/location_per_course.py`) counts learners by
the country of the IP address of their *last* event. We find that country at ingest, in the
offline table of the `iptocc` package (the five Regional Internet Registries' delegated-address
files, built into the wheel: no file or network access at run time), and keep only the country
and the time of that event, per learner and course: never the address.

A tracking-log chunk keeps its learners' latest (time, address) (in its parsing loop; of events
at the same time, the first), looks each distinct address up once (`last_countries`), and the
event sink writes the countries (`write_countries`): a later event replaces a learner's country,
an earlier or equal one does not, so reading the same file again leaves the same country.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import delete, select

from lti_tool.activity.sql import upsert_rows
from lti_tool.models import LearnerCountry
from lti_tool.models.types import DbSession

K = TypeVar("K")

# The longest text that can be an IPv6 address (with an IPv4 tail); anything longer is not one.
_MAX_ADDRESS = 45
_MAPPED_V4 = "::ffff:"

_lookup: Callable[[list[str]], list[str | None]] | None = None


def _country_codes() -> Callable[[list[str]], list[str | None]]:
    """iptocc's batch lookup, imported on first use (once per process)."""
    global _lookup
    if _lookup is None:
        # Imported here: only processes that ingest need the table.
        from iptocc import country_code

        _lookup = country_code
    return _lookup


def address_of(value: Any) -> str | None:
    """An event's `ip` field as an address to look up, or None when it cannot be one."""
    if type(value) is not str or not value:
        return None
    if "," in value:
        # An X-Forwarded-For list logged as is: the first address is the client's.
        value = value.split(",", 1)[0]
    value = value.strip()
    if len(value) > _MAX_ADDRESS:
        return None
    if value[:7].lower() == _MAPPED_V4 and "." in value:
        value = value[7:]  # an IPv4 client seen through an IPv6 socket
    return value or None


def countries_of(addresses: Iterable[str]) -> dict[str, str | None]:
    """The ISO 3166-1 alpha-2 code of each distinct address (None: in no country's range, or not
    an address at all), in one call to the table."""
    distinct = list(dict.fromkeys(addresses))
    if not distinct:
        return {}
    codes = _country_codes()([address_of(address) or "" for address in distinct])
    return dict(zip(distinct, codes, strict=True))


def last_countries(latest: Mapping[K, tuple[float, str]]) -> dict[K, tuple[float, str | None]]:
    """Each key's latest (time, address) as (time, country code), every address looked up once."""
    found = countries_of(address for _time, address in latest.values())
    return {key: (time, found[address]) for key, (time, address) in latest.items()}


_KEY = ("course_id", "person_id")
_LATER = "excluded.seen_time > learner_country.seen_time"


def write_countries(
    session: DbSession, countries: Mapping[tuple[int, int], tuple[float, str | None]]
) -> None:
    """Record (course, person) -> (time, country) where it is later than what is stored."""
    rows = [
        (course, person, code, time) for (course, person), (time, code) in sorted(countries.items())
    ]
    # Through upsert_rows (a staging table on PostgreSQL): a log of many learners records them
    # by the hundred thousand.
    upsert_rows(session, LearnerCountry, rows, _KEY, ("country_code", "seen_time"), _LATER)


def move_countries(session: DbSession, keep_id: int, drop_id: int) -> None:
    """Give a person merged away's countries to the person kept (the later one per course)."""
    rows = session.execute(
        select(
            LearnerCountry.course_id, LearnerCountry.seen_time, LearnerCountry.country_code
        ).where(LearnerCountry.person_id == drop_id)
    ).all()
    write_countries(session, {(course, keep_id): (time, code) for course, time, code in rows})
    session.execute(delete(LearnerCountry).where(LearnerCountry.person_id == drop_id))
