"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from lti_tool import create_app
from lti_tool.extensions import db, init_migrate
from lti_tool.models import Course, Person, PersonIdentity, ToolKey
from lti_tool.models.activity import compared_objects
from tests.helpers.database import database_url


def _migrating_app(tmp_path: Path) -> Flask:
    """An app on an empty database of its own, with the migrations set up."""
    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    init_migrate(app)
    return app


def _start_at(revision: str = "head") -> None:
    """The database emptied, then migrated up to `revision` (in an app context)."""
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(revision=revision)


def test_upgrade_matches_models_and_downgrades(tmp_path: Path) -> None:
    app = _migrating_app(tmp_path)
    with app.app_context():
        _start_at()
        with db.engine.connect() as conn:
            # As env.py compares: without the foreign keys PostgreSQL's schema leaves out.
            include = compared_objects(conn.dialect.name)
            context = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "render_as_batch": True, "include_object": include},
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        assert "lti_registration" in inspect(db.engine).get_table_names()
        if db.engine.dialect.name == "postgresql":
            assert _data_attribute("attcompression", "activity_block") == "l", (
                "activity_block.data is lz4-compressed"
            )
            downgrade(revision="0009_learner_resource")
            assert (
                _data_attribute("attcompression", "activity_block") == ""
            )  # the server's default again
            upgrade()
            assert _data_attribute("attcompression", "activity_block") == "l"
            assert _data_attribute("attstorage", "class_spread") == "e", (
                "class_spread.data is stored uncompressed"
            )
            downgrade(revision="0036_class_spread")
            assert (
                _data_attribute("attstorage", "class_spread") == "x"
            )  # bytea's default: compressed, out of line
            upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}


def _data_attribute(attribute: str, table: str) -> str:
    """A pg_attribute column of a table's `data` column: attstorage ('e' external, 'x'
    extended) or attcompression ('l' lz4, 'p' pglz, '' the server's default)."""
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT attstorage, attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'data'",
            (table,),
        ).one()
    return str(row._mapping[attribute])


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


def test_0012_records_the_deployment_of_courses_that_can_only_have_had_one(
    tmp_path: Path,
) -> None:
    app = _migrating_app(tmp_path)
    with app.app_context():
        _start_at("0011_real_lms")
        with db.engine.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO platform (id, name, issuer, frame_origins, enabled, lms, created_at) "
                "VALUES (1, 'One', 'https://one', '[]', true, 'other', CURRENT_TIMESTAMP), "
                "(2, 'Two', 'https://two', '[]', true, 'other', CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO lti_registration (id, platform_id, issuer, client_id, "
                "auth_login_url, auth_token_url, created_at) VALUES "
                "(1, 1, 'https://one', 'a', '', '', CURRENT_TIMESTAMP), "
                "(2, 2, 'https://two', 'b', '', '', CURRENT_TIMESTAMP), "
                "(3, 2, 'https://two', 'c', '', '', CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO lti_deployment (id, registration_id, deployment_id, enabled, "
                "admin_launch_enabled, created_at) VALUES "
                "(1, 1, '1', true, false, CURRENT_TIMESTAMP), "
                "(2, 2, '1', true, false, CURRENT_TIMESTAMP), "
                "(3, 3, '1', true, false, CURRENT_TIMESTAMP), "
                "(4, 3, '2', true, false, CURRENT_TIMESTAMP)"
            )
            # Course 1: its platform has one deployment. Course 2: its roster's registration
            # has one. Course 3: two deployments could have launched it. Course 4: no platform.
            run(
                "INSERT INTO course (id, platform_id, lti_context_id, title, nrps_client_id, "
                "created_at, updated_at) VALUES "
                "(1, 1, 'x', '', NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(2, 2, 'y', '', 'b', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(3, 2, 'z', '', 'c', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(4, NULL, 'w', '', NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT course_id, deployment_id FROM course_deployment ORDER BY course_id"
            ).all()
            approved = conn.exec_driver_sql("SELECT approved, registered_by FROM platform").all()
        assert [tuple(r) for r in rows] == [(1, 1), (2, 2)]
        assert {tuple(r) for r in approved} == {(True, "admin")}
        downgrade(revision="0011_real_lms")


def test_0013_encrypts_existing_tool_keys_when_the_data_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lti_tool.lti import keys

    app = _migrating_app(tmp_path)
    pem = keys.generate_private_key_pem()
    with app.app_context():
        _start_at("0012_tenancy")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tool_key (kid, private_key_pem, public_jwk, active, created_at) "
                    "VALUES ('k1', :pem, '{}', true, CURRENT_TIMESTAMP)"
                ),
                {"pem": pem},
            )
        monkeypatch.setenv("DATA_ENCRYPTION_KEY", app.config["DATA_ENCRYPTION_KEY"])
        upgrade()
        stored = db.session.scalar(text("SELECT private_key_pem FROM tool_key"))
        assert stored.startswith(keys.SEALED) and "PRIVATE KEY" not in stored
        row = db.session.scalar(select(ToolKey))
        assert keys.private_pem(row) == pem  # the app opens what the migration sealed
        db.session.rollback()
        downgrade(revision="0012_tenancy")
        assert db.session.scalar(text("SELECT private_key_pem FROM tool_key")) == pem
        db.session.rollback()
        monkeypatch.delenv("DATA_ENCRYPTION_KEY")
        upgrade()  # no variable: the key stays as it is (flask keys encrypt later)
        assert db.session.scalar(text("SELECT private_key_pem FROM tool_key")) == pem


def test_0016_adds_view_preferences_that_go_with_their_course_and_person(tmp_path: Path) -> None:
    app = _migrating_app(tmp_path)
    with app.app_context():
        _start_at("0015_admin_session_generation")
        assert "view_preference" not in inspect(db.engine).get_table_names()
        upgrade()
        with db.engine.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO course (id, lti_context_id, title, created_at, updated_at) VALUES "
                "(1, 'x', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(2, 'y', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO person (id, created_at, updated_at) "
                "VALUES (1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO view_preference (person_id, course_id, view, value, updated_at) "
                "VALUES (1, 1, 'learners.columns', '[\"email\"]', CURRENT_TIMESTAMP), "
                "(1, 2, 'learners.columns', '[]', CURRENT_TIMESTAMP)"
            )
            with pytest.raises(IntegrityError), conn.begin_nested():
                run(  # one value per person, course and view
                    "INSERT INTO view_preference (person_id, course_id, view, value, updated_at) "
                    "VALUES (1, 1, 'learners.columns', '[]', CURRENT_TIMESTAMP)"
                )
            run("DELETE FROM course WHERE id = 1")
            left = run("SELECT course_id FROM view_preference").scalars().all()
        assert left == [2]
        downgrade(revision="0015_admin_session_generation")
        assert "view_preference" not in inspect(db.engine).get_table_names()


def test_0022_cuts_lms_event_titles_back_to_the_names(tmp_path: Path) -> None:
    app = _migrating_app(tmp_path)
    with app.app_context():
        _start_at("0021_course_language")
        with db.engine.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO course (id, lti_context_id, title, created_at, updated_at) VALUES "
                "(1, 'x', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            run(
                "INSERT INTO section (id, course_id, lms_section_id, name) VALUES "
                "(1, 1, '9', 'Lab (Tuesday)'), (2, 1, '10', '')"
            )
            # What the syncs and the demo wrote in English, and a staff event left as it is.
            run(
                "INSERT INTO course_event (id, course_id, source, lms_id, kind, section_id, "
                "title, at, created_at, updated_at) VALUES "
                "(1, 1, 'canvas', '7', 'due', NULL, 'Essay (draft)', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(2, 1, 'canvas', '7:section:9', 'due', 1, 'Essay (draft) (Lab (Tuesday))', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(3, 1, 'canvas', '8:section:10', 'due', 2, 'Assignment 8 (section 10)', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(4, 1, 'openedx', 'b@x', 'due', NULL, 'Graded subsection', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(5, 1, 'canvas', 'demo-hw-1', 'due', NULL, 'Homework 1 due', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), "
                "(6, 1, 'staff', NULL, 'due', NULL, 'Project due', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        upgrade()
        query = "SELECT id, title, section_name FROM course_event ORDER BY id"
        with db.engine.connect() as conn:
            rows = [tuple(r) for r in conn.exec_driver_sql(query).all()]
        assert rows == [
            (1, "Essay (draft)", None),
            (2, "Essay (draft)", "Lab (Tuesday)"),
            (3, "", None),
            (4, "", None),
            (5, "Homework 1", None),
            (6, "Project due", None),
        ]
        downgrade(revision="0021_course_language")
        with db.engine.connect() as conn:
            titles = conn.exec_driver_sql("SELECT title FROM course_event ORDER BY id").scalars()
            assert list(titles) == [
                "Essay (draft)",
                "Essay (draft) (Lab (Tuesday))",
                "Assignment 8 (section 10)",
                "Graded subsection",
                "Homework 1",
                "Project due",
            ]
