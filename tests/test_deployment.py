"""Production as real processes: PostgreSQL, `flask db upgrade`, gunicorn with two workers.

Runs in the PostgreSQL pass (TEST_DATABASE_URL); it creates and drops a database of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.lti_platform import LEARNER, FakePlatform

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tool.test"}


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the deployment, dropped afterwards."""
    name = "lti_deploy_" + uuid.uuid4().hex[:8]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cookies_of(response: requests.Response) -> dict[str, str]:
    """Secure cookies by hand: requests would not send them back over plain http."""
    jar = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        jar[name] = rest.split(";", 1)[0]
    return jar


def test_gunicorn_two_workers_on_postgresql_launch_events_and_page(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FLASK_APP": "lti_tool",
        "LTI_TOOL_CONFIG": "production",
        "DATABASE_URL": database,
        "SECRET_KEY": "deployment-test-secret",
        "TOOL_BASE_URL": "https://tool.test",
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    lms = FakePlatform()
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [lms.jwk]}))
    added = flask(
        env,
        "platform",
        "add",
        "--name",
        lms.name,
        "--issuer",
        lms.issuer,
        "--client-id",
        lms.client_id,
        "--auth-login-url",
        lms.auth_url,
        "--auth-token-url",
        lms.issuer + "/token",
        "--jwks-file",
        str(keys),
        "--deployment-id",
        lms.deployment_id,
        "--frame-origin",
        lms.issuer,
    )
    assert added.returncode == 0, added.stderr
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
        else:
            raise AssertionError((tmp_path / "gunicorn.log").read_text())

        # The OIDC login and the launch, each answered by whichever worker gets it.
        login = requests.post(
            base + "/lti/login",
            headers=PROXY,
            allow_redirects=False,
            data={
                "iss": lms.issuer,
                "login_hint": "s1",
                "client_id": lms.client_id,
                "target_link_uri": "https://tool.test/lti/launch",
            },
        )
        assert login.status_code == 302, login.text
        auth = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
        assert auth["redirect_uri"] == "https://tool.test/lti/launch"
        body = lms.claims(auth["nonce"], roles=LEARNER, sub="s1")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies_of(login).items())
        launch = requests.post(
            base + "/lti/launch",
            headers={**PROXY, "Cookie": cookie},
            data={"id_token": lms.sign(body), "state": auth["state"]},
            allow_redirects=False,
        )
        assert launch.status_code == 303, launch.text
        me = launch.headers["Location"]
        assert me.startswith("/courses/1/me?t=")

        # Events through the API, then the page, on the multi-worker server.
        token = flask(
            env, "tokens", "create", "--name", "lab", "--scope", "events:write", "--course", "1"
        ).stdout.strip()
        sent = requests.post(
            base + "/api/v1/events",
            headers={"Authorization": f"Bearer {token}"},
            json=[
                {
                    "user": "lab-7",
                    "t": 1767261600000 + i * 60000,
                    "type": "log",
                    "exp": "titration",
                    "payload": {},
                }
                for i in range(3)
            ],
        )
        assert sent.status_code == 200 and sent.json()["stored"] == 3, sent.text
        page = requests.get(base + me, headers=PROXY)
        assert page.status_code == 200 and "My progress" in page.text
        staff_only = requests.get(base + me.replace("/me?", "/?"), headers=PROXY)
        assert staff_only.status_code == 403
        workers = {requests.get(base + "/healthz").headers.get("X-Request-ID") for _ in range(4)}
        assert len(workers) == 4  # every response carries its own request id
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    output = (tmp_path / "gunicorn.log").read_text()
    assert "Booting worker" in output and output.count("Booting worker") >= 2
    assert '"GET /courses/1/me" 200' in output  # access log: the path without its query
    assert "?t=" not in output and "id_token" not in output
