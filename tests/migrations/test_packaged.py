"""The migrations ship inside the package: a database with data at 0015 upgrades through the
`lti-tool` command from any folder, and the staff pages still render; `lti-tool` runs the
`flask` commands with the app preset."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, func, select

import lti_tool
from lti_tool import create_app
from lti_tool.config import TestingConfig
from lti_tool.console import cli, main
from lti_tool.extensions import MIGRATIONS_DIRECTORY, db, init_migrate
from lti_tool.models import Course, Enrollment, LearnerDay, Person
from tests.helpers.classes import build_class
from tests.helpers.client import https_client
from tests.helpers.database import database_url
from tests.helpers.platform import FakePlatform, follow
from tests.helpers.processes import ROOT

#: The head when the package took the migrations in; databases made then must keep upgrading.
LANDED_HEAD = "0015_admin_session_generation"


def _empty_database(app: Flask) -> None:
    """Drop every table, alembic_version included (the PostgreSQL test database is shared)."""
    with app.app_context():
        existing = MetaData()
        existing.reflect(bind=db.engine)
        existing.drop_all(bind=db.engine)


def _lti_tool(monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    """Run `lti-tool ARGS` as its console script does; it must exit 0."""
    monkeypatch.setattr(sys, "argv", ["lti-tool", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A folder outside the checkout as the working directory; the `lti-tool` command's app
    is the testing configuration on this test's database. Yields the database URL."""
    url = database_url(tmp_path)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LTI_TOOL_CONFIG", "testing")
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr(TestingConfig, "SQLALCHEMY_DATABASE_URI", url)
    yield url


def test_migrations_are_found_through_the_package(tmp_path: Path) -> None:
    package = Path(lti_tool.__file__).parent
    assert Path(MIGRATIONS_DIRECTORY) == package / "migrations"
    assert (package / "migrations" / "alembic.ini").is_file()
    assert (package / "migrations" / "script.py.mako").is_file()
    assert (package / "migrations" / "versions" / f"{LANDED_HEAD}.py").is_file()
    assert not (ROOT / "migrations").exists(), "no second copy at the checkout's top"
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    init_migrate(app)
    assert Path(app.extensions["migrate"].directory) == package / "migrations"


def test_a_database_with_data_at_0015_upgrades_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: str
) -> None:
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": elsewhere})
    app.instance_path = str(tmp_path / "instance")
    _empty_database(app)
    init_migrate(app)
    # The database as the landed migrations built it, with a platform, a course, people, events:
    # written by today's models (which know columns 0015 does not), then taken down to 0015
    # by the migrations' own downgrades.
    with app.app_context():
        upgrade()
    platform = FakePlatform()
    platform.register(app)
    client = https_client(app)
    follow(client, platform.launch(client))  # the course and its instructor, by a launch
    with app.app_context():
        build_class(db.session.get(Course, 1))  # learners, their days and videos, sections …
        db.session.commit()
        db.session.remove()
        downgrade(revision=LANDED_HEAD)
        with db.engine.connect() as conn:
            at = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        assert at == LANDED_HEAD
        days = db.session.scalar(select(func.count()).select_from(LearnerDay))
        people = db.session.scalar(select(func.count()).select_from(Person))
    assert days and people

    # Upgraded by the `lti-tool` command, from a folder without migrations, to the head.
    _lti_tool(monkeypatch, "db", "upgrade")
    with app.app_context(), db.engine.connect() as conn:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        assert db.session.scalar(select(func.count()).select_from(LearnerDay)) == days
        assert db.session.scalar(select(func.count()).select_from(Person)) == people
    assert revision == _head()
    assert client.get("/readyz").get_json()["status"] == "ready"

    # The staff pages render on the upgraded data.
    launched = platform.launch(client)
    token = re.search(r"[?&]t=([^&#]+)", launched.headers["Location"])[1]
    overview = follow(client, launched)
    assert overview.status_code == 200
    assert "Biology 101" in overview.get_data(as_text=True)
    for page in ("learners", "grades", "content", "videos", "settings", "access-log"):
        response = client.get(f"/courses/1/{page}?t={token}")
        assert response.status_code == 200, (page, response.get_data(as_text=True)[:500])
    learners = client.get(f"/courses/1/learners?t={token}").get_data(as_text=True)
    assert "Ada A" in learners and "Eve E" in learners


def test_lti_tool_runs_db_upgrade_and_report_with_the_app_preset(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    elsewhere: str,
) -> None:
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": elsewhere})
    _empty_database(app)

    _lti_tool(monkeypatch, "db", "upgrade")  # no --app, no FLASK_APP: the app is preset
    with app.app_context():
        with db.engine.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
        assert revision == _head()
        course = Course(lti_context_id="ctx-1", lms_course_id="4711", title="Physics")
        db.session.add(course)
        db.session.flush()
        build_class(course)
        db.session.commit()
        learners = db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.course_role == "learner")
        )
    capsys.readouterr()

    _lti_tool(monkeypatch, "report", "learners", "--course", "4711")
    rows = json.loads(capsys.readouterr().out)
    names = {row.get("name") for row in rows}
    assert {"Ada A", "Bob B"} <= names
    assert 0 < len(rows) <= learners

    # The group object itself lists the tool's commands beside Flask's.
    _lti_tool(monkeypatch, "--help")
    listing = capsys.readouterr().out
    assert cli.name == "lti-tool"
    for command in ("db", "platform", "report", "scheduler", "run"):
        assert re.search(rf"^\s+{command}\s", listing, re.MULTILINE), command
    _lti_tool(monkeypatch, "--version")
    assert capsys.readouterr().out.startswith(f"lti_tool {lti_tool.__version__}\nPython ")


def _head() -> str:
    """The newest revision of the packaged migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()
    assert head is not None
    return head
