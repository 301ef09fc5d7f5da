"""A learner's data: everything the tool holds about one person, found from the foreign keys.

Used for access requests (export) and account-deletion requests (delete). The tables are found
from the models' foreign keys to `person`, never from a hand-kept list, so a new table that
refers to a person is covered the day it is added.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Table, delete, select

from lti_tool.activity.rollups import touch_courses
from lti_tool.extensions import db
from lti_tool.models import (
    ActivityBlock,
    CarriedRows,
    Person,
)
from lti_tool.models.types import DbSession, rowcount

log = logging.getLogger(__name__)


def person_references() -> list[tuple[Table, str]]:
    """Every (table, column) with a foreign key to person.id."""
    found = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "person" and fk.column.name == "id":
                found.append((table, fk.parent.name))
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        # Packed values (a day's events, gap histograms, video views) are JSON: export them
        # readable; anything else as hex.
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return bytes(value).hex()
    return value


def export_person(session: DbSession, person_id: int) -> dict[str, Any]:
    """Every row about a person, table by table, as plain JSON-ready data."""
    person = session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person with id {person_id}")
    person_table = Person.__table__
    row = session.execute(select(person_table).where(person_table.c.id == person_id)).one()
    data: dict[str, Any] = {"person": {k: _plain(v) for k, v in row._mapping.items()}}
    for table, column in person_references():
        rows = session.execute(select(table).where(table.c[column] == person_id)).all()
        data[table.name] = [{k: _plain(v) for k, v in r._mapping.items()} for r in rows]
    return data


def delete_person(session: DbSession, person_id: int) -> dict[str, int]:
    """Delete a person and every row that refers to them; returns rows deleted per table."""
    if session.get(Person, person_id) is None:
        raise LookupError(f"no person with id {person_id}")
    counts: dict[str, int] = {}
    blocks = ActivityBlock.__table__
    courses = set(
        session.scalars(select(blocks.c.course_id).where(blocks.c.person_id == person_id))
    )
    # Rows carried to a refresh hold the person's activity but no foreign key (a merge deletes
    # the person it carries): deleted here, their courses' figures added up again.
    carried = CarriedRows.__table__
    mine = carried.c.person_id == person_id
    courses |= set(session.scalars(select(carried.c.course_id).where(mine)))
    counts["carried_rows"] = rowcount(session.execute(delete(carried).where(mine))) or 0
    for table, column in reversed(person_references()):
        result = session.execute(delete(table).where(table.c[column] == person_id))
        counts[table.name] = counts.get(table.name, 0) + (rowcount(result) or 0)
    session.execute(delete(Person.__table__).where(Person.__table__.c.id == person_id))
    counts["person"] = 1
    touch_courses(session, courses)
    session.expire_all()
    return counts
