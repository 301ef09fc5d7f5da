"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    TypeDecorator,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable, Select

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


def lock_keys(
    session: DbSession,
    course_id: int,
    people: Iterable[int],
    new_people: AbstractSet[int] = frozenset(),
) -> None:
    """Check that a batch's course and people exist, and keep them from being deleted until the
    transaction ends, before its activity rows are written: on PostgreSQL, where those tables
    have no foreign keys (models.activity.batch_checked_keys), once for the whole batch instead
    of a trigger per row. Elsewhere their foreign keys check each row.

    The locks are a foreign key check's own (FOR KEY SHARE): a transaction deleting one of these
    people waits for this one, and its cascade trigger then sees the rows written here.
    `new_people` were inserted by this transaction and not deleted since (the caller knows):
    they are left out, since no other transaction sees them, so none can delete them, and a log
    of many learners would otherwise lock every one of them once per batch.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    wanted = sorted(set(people) - new_people)
    found = session.execute(_LOCK_COURSE, {"course": course_id}).all()
    found_people = (
        {row[0] for row in session.execute(_LOCK_PEOPLE, {"people": wanted})} if wanted else set()
    )
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


#: How many values go into one IN (…) list (SQLite).
IN_CHUNK = 500
#: How many values go into one `= ANY(array)` parameter (PostgreSQL, which plans it once).
ANY_CHUNK = 20_000


def run(session: DbSession, statement: Executable, **params: Any) -> Result[Any]:
    """A statement built once (its values as bindparams) run as Core on the session's
    connection: a page's short reads cost 0.25 ms each built again and run through the ORM
    session, 0.04 ms so (SQLite, this machine); a page makes a dozen or two. Pending changes
    are flushed first, as the session's own execute would (a settings change read back)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def driver_rows(session: DbSession, query: Select[Any]) -> list[tuple[Any, ...]]:
    """A select's rows as the database driver's cursor gives them (tuples), without
    SQLAlchemy's per-row processing: for whole-class reads of many rows (a second per million).

    What the driver gives is not converted: numbers and text as they are, bytes perhaps as a
    memoryview (PostgreSQL), dates as text on SQLite. Its parameters are numbers, text and
    dates (a date is bound as the tool stores it on SQLite, "YYYY-MM-DD"), not datetimes.
    """
    connection = session.connection()
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    sqlite = connection.dialect.name == "sqlite"

    def bound(value: Any) -> Any:
        if isinstance(value, datetime):
            raise ValueError("driver_rows binds no datetime: the databases store them apart")
        return value.isoformat() if sqlite and isinstance(value, date) else value

    values = {name: bound(value) for name, value in compiled.params.items()}
    positions = compiled.positiontup
    params: Any = tuple(values[name] for name in positions) if positions is not None else values
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def select_in(
    session: DbSession, sql: str, params: Sequence[Any], values: Sequence[Any]
) -> Iterator[tuple[Any, ...]]:
    """The rows of a plain SQL query on the driver, run once per chunk of `values`: `{p}` in
    `sql` stands for one of `params`, `{in}` for the membership test of a column in the chunk
    (`IN (…)` on SQLite, `= ANY(array)` on PostgreSQL) and comes after every `{p}`.

    Tuples and values as the driver's cursor gives them (no SQLAlchemy rows or type
    processing): reading back the tens of thousands of blocks a log of many learners wrote
    through SQLAlchemy's rows cost more than the query.
    """
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if connection.dialect.paramstyle in ("format", "pyformat") else "?"
    size = ANY_CHUNK if postgres else IN_CHUNK
    for start in range(0, len(values), size):
        part = values[start : start + size]
        if postgres:
            test, args = f"= ANY({mark})", [list(part)]
        else:
            test, args = f"IN ({', '.join([mark] * len(part))})", list(part)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql.format(p=mark, **{"in": test}), (*params, *args))
            yield from cursor.fetchall()
        finally:
            cursor.close()


def insert_rows(
    session: DbSession,
    model: Any,
    rows: Sequence[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> None:
    """INSERT many rows, each a tuple in the table's column order (or in `columns`' order, the
    others taking their server defaults), of values as the driver takes them (dates as ISO
    text or dates, times as `driver_time` gives them; no SQLAlchemy type processing).

    Rollups are hundreds of thousands of rows: on SQLite the driver's executemany on tuples
    (the ORM's bulk insert is about ten times slower); on PostgreSQL one COPY, binary where the
    table's column types allow it (multi-row INSERTs took 15 ms a batch, most of a large ingest
    there; binary COPY is half the work of text COPY, in Python and in the server).
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
    _copy(session, table, names, rows)


def upsert_rows(
    session: DbSession,
    model: Any,
    rows: Sequence[tuple[Any, ...]],
    keys: Sequence[str],
    update: Sequence[str],
    where: str = "",
) -> None:
    """INSERT rows in the table's column order, or UPDATE the `update` columns of the row with
    the same `keys` (its primary key, or another unique constraint) — where the condition
    `where` holds, if given (SQL of the table's row and `excluded`, the new one). No two rows may
    have the same keys.

    On PostgreSQL through a staging table: one COPY into a temporary table, then one set-based
    `INSERT … SELECT … ON CONFLICT DO UPDATE` (multi-row INSERTs of 500 blocks made the client
    quote every value and the server parse it back: 36,608 blocks took 6 s, staged 2 s).
    """
    if not rows:
        return
    table = model.__table__
    names = [column.name for column in table.columns]
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
        f"{name} = excluded.{name}" for name in update
    )
    if where:
        conflict += f" WHERE {where}"
    if not _is_psycopg2(session):
        marks = ", ".join(["{p}"] * len(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}) {conflict}"  # noqa: S608
        upsert_many(session, sql, rows)
        return
    stage = _stage(session, table.name)
    _copy(session, table, names, rows, into=stage)
    connection = session.connection()
    columns = ", ".join(names)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {stage} {conflict}"  # noqa: S608
    )
    connection.exec_driver_sql(f"TRUNCATE {stage}")


def _stage(session: DbSession, table: str) -> str:
    """The name of an empty temporary table shaped like `table`.

    Made again whenever it is missing (a temporary table lives as long as the connection, which
    the pool keeps, but not past the rollback of the transaction that made it); emptied at
    commit, and after each use by upsert_rows.
    """
    stage = f"stage_{table}"
    connection = session.connection()
    # The compression of the table's columns too (PostgreSQL 14+): a value compressed once in
    # the stage goes into the table as it is.
    version = connection.dialect.server_version_info or (0,)
    including = " INCLUDING COMPRESSION" if version >= (14,) else ""
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table}{including}) "
        "ON COMMIT DELETE ROWS"
    )
    return stage


def _copy(
    session: DbSession,
    table: Any,
    names: list[str],
    rows: Sequence[tuple[Any, ...]],
    into: str | None = None,
) -> None:
    """COPY rows into a table (or `into`, a stage shaped like it): binary when every column's
    type has a packer here, else text."""
    target = into or table.name
    columns = ", ".join(names)
    packers = _packers(table, tuple(names))
    cursor = session.connection().connection.cursor()
    try:
        if packers is not None:
            data = _binary(packers, rows)
            cursor.copy_expert(
                f"COPY {target} ({columns}) FROM STDIN (FORMAT binary)", io.BytesIO(data)
            )
        else:
            text = "".join(["\t".join(map(_copy_text, row)) + "\n" for row in rows])
            cursor.copy_expert(f"COPY {target} ({columns}) FROM STDIN", io.StringIO(text))
    finally:
        cursor.close()


# --- binary COPY ------------------------------------------------------------------------------
# PostgreSQL's binary COPY: a header, then per row the field count and per field its length and
# bytes (-1: NULL), in network byte order; a trailer. Each packer gives one field, length first.

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_int4 = struct.Struct(">ii").pack
_int8 = struct.Struct(">iq").pack
_float8 = struct.Struct(">id").pack
_length = struct.Struct(">i").pack
_PG_EPOCH = date(2000, 1, 1).toordinal()


def _pack_int4(value: Any) -> bytes:
    return _int4(4, value)


def _pack_int8(value: Any) -> bytes:
    return _int8(8, value)


def _pack_float8(value: Any) -> bytes:
    return _float8(8, value)


def _pack_text(value: Any) -> bytes:
    # A str subclass by its own text (see _copy_text): a StandIn keeps its English.
    data = (value if isinstance(value, str) else str(value)).encode()
    return _length(len(data)) + data


def _pack_bytes(value: Any) -> bytes:
    data: bytes = _length(len(value)) + value
    return data


def _pack_bool(value: Any) -> bytes:
    return b"\x00\x00\x00\x01\x01" if value else b"\x00\x00\x00\x01\x00"


def _pack_date(value: Any) -> bytes:
    day = date.fromisoformat(value) if type(value) is str else value
    return _int4(4, day.toordinal() - _PG_EPOCH)


def _packer(kind: Any) -> Callable[[Any], bytes] | None:
    """The packer of a column type, None for types only text COPY writes here (times)."""
    if isinstance(kind, TypeDecorator):
        return None
    if isinstance(kind, BigInteger):
        return _pack_int8
    if isinstance(kind, SmallInteger):
        return None
    if isinstance(kind, Integer):
        return _pack_int4
    if isinstance(kind, Float):
        # Float(precision=53) and a plain Float are double precision; a smaller one is real.
        precision = getattr(kind, "precision", None)
        return _pack_float8 if precision is None or precision > 24 else None
    if isinstance(kind, LargeBinary):
        return _pack_bytes
    if isinstance(kind, String):
        return _pack_text
    if isinstance(kind, Boolean):
        return _pack_bool
    if isinstance(kind, DateTime):
        return None
    if isinstance(kind, Date):
        return _pack_date
    return None


@functools.cache
def _packers(table: Any, names: tuple[str, ...]) -> tuple[Callable[[Any], bytes], ...] | None:
    found = tuple(_packer(table.columns[name].type) for name in names)
    return None if None in found else found  # type: ignore[return-value]


def _binary(packers: tuple[Callable[[Any], bytes], ...], rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Rows as binary COPY data."""
    count = struct.pack(">h", len(packers))
    null = _NULL
    out = [_HEADER]
    append = out.append
    for row in rows:
        fields = [null if v is None else pack(v) for pack, v in zip(packers, row, strict=True)]
        append(count + b"".join(fields))
    append(_TRAILER)
    return b"".join(out)


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
    if isinstance(value, str):
        # A str subclass too, by its own text: str() of a StandIn would be the request's
        # language (a pseudonym stored in Spanish), where the tables keep the English.
        text: str = str.translate(value, _COPY_ESCAPES)
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
