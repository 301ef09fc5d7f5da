"""Flask extensions, created unbound here and bound to the app in the factory."""

import os
from typing import TYPE_CHECKING, Any, ClassVar

import click
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic batch migrations (SQLite) can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model is mapped to a Table (none to a join or a select), which Core's insert and
        # delete take; DeclarativeBase types it as any FromClause.
        __table__: ClassVar[Table]


db = SQLAlchemy(model_class=Base)

# The models' base class: `db.Model`, which Flask-SQLAlchemy builds from Base. A type checker
# cannot take an attribute (`db.Model`) as a base class, so to it the base is Base itself (the
# same declarative base, mapped the same way).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model

#: The migration scripts, shipped inside the package (found wherever it is installed).
MIGRATIONS_DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def init_migrate(app: Flask) -> None:
    """Bind Flask-Migrate to the app (once), for `flask db` and for flask_migrate's functions.

    Not at start-up: importing alembic is a tenth of a second of every command and every worker,
    and only migrations need it.
    """
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True, compare_type=True)


class LazyMigrateCommands(click.Group):
    """`flask db`: Flask-Migrate's command group, bound and imported when it is first used."""

    def __init__(self, app: Flask) -> None:
        super().__init__("db", help="Perform database migrations (Flask-Migrate).")
        self._app = app

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The context of Flask-Migrate's own group, which then runs as if registered directly."""
        init_migrate(self._app)
        from flask_migrate.cli import db as commands

        context: click.Context = commands.make_context(info_name, args, parent=parent, **extra)
        return context
