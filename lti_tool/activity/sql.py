"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from lti_tool.models.types import DbSession


def dialect_insert(session: DbSession, table: Any) -> Any:
    """An INSERT supporting on_conflict_do_nothing / _do_update on SQLite and PostgreSQL."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def is_sqlite(session: DbSession) -> bool:
    """True on SQLite, whose driver takes qmark parameters and is fastest on plain tuples."""
    return session.get_bind().dialect.name == "sqlite"


def _is_psycopg2(session: DbSession) -> bool:
    """True on PostgreSQL through psycopg2, which has COPY and execute_values."""
    return session.get_bind().dialect.driver == "psycopg2"


def lock_keys(session: DbSession, course_id: int, people: Iterable[int]) -> None:
    """Check that a batch's course and people exist, and keep them from being deleted until the
    transaction ends, before its activity rows are written: on PostgreSQL, where those tables
    have no foreign keys (models.activity.batch_checked_keys), once for the whole batch instead
    of a trigger per row. Elsewhere their foreign keys check each row.

    The locks are a foreign key check's own (FOR KEY SHARE): a transaction deleting one of these
    people waits for this one, and its cascade trigger then sees the rows written here.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    wanted = sorted(set(people))
    found = session.execute(_LOCK_COURSE, {"course": course_id}).all()
    found_people = {row[0] for row in session.execute(_LOCK_PEOPLE, {"people": wanted})}
    if not found or len(found_people) != len(wanted):
        missing = sorted(set(wanted) - found_people)[:10]
        raise IntegrityError(
            "lock_keys",
            {"course": course_id, "missing people": missing},
            LookupError(
                f"no course {course_id}" if not found else f"no person with id in {missing}"
            ),
        )


_LOCK_COURSE = text("SELECT id FROM course WHERE id = :course FOR KEY SHARE")
_LOCK_PEOPLE = text("SELECT id FROM person WHERE id = ANY(:people) FOR KEY SHARE")


def insert_rows(
    session: DbSession,
    model: Any,
    rows: Sequence[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> None:
    """INSERT many rows, each a tuple in the table's column order (or in `columns`' order, the
    others taking their server defaults), of values as the driver takes them (dates as ISO
    text, times as `driver_time` gives them; no SQLAlchemy type processing).

    Rollups are hundreds of thousands of rows: on SQLite the driver's executemany on tuples
    (the ORM's bulk insert is about ten times slower); on PostgreSQL one COPY (multi-row
    INSERTs took 15 ms a batch, most of a large ingest there).
    """
    if not rows:
        return
    table = model.__table__
    names = list(columns) if columns else [column.name for column in table.columns]
    if is_sqlite(session):
        marks = ", ".join("?" * len(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
        session.connection().exec_driver_sql(sql, list(rows))
        return
    if not _is_psycopg2(session):
        session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    text = "".join(["\t".join(map(_copy_text, row)) + "\n" for row in rows])
    cursor = session.connection().connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table.name} ({', '.join(names)}) FROM STDIN", io.StringIO(text))
    finally:
        cursor.close()


def driver_time(session: DbSession, value: datetime) -> Any:
    """An aware datetime as insert_rows passes it: on SQLite the naive UTC text SQLAlchemy's
    DateTime stores (what UTCDateTime reads back), elsewhere the datetime itself."""
    if is_sqlite(session):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# COPY's text format: backslash escapes for the characters that delimit rows and columns.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value as COPY's text format writes it."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        text: str = value.translate(_COPY_ESCAPES)
        return text
    if kind is bytes:
        hexed: str = value.hex()
        return "\\\\x" + hexed  # bytea's hex form, its backslash escaped for COPY
    if kind is bool:
        return "t" if value else "f"
    if kind is float:
        return repr(value)
    if kind is int:
        return str(value)
    return str(value).translate(_COPY_ESCAPES)  # dates and the like: their ISO text


def upsert_many(session: DbSession, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Run an `INSERT … VALUES ({p}, …) [ON CONFLICT …]` for many rows.

    `{p}` in `sql` stands for one parameter. On SQLite the driver's executemany; on PostgreSQL
    many rows a statement (psycopg2's executemany is one round trip per row).
    """
    if not rows:
        return
    if is_sqlite(session):
        session.connection().exec_driver_sql(sql.format(p="?"), list(rows))
        return
    if not _is_psycopg2(session):
        session.connection().exec_driver_sql(sql.format(p="%s"), list(rows))
        return
    from psycopg2.extras import execute_values  # only where PostgreSQL is used

    # execute_values wants one %s where the VALUES rows go, and the row's shape apart.
    values = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    head, found, tail = sql.format(p="%s").partition(values)
    if not found:
        raise ValueError("upsert_many needs `VALUES ({p}, …)` with one {p} per column")
    cursor = session.connection().connection.cursor()
    try:
        execute_values(cursor, head + "%s" + tail, rows, template=values, page_size=500)
    finally:
        cursor.close()
