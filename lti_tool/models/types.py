"""Column helpers shared by the model modules, and the type of the session every layer takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect

if TYPE_CHECKING:
    from flask_sqlalchemy.session import Session as FlaskSession
    from sqlalchemy.engine import CursorResult, Result
    from sqlalchemy.orm import Session, scoped_session

# The session a function takes: a plain Session, or (what every caller in the tool passes) the
# app's `db.session`, Flask-SQLAlchemy's scoped_session, which forwards the Session methods to
# the current one. A union in the signatures rather than `db.session()` at every call: the
# callers stay as they are, and the type says what they pass. scoped_session is invariant in its
# session class, hence Flask-SQLAlchemy's own Session class in it; imported only for the type
# checker, so this module (which every layer imports, kpis included) does not import Flask.
DbSession: TypeAlias = "Session | scoped_session[FlaskSession]"


def rowcount(result: Result[Any]) -> int:
    """The rows an INSERT, UPDATE or DELETE matched (`result.rowcount`).

    Session.execute is typed as returning any Result; for those statements it is a CursorResult,
    the one with a rowcount.
    """
    return cast("CursorResult[Any]", result).rowcount


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store an aware datetime as UTC; a naive one is a bug, refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime (SQLite returns it naive)."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
