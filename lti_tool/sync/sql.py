"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT supporting on_conflict_do_nothing / _do_update on SQLite and PostgreSQL."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def is_sqlite(session: Session) -> bool:
    """True on SQLite, whose driver takes qmark parameters and is fastest on plain tuples."""
    return session.get_bind().dialect.name == "sqlite"


def insert_rows(session: Session, model: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT many rows, each a tuple in the table's column order (dates as ISO text).

    Rollups are hundreds of thousands of rows: on SQLite the driver's executemany on tuples
    (the ORM's bulk insert is about ten times slower); on PostgreSQL SQLAlchemy's batched
    multi-row INSERT.
    """
    if not rows:
        return
    table = model.__table__
    names = [column.name for column in table.columns]
    if is_sqlite(session):
        marks = ", ".join("?" * len(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
        session.connection().exec_driver_sql(sql, list(rows))
    else:
        session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
