"""The tests' databases: the PostgreSQL test database (TEST_DATABASE_URL) or SQLite files, and
the testing app on a fresh schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from lti_tool import create_app
from lti_tool.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def database_url(tmp_path: Path) -> str:
    """The database for one test: the PostgreSQL test database, or a fresh SQLite file."""
    return PG_URL or "sqlite:///" + str(tmp_path / "test.sqlite3")


def make_app(tmp_path: Path, **overrides: object) -> Flask:
    """A testing app with an empty schema."""
    settings = {
        "CONFIG_NAME": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
        **overrides,
    }
    app = create_app(settings)
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        # Reflect first: tables of another schema version (a branch switch) go too.
        existing = MetaData()
        existing.reflect(bind=db.engine)
        existing.drop_all(bind=db.engine)
        db.create_all()
    return app


def dev_app(tmp_path: Path) -> Flask:
    """A development app (the demo, the development LMS) on its own SQLite file, schema made."""
    app = create_app(
        {
            "CONFIG_NAME": "development",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "dev.sqlite3"),
        }
    )
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        db.create_all()
    return app


@contextmanager
def own_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own, for real processes: a fresh PostgreSQL database (dropped
    afterwards) when TEST_DATABASE_URL is set, else a SQLite file in `tmp_path`."""
    if not PG_URL:
        yield "sqlite:///" + str(tmp_path / "own.sqlite3")
        return
    name = "lti_test_" + uuid.uuid4().hex[:8]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
