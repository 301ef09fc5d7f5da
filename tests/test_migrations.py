"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from lti_tool import create_app
from lti_tool.extensions import db, init_migrate
from lti_tool.models import Course, Person, PersonIdentity
from tests.conftest import database_url


def test_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    init_migrate(app)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert "lti_registration" in inspect(db.engine).get_table_names()
        if db.engine.dialect.name == "postgresql":
            assert _block_compression() == "l", "activity_block.data is lz4-compressed"
            downgrade(revision="0009_learner_resource")
            assert _block_compression() == ""  # the server's default again
            upgrade()
            assert _block_compression() == "l"
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def _block_compression() -> str:
    """pg_attribute.attcompression of activity_block.data: 'l' lz4, 'p' pglz, '' the default."""
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'activity_block'::regclass AND attname = 'data'"
        ).scalar_one()


def test_standalone_courses_and_identities_are_unique_too(app: Flask) -> None:
    # Without a platform the (platform, …) unique constraints see NULLs as distinct.
    with app.app_context():
        db.session.add(Course(lti_context_id="course-v1:X+Y+Z"))
        db.session.commit()
        db.session.add(Course(lti_context_id="course-v1:X+Y+Z"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        person = Person()
        db.session.add(person)
        db.session.flush()
        db.session.add(PersonIdentity(person_id=person.id, kind="openedx_user_id", value="7"))
        db.session.commit()
        db.session.add(PersonIdentity(person_id=person.id, kind="openedx_user_id", value="7"))
        with pytest.raises(IntegrityError):
            db.session.commit()
