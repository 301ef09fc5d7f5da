"""The app factory, configurations, proxy handling and the pages outside a course."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.config import ConfigError
from lti_tool.extensions import db
from lti_tool.models import Course, Enrollment, Person
from tests.helpers.database import dev_app
from tests.helpers.platform import CLAIM, LEARNER, MEMBERSHIP, FakePlatform


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "DATABASE_URL", "TOOL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    with pytest.raises(ConfigError) as error:
        create_app("production")
    assert "DATABASE_URL, TOOL_BASE_URL" in str(error.value)
    assert "s3cret" not in str(error.value)


def test_production_has_no_development_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "prod.sqlite3"))
    monkeypatch.setenv("TOOL_BASE_URL", "https://analytics.example.edu")
    app = create_app("production")
    assert app.config["TOOL_BASE_URL"] == "https://analytics.example.edu"
    assert "devplatform" not in app.blueprints
    response = app.test_client().get("/dev/platform/")
    assert response.status_code == 404
    assert "Strict-Transport-Security" in response.headers
    assert "devplatform" in create_app("development").blueprints


def test_unknown_config_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown configuration 'staging'"):
        create_app("staging")


def test_proxy_fix_makes_forwarded_https_secure(app: Flask, platform: FakePlatform) -> None:
    plain = app.test_client()  # http to the app, https at the proxy
    response = plain.post(
        "/lti/login",
        data={"iss": platform.issuer, "login_hint": "u", "client_id": platform.client_id},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tool.test"},
    )
    assert response.status_code == 302
    assert "redirect_uri=https%3A%2F%2Ftool.test%2Flti%2Flaunch" in response.headers["Location"]
    assert all("Secure" in c for c in response.headers.getlist("Set-Cookie"))


def test_login_inside_iframe_checks_cookies_without_inline_script(
    client: FlaskClient, platform: FakePlatform
) -> None:
    response = client.get(
        f"/lti/login?iss={platform.issuer}&login_hint=u&client_id={platform.client_id}",
        headers={"Sec-Fetch-Dest": "iframe"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-auth-url="https://lms.example.edu/auth?' in html
    assert "lti1p3_new_window=1" in html and 'target="_blank"' in html
    assert '<script src="/static/js/cookie_check.js"></script>' in html
    assert "<script>" not in html
    assert any("Partitioned" in c for c in response.headers.getlist("Set-Cookie"))


def test_relaunch_updates_course_person_and_enrollment(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    assert platform.launch(client, roles=LEARNER).status_code == 303

    def renamed(body: dict) -> None:
        body[CLAIM + "context"]["title"] = "Biology 101 (Spring)"
        body["name"] = "Samantha Example"

    assert (
        platform.launch(client, roles=[MEMBERSHIP + "Instructor"], mutate=renamed).status_code
        == 303
    )
    with app.app_context():
        assert db.session.scalar(select(Course)).title == "Biology 101 (Spring)"
        assert db.session.scalar(select(Person)).name == "Samantha Example"
        enrollment = db.session.scalar(select(Enrollment))
        assert enrollment.course_role == "staff"
        assert enrollment.roles == [MEMBERSHIP + "Instructor"]
        assert len(list(db.session.scalars(select(Enrollment)))) == 1


def test_home_page_and_health(client: FlaskClient) -> None:
    assert "open the tool from your course" in client.get("/").get_data(as_text=True).lower()
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_development_platform_refuses_a_bad_auth_request(tmp_path: Path) -> None:
    app = dev_app(tmp_path)
    client = app.test_client()
    assert client.get("/dev/platform/").status_code == 200  # registers itself
    response = client.get(
        "/dev/platform/auth?client_id=dev-client&redirect_uri=https://evil.example/steal"
        "&response_type=id_token&scope=openid&login_hint=instructor&nonce=n"
    )
    assert response.status_code == 400
    assert "redirect_uri must be http://localhost/lti/launch" in response.get_data(as_text=True)


def test_demo_load_creates_course_class_and_activity_once(tmp_path: Path) -> None:
    app = dev_app(tmp_path)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0 and "demo activity:" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "demo activity:" not in second.output
    result = runner.invoke(args=["report", "weekly-activity", "--course", "demo-course-101"])
    rows = json.loads(result.output)
    assert {r["label"] for r in rows} >= {"ACTIVE", "PLAYED_VIDEO", "ATTEMPTED_PROBLEM"}
    assert max(r["count"] for r in rows if r["label"] == "ACTIVE") <= 25  # the demo class


def test_readyz_checks_database_and_migrations(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from lti_tool.extensions import init_migrate
    from tests.helpers.database import database_url

    app = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": database_url(tmp_path)})
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and "run flask db upgrade" in response.get_json()["reason"]
    init_migrate(app)  # Flask-Migrate is bound on first use (`flask db` binds it itself)
    with app.app_context():
        upgrade()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    dead = create_app(
        {
            "CONFIG_NAME": "testing",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://x@127.0.0.1:9/none?connect_timeout=2",
        }
    )
    down = dead.test_client().get("/readyz")
    assert down.status_code == 503 and "database unreachable" in down.get_json()["reason"]


def test_request_ids_are_echoed_or_made(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id; drop"}).headers["X-Request-ID"]
    assert made != "bad id; drop" and len(made) == 32


def test_json_log_lines_carry_request_id_and_no_query_string(app: Flask) -> None:
    import logging

    from lti_tool.logging_setup import JsonFormatter, RedactQueryFilter, RequestIdFilter

    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"GET /courses/1/?t=SECRET HTTP/1.1" 200', None, None
    )
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-1"
        RequestIdFilter().filter(record)
        RedactQueryFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-1" and line["level"] == "INFO"
    assert line["message"] == '"GET /courses/1/ HTTP/1.1" 200' and "SECRET" not in str(line)


def test_flask_db_commands_work_without_alembic_at_start_up(tmp_path: Path) -> None:
    """`flask db upgrade` and `flask db current` work, though alembic is imported on first use."""
    import subprocess
    import sys

    url = "sqlite:///" + str(tmp_path / "cli.sqlite3")  # the wiring, not the database, is tested
    env = {**os.environ, "FLASK_APP": "lti_tool", "DATABASE_URL": url}
    env["LTI_TOOL_INSTANCE_PATH"] = str(tmp_path / "instance")
    flask = [sys.executable, "-m", "flask"]
    upgrade = subprocess.run([*flask, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    current = subprocess.run([*flask, "db", "current"], env=env, capture_output=True, text=True)
    assert current.returncode == 0 and "(head)" in current.stdout, current.stderr
    listed = subprocess.run([*flask, "db", "--help"], env=env, capture_output=True, text=True)
    assert "upgrade" in listed.stdout and "downgrade" in listed.stdout
    probe = "import lti_tool, sys; lti_tool.create_app(); print('alembic' in sys.modules)"
    started = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert started.stdout.strip() == "False", started.stderr


def _fresh_process(tmp_path: Path, code: str) -> str:
    """What `code` prints in a new Python process started from the repository (a start-up
    measured in this one would see what earlier tests imported)."""
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.sqlite3")}
    env["LTI_TOOL_INSTANCE_PATH"] = str(tmp_path / "instance")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_up_leaves_the_lti_and_http_libraries_for_the_first_request_that_needs_them(
    tmp_path: Path,
) -> None:
    """create_app() (development config, dev platform on) imports no pylti1p3, jwt, requests or
    cryptography: every `flask` command and worker start would pay for them (~140 ms)."""
    lazy = ("pylti1p3", "jwt", "requests", "cryptography", "jwcrypto", "urllib3")
    probe = (
        "import lti_tool, sys; app = lti_tool.create_app('development'); "
        "print(app.config['DEV_PLATFORM_ENABLED'], "
        f"sorted(m for m in {lazy!r} if m in sys.modules))"
    )
    assert _fresh_process(tmp_path, probe) == "True []"


def test_create_app_freezes_its_objects_outside_tests_and_collects_again_after(
    tmp_path: Path,
) -> None:
    """Outside tests the objects of start-up (about 90,000) are frozen (no collection at exit
    walks them) and collection is on again; under test nothing is frozen."""
    import gc

    probe = (
        "import gc, lti_tool; before = gc.get_freeze_count(); "
        "lti_tool.create_app('development'); "
        "print(before, gc.get_freeze_count() > 50_000, gc.isenabled())"
    )
    assert _fresh_process(tmp_path, probe) == "0 True True"
    frozen = gc.get_freeze_count()
    create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    # Nothing newly frozen (some 90,000 objects would be). An app of another configuration
    # made earlier in this process froze its objects, and frozen objects that die leave the
    # frozen set (CPython): the count may drop by a few (CI at 77b84f4: by 2).
    assert gc.get_freeze_count() <= frozen and gc.isenabled()


def test_gunicorn_workers_import_what_start_up_leaves_out_before_the_first_request(
    tmp_path: Path,
) -> None:
    """gunicorn.conf.py's post_worker_init imports pylti1p3 and requests, so a user's first
    launch does not wait for them; pages never load the LMS clients (they queue syncs through
    lti_tool.jobs.queue), so the workers need not either."""
    probe = (
        "import runpy, sys, lti_tool; lti_tool.create_app('development'); "
        "before = 'pylti1p3' in sys.modules; "
        "runpy.run_path('gunicorn.conf.py')['post_worker_init'](None); "
        "print(before, all(m in sys.modules for m in "
        "('pylti1p3', 'requests', 'lti_tool.launch.validation')), "
        "'lti_tool.sync.canvas' in sys.modules)"
    )
    assert _fresh_process(tmp_path, probe) == "False True False"
