"""A stored LMS secret never goes to another host (issue 14, item 1).

Each test attacks as an LMS (or an administrator's slip) would: a changed base URL, a next link to
another server, a plain-http base URL, a log folder outside LOG_FOLDER_ROOTS, a remote error body
meant to be shown on an admin page. "Another host" is another origin: scheme, host and port, so a
second server on 127.0.0.1 with another port is another host, and it must receive nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from lti_tool import platforms
from lti_tool.extensions import db
from lti_tool.jobs import runs
from lti_tool.models import Course, DataSource, Platform, SyncRun
from lti_tool.sync.http import HttpError, JsonClient
from tests.helpers.admin import admin_client, post
from tests.helpers.database import make_app
from tests.helpers.fake_http import ServedFake
from tests.helpers.fake_openedx import (
    CLIENT_ID,
    CLIENT_SECRET,
    COURSE_KEY,
    FakeOpenEdx,
    enrollment,
    grade,
)
from tests.helpers.lms import Canvas, Lms
from tests.helpers.platform import FakePlatform

TOKEN = "7~canvas-token-entered-for-the-first-host"
REMOTE_TEXT = "REMOTE-FREE-TEXT <script>alert(1)</script>"


class Recorder(ServedFake):
    """Another host: records every request (headers and body) and answers `status` with text."""

    def __init__(
        self, status: int = 200, body: str = "{}", content_type: str = "", location: str = ""
    ) -> None:
        self.status, self.body, self.location = status, body, location
        self.content_type = content_type or "application/json"
        self.requests: list[str] = []
        self._server = None
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.requests.append(
                f"{request.method} {request.full_path}\n{request.headers}\n"
                + request.get_data(as_text=True)
            )
        response = Response(self.body, status=self.status, content_type=self.content_type)
        if self.location:
            response.headers["Location"] = self.location + request.path
        return response(environ, start_response)

    def received(self, secret: str) -> bool:
        """Whether any request carried the secret (in a header, the query or the body)."""
        with self._lock:
            return any(secret in r for r in self.requests)


@pytest.fixture
def other_host() -> Iterator[Recorder]:
    server = Recorder().start()
    yield server
    server.stop()


def _platform_id(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(Platform.id)))


def _source(app: Flask, kind: str) -> DataSource:
    with app.app_context():
        source = db.session.scalar(select(DataSource).where(DataSource.kind == kind))
        assert source is not None
        db.session.expunge(source)
        return source


# --- a new base URL clears the stored secret ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "secret", "extra"),
    [("canvas", TOKEN, {}), ("openedx", "openedx-client-secret-1", {"client_id": "c1"})],
)
def test_a_new_base_url_clears_the_secret_and_the_test_sends_it_nowhere(
    app: Flask,
    platform: FakePlatform,
    other_host: Recorder,
    kind: str,
    secret: str,
    extra: dict[str, str],
) -> None:
    client = admin_client(app)
    form = {"platform": str(_platform_id(app)), "kind": kind, **extra}
    added = post(
        client, "/admin/sources", {**form, "location": "https://127.0.0.1:9", "secret": secret}
    )
    assert added.status_code == 303
    source_id = _source(app, kind).id

    # The administrator (or someone with their session) points the source elsewhere.
    moved = post(
        client,
        f"/admin/sources/{source_id}",
        {**extra, "location": other_host.origin, "enabled": "on"},
    )
    assert moved.status_code == 200
    page = moved.get_data(as_text=True)
    assert "was cleared" in page and "again" in page
    stored = _source(app, kind)
    assert stored.location == other_host.origin and stored.secret_encrypted is None

    tested = post(client, f"/admin/sources/{source_id}/test", page="/admin/sources")
    assert tested.status_code == 200
    assert not other_host.received(secret)
    assert _source(app, kind).last_check.startswith("Failed: ")


def test_the_same_base_url_keeps_the_secret(app: Flask, platform: FakePlatform) -> None:
    client = admin_client(app)
    form = {"platform": str(_platform_id(app)), "kind": "canvas", "location": "https://lms.test"}
    assert post(client, "/admin/sources", {**form, "secret": TOKEN}).status_code == 303
    source_id = _source(app, "canvas").id
    kept = post(
        client, f"/admin/sources/{source_id}", {"location": "https://lms.test/", "enabled": "on"}
    )
    assert kept.status_code == 303
    assert _source(app, "canvas").secret_encrypted is not None


def test_the_client_refuses_any_url_off_its_origin(other_host: Recorder) -> None:
    client = JsonClient("http://127.0.0.1:9/api/v1", TOKEN, retry_delays=())
    with pytest.raises(HttpError, match="refused to send the token"):
        client.get(other_host.origin + "/api/v1/users/self")
    with pytest.raises(HttpError, match="refused to send the token"):
        client.get("https://127.0.0.1:9/api/v1/users/self")  # another scheme
    assert other_host.requests == []


# --- next links stay on the source's origin -------------------------------------------------------


def _failed(run: SyncRun) -> str:
    assert run.status == "failed", run.error
    return str(run.error)


def test_a_canvas_next_link_to_another_host_fails_the_run(
    app: Flask, client: FlaskClient, tmp_path: Path, other_host: Recorder
) -> None:
    app.config["SYNC_RETRY_DELAYS"] = "0,0"
    lms = Canvas(app, client, tmp_path)
    try:
        lms.fake.next_origin = other_host.origin
        error = _failed(lms.sync())
    finally:
        lms.fake.stop()
    assert "refused to send the token" in error and other_host.origin in error
    assert other_host.requests == [] and not other_host.received(lms.fake.token)


def test_an_openedx_next_link_to_another_host_fails_the_run(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path, other_host: Recorder
) -> None:
    app.config["SYNC_RETRY_DELAYS"] = "0,0"
    fake = FakeOpenEdx(
        page_size=1,
        enrollments=[enrollment(u) for u in ("ada", "bob", "carol")],
        grades=[grade("ada", 0.5), grade("bob", 0.2)],
        next_origin=other_host.origin,
    ).start()
    try:
        with app.app_context():
            db.session.add(
                Course(
                    platform_id=db.session.scalar(select(Platform.id)),
                    lti_context_id=COURSE_KEY,
                    lms_course_id=COURSE_KEY,
                    title="Demo",
                )
            )
            db.session.commit()
        secret = tmp_path / "secret"
        secret.write_text(CLIENT_SECRET + "\n")
        result = runner.invoke(
            args=[
                "platform",
                "set-openedx",
                "--platform",
                "Example LMS",
                "--base-url",
                fake.origin,
                "--client-id",
                CLIENT_ID,
                "--client-secret-file",
                str(secret),
            ]
        )
        assert result.exit_code == 0, result.output
        with app.app_context():
            course = db.session.scalar(select(Course))
            run = runs.run_now(db.session, course, "openedx")
            error = _failed(run)
    finally:
        fake.stop()
    assert "refused to send the token" in error
    assert other_host.requests == []
    assert not any(other_host.received(t) for t in fake.tokens) and fake.tokens


def test_an_nrps_next_link_to_another_host_fails_the_run(
    app: Flask, client: FlaskClient, other_host: Recorder
) -> None:
    app.config["SYNC_RETRY_DELAYS"] = "0,0"
    lms = Lms(app, client, "Moodle", "client-1")
    try:
        lms.launch()
        lms.nrps.next_origin = other_host.origin
        error = _failed(lms.sync())
    finally:
        lms.nrps.stop()
    assert "refused to send the token" in error and other_host.origin in error
    assert other_host.requests == []
    assert lms.nrps.tokens and not any(other_host.received(t) for t in lms.nrps.tokens)


# --- https only -----------------------------------------------------------------------------------


def test_plain_http_is_refused_except_loopback(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    with app.app_context():
        with pytest.raises(platforms.PlatformError, match="not https"):
            platforms.api_base_url("canvas", "http://canvas.example.edu")
        for loopback in ("http://127.0.0.1:8000", "http://localhost", "http://[::1]:81"):
            assert platforms.api_base_url("canvas", loopback) == loopback
        assert platforms.api_base_url("canvas", "https://canvas.example.edu/api/v1/") == (
            "https://canvas.example.edu"
        )
    token = tmp_path / "token"
    token.write_text(TOKEN)
    result = runner.invoke(
        args=[
            "platform",
            "set-canvas",
            "--platform",
            "Example LMS",
            "--base-url",
            "http://canvas.example.edu",
            "--token-file",
            str(token),
        ]
    )
    assert result.exit_code != 0 and "not https" in result.output
    client = admin_client(app)
    form = {"platform": str(_platform_id(app)), "kind": "openedx", "client_id": "c"}
    refused = post(
        client, "/admin/sources", {**form, "location": "http://lms.example.edu", "secret": "s"}
    )
    assert refused.status_code == 400 and "not https" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(DataSource.id)) is None


def test_allow_http_lms_is_honoured_in_development_only(tmp_path: Path) -> None:
    for env_name, allowed in (("testing", False), ("development", True)):
        (tmp_path / env_name).mkdir()
        app = make_app(tmp_path / env_name, ALLOW_HTTP_LMS=True, ENV_NAME=env_name)
        with app.app_context():
            if allowed:
                assert platforms.api_base_url("canvas", "http://canvas.lan") == "http://canvas.lan"
            else:
                with pytest.raises(platforms.PlatformError, match="ALLOW_HTTP_LMS"):
                    platforms.api_base_url("canvas", "http://canvas.lan")
            db.engine.dispose()


# --- LOG_FOLDER_ROOTS -----------------------------------------------------------------------------


def test_log_folders_only_under_log_folder_roots(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    root, outside = tmp_path / "tracking", tmp_path / "etc"
    (root / "course").mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)  # under the root by name, elsewhere in fact

    # None by default: nothing may be added, and the CLI says how to allow it.
    app.config["LOG_FOLDER_ROOTS"] = ""  # whatever this machine's environment says
    refused = runner.invoke(
        args=["sources", "add-log-folder", "--platform", "Example LMS", str(root)]
    )
    assert refused.exit_code != 0 and "LOG_FOLDER_ROOTS" in refused.output
    assert "LOG_FOLDER_ROOTS=/var/log/tracking" in refused.output

    app.config["LOG_FOLDER_ROOTS"] = f"{tmp_path / 'nowhere'},{root}"
    for bad in (outside, root / "escape"):
        result = runner.invoke(
            args=["sources", "add-log-folder", "--platform", "Example LMS", str(bad)]
        )
        assert result.exit_code != 0 and "not under LOG_FOLDER_ROOTS" in result.output, (
            result.output
        )
    ok = runner.invoke(
        args=["sources", "add-log-folder", "--platform", "Example LMS", str(root / "course")]
    )
    assert ok.exit_code == 0, ok.output

    client = admin_client(app)
    page = client.get("/admin/sources").get_data(as_text=True)
    assert "LOG_FOLDER_ROOTS" in page and str(root) in page
    form = {"platform": str(_platform_id(app)), "kind": "log_folder"}
    added = post(client, "/admin/sources", {**form, "location": str(outside)})
    assert added.status_code == 400 and "not under LOG_FOLDER_ROOTS" in added.get_data(as_text=True)
    source_id = _source(app, "log_folder").id
    moved = post(
        client, f"/admin/sources/{source_id}", {"location": str(root / "escape"), "enabled": "on"}
    )
    assert moved.status_code == 400 and "not under LOG_FOLDER_ROOTS" in moved.get_data(as_text=True)
    assert _source(app, "log_folder").location == str((root / "course").resolve())


# --- no remote body on admin pages ----------------------------------------------------------------


def test_a_failed_connection_test_shows_the_status_not_the_remote_body(
    app: Flask, platform: FakePlatform
) -> None:
    lms = Recorder(status=418, body=REMOTE_TEXT, content_type="text/html").start()
    try:
        client = admin_client(app)
        form = {"platform": str(_platform_id(app)), "kind": "canvas", "location": lms.origin}
        assert post(client, "/admin/sources", {**form, "secret": TOKEN}).status_code == 303
        source_id = _source(app, "canvas").id
        page = post(client, f"/admin/sources/{source_id}/test", page="/admin/sources")
    finally:
        lms.stop()
    check = _source(app, "canvas").last_check
    assert "HTTP 418" in check and "REMOTE-FREE-TEXT" not in check
    assert "REMOTE-FREE-TEXT" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("error", "shown"),
    [("invalid_client", "invalid_client"), ("Your REMOTE-FREE-TEXT here <b>", "HTTP 401")],
)
def test_a_refused_openedx_sign_in_keeps_the_error_code_only(
    app: Flask, platform: FakePlatform, error: str, shown: str
) -> None:
    body = json.dumps({"error": error, "error_description": "REMOTE-FREE-TEXT"})
    lms = Recorder(status=401, body=body).start()
    try:
        client = admin_client(app)
        form = {"platform": str(_platform_id(app)), "kind": "openedx", "client_id": "c"}
        added = post(client, "/admin/sources", {**form, "location": lms.origin, "secret": "s"})
        assert added.status_code == 303
        post(client, f"/admin/sources/{_source(app, 'openedx').id}/test", page="/admin/sources")
    finally:
        lms.stop()
    check = _source(app, "openedx").last_check
    assert shown in check and "REMOTE-FREE-TEXT" not in check


def test_the_openedx_sign_in_follows_no_redirect_with_the_secret(
    app: Flask, platform: FakePlatform, other_host: Recorder
) -> None:
    # 307 keeps the method and body: following it would post the client secret elsewhere.
    lms = Recorder(status=307, body="", location=other_host.origin).start()
    try:
        client = admin_client(app)
        form = {"platform": str(_platform_id(app)), "kind": "openedx", "client_id": "c"}
        secret = "openedx-secret-for-this-host-only"
        added = post(client, "/admin/sources", {**form, "location": lms.origin, "secret": secret})
        assert added.status_code == 303
        post(client, f"/admin/sources/{_source(app, 'openedx').id}/test", page="/admin/sources")
    finally:
        lms.stop()
    assert lms.received(secret) and not other_host.received(secret)
    assert _source(app, "openedx").last_check.startswith("Failed: HTTP 307")
