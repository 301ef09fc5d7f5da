"""Shared fixtures: the app on SQLite or PostgreSQL (TEST_DATABASE_URL), a client, a fake LMS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import MetaData, create_engine, text

from lti_tool import create_app
from lti_tool.extensions import db
from tests.helpers.platform import FakePlatform

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


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


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The application with a fresh schema."""
    application = make_app(tmp_path)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


class HttpsClient(FlaskClient):
    """A test client whose requests go to https://tool.test unless told otherwise."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("base_url") and not (args and not isinstance(args[0], str)):
            kwargs["base_url"] = "https://tool.test"
        return super().open(*args, **kwargs)


def https_client(app: Flask) -> FlaskClient:
    """A client talking https to tool.test (so cookies are Secure; SameSite=None)."""
    app.test_client_class = HttpsClient
    return app.test_client()


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
