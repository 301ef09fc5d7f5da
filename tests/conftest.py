"""Shared fixtures: the app on SQLite or PostgreSQL (TEST_DATABASE_URL), a client, a fake LMS,
a database of its own for real processes, and the hand-built class launched into (`seeded`).

The functions behind them live in tests/helpers/ (database, client, platform, classes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from lti_tool.extensions import db
from tests.helpers.classes import seed_class
from tests.helpers.client import https_client
from tests.helpers.database import PG_URL, make_app, own_database
from tests.helpers.platform import FakePlatform


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database this run uses."""
    return "database: " + ("PostgreSQL " + PG_URL.split("@")[-1] if PG_URL else "SQLite")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI the PostgreSQL run must really reach PostgreSQL."""
    if os.environ.get("CI") == "true" and os.environ.get("REQUIRE_POSTGRES") == "1":
        if not PG_URL:
            raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The application with a fresh schema."""
    application = make_app(tmp_path)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like https client of the tool."""
    return https_client(app)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner for the `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def platform(app: Flask) -> FakePlatform:
    """A registered fake LMS with its own RSA key."""
    fake = FakePlatform()
    fake.register(app)
    return fake


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A database of its own for real processes (gunicorn, the scheduler, `flask db upgrade`):
    a fresh PostgreSQL database, dropped afterwards, or a SQLite file."""
    with own_database(tmp_path) as url:
        yield url


@pytest.fixture
def seeded(app: Flask, client: FlaskClient, platform: FakePlatform) -> dict[str, Any]:
    """A staff token for the launched course (id 1) holding the hand-built class.

    (Some modules define a `seeded` of their own, which they use instead.)
    """
    return seed_class(app, client, platform)
