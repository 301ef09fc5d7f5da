"""Production as real processes: PostgreSQL, `flask db upgrade`, gunicorn with two workers and
`flask scheduler run`: a launch, a sync and a page go through them; then two gunicorn servers
(two hosts' worth) and the scheduler on one database.

Runs in the PostgreSQL pass (TEST_DATABASE_URL); it creates and drops a database of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers.database import PG_URL
from tests.helpers.fake_nrps import ROSTER, FakeNrps
from tests.helpers.platform import LEARNER, FakePlatform
from tests.helpers.processes import (
    ROOT,
    flask,
    free_port,
    production_env,
    start_gunicorn,
    wait_ready,
)

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "tool.test"}


def cookies_of(response: requests.Response) -> dict[str, str]:
    """Secure cookies by hand: requests would not send them back over plain http."""
    jar = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        jar[name] = rest.split(";", 1)[0]
    return jar


def nrps_claim(roster: FakeNrps) -> dict[str, object]:
    """The Names and Role Provisioning claim pointing at the fake roster service."""
    return {
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": roster.memberships_url,
            "service_versions": ["2.0"],
        }
    }


def launch(base: str, lms: FakePlatform, sub: str, roles: list[str] | None, **extra: object) -> str:
    """The OIDC login and the launch through the server; returns where the launch redirects."""
    return launch_across(base, base, lms, sub, roles, extra)


def launch_across(
    base: str,
    at: str,
    lms: FakePlatform,
    sub: str,
    roles: list[str] | None,
    extra: dict[str, object] | None = None,
) -> str:
    """The OIDC login through `base` and the launch through `at` (another server, or the
    same); returns where the launch redirects."""
    login = requests.post(
        base + "/lti/login",
        headers=PROXY,
        allow_redirects=False,
        data={
            "iss": lms.issuer,
            "login_hint": sub,
            "client_id": lms.client_id,
            "target_link_uri": "https://tool.test/lti/launch",
        },
    )
    assert login.status_code == 302, login.text
    auth = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["Location"]).query).items()}
    assert auth["redirect_uri"] == "https://tool.test/lti/launch"
    body = lms.claims(auth["nonce"], roles=roles, sub=sub, **(extra or {}))
    cookie = "; ".join(f"{k}={v}" for k, v in cookies_of(login).items())
    response = requests.post(
        at + "/lti/launch",
        headers={**PROXY, "Cookie": cookie},
        data={"id_token": lms.sign(body), "state": auth["state"]},
        allow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def wait_for_run(database: str, timeout: float = 60.0) -> dict[str, object]:
    """The first sync run once it has finished (the scheduler picks queued runs up)."""
    engine = create_engine(database)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                row = conn.execute(
                    text("select status, error from sync_run order by id limit 1")
                ).first()
            if row is not None and row.status in ("succeeded", "failed"):
                return {"status": row.status, "error": row.error}
            time.sleep(0.25)
    finally:
        engine.dispose()
    raise AssertionError(f"no finished sync run within {timeout} s")


def migrate_and_register(env: dict[str, str], lms: FakePlatform, tmp_path: Path) -> None:
    """`flask db upgrade` and `flask platform add` for the LMS, as an operator would."""
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
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


def start_scheduler(env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    """`flask scheduler run` as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "scheduler", "run"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_gunicorn_two_workers_and_the_scheduler_on_postgresql(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = production_env(
        database,
        tmp_path,
        SECRET_KEY="deployment-test-secret",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        SCHEDULER_QUEUE_SECONDS="1",
        SCHEDULER_SHUTDOWN_SECONDS="10",
        SYNC_RETRY_DELAYS="0.1",
    )
    # The LMS: its roster service (and token endpoint) served for real on 127.0.0.1.
    roster = FakeNrps(client_id="client-1", members=[dict(m) for m in ROSTER]).start()
    lms = FakePlatform(issuer=roster.origin)
    migrate_and_register(env, lms, tmp_path)
    log = (tmp_path / "gunicorn.log").open("w")
    server = start_gunicorn(env, log)
    scheduler_log = (tmp_path / "scheduler.log").open("w")
    scheduler = start_scheduler(env, scheduler_log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, tmp_path / "gunicorn.log")

        # The OIDC login and the launch, each answered by whichever worker gets it.
        me = launch(base, lms, sub="s1", roles=LEARNER)
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

        # An instructor launches, clicks "Sync now"; the scheduler process runs the queued sync.
        roster.tool_jwks = requests.get(base + "/lti/jwks").json()
        overview = launch(base, lms, sub="user-1", roles=None, **nrps_claim(roster))
        assert overview.startswith("/courses/1/?t=")
        token = parse_qs(urlsplit(overview).query)["t"][0]
        queued = requests.post(
            base + "/courses/1/sync", headers=PROXY, data={"t": token}, allow_redirects=False
        )
        assert queued.status_code == 303, queued.text
        run = wait_for_run(database)
        assert run["status"] == "succeeded", (run, (tmp_path / "scheduler.log").read_text())
        assert roster.count("GET /mod/lti/services.php") >= 1
        page = requests.get(base + overview, headers=PROXY)
        assert page.status_code == 200 and "not synced yet" not in page.text
        engine = create_engine(database)
        with engine.connect() as conn:
            enrolled = conn.execute(text("select count(*) from enrollment")).scalar_one()
        engine.dispose()
        assert enrolled == len(ROSTER) + 1  # the roster, and the learner who launched first
    finally:
        scheduler.terminate()  # SIGTERM: a clean stop
        scheduler_code = scheduler.wait(timeout=30)
        scheduler_log.close()
        server.terminate()
        server.wait(timeout=20)
        log.close()
        roster.stop()
    assert scheduler_code == 0, (tmp_path / "scheduler.log").read_text()
    assert "stopped" in (tmp_path / "scheduler.log").read_text()
    output = (tmp_path / "gunicorn.log").read_text()
    assert "Booting worker" in output and output.count("Booting worker") >= 2
    assert '"GET /courses/1/me" 200' in output  # access log: the path without its query
    assert "?t=" not in output and "id_token" not in output


def learners_shown(base: str, overview: str) -> tuple[int, str]:
    """The learners table's count of the class as one server shows it, and the page."""
    page = requests.get(base + overview.replace("/?t=", "/learners?t="), headers=PROXY)
    assert page.status_code == 200, page.text
    found = re.search(r"(\d+) learners? \(staff", page.text)
    assert found is not None, page.text
    return int(found.group(1)), page.text


def summary_written(database: str, since: datetime | None, timeout: float = 30.0) -> str:
    """Wait until no summary is marked stale any more and, with `since`, a refresh-summaries
    slot claimed after it refreshed something; that slot's outcome."""
    engine = create_engine(database)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                outcome = conn.execute(
                    text(
                        "select outcome from job_slot where job = 'refresh-summaries' "
                        "and claimed_at > :since and outcome like 'refreshed%' "
                        "order by claimed_at limit 1"
                    ),
                    {"since": since or datetime.now(UTC)},
                ).scalar()
                stale = conn.execute(
                    text("select count(*) from learner_summary_state where stale_at is not null")
                ).scalar_one()
            if not stale and (since is None or outcome is not None):
                return str(outcome)
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"the summaries were not written within {timeout} s")


def test_two_web_servers_and_one_scheduler_share_one_postgresql(
    database: str, tmp_path: Path
) -> None:
    """Two gunicorn processes on ports of their own, as two hosts would run them, and one
    scheduler, all on one database: a login on one server and its launch on the other; the
    session token opens pages on both; an event batch through one server, and the learners
    table on the other shows its new learner once the scheduler's job wrote the summary."""
    env = production_env(
        database,
        tmp_path,
        SECRET_KEY="two-hosts-test-secret",
        HOST="127.0.0.1",
        WEB_CONCURRENCY="1",
        SUMMARY_REFRESH_SECONDS="1",
        SCHEDULER_SHUTDOWN_SECONDS="10",
    )
    lms = FakePlatform()
    migrate_and_register(env, lms, tmp_path)
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    logs = [(tmp_path / f"gunicorn-{n}.log").open("w") for n in (1, 2)]
    servers = [
        start_gunicorn({**env, "PORT": str(port)}, log)
        for port, log in zip(ports, logs, strict=True)
    ]
    scheduler_log = (tmp_path / "scheduler.log").open("w")
    scheduler = start_scheduler(env, scheduler_log)
    one, two = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        wait_ready(one, tmp_path / "gunicorn-1.log")
        wait_ready(two, tmp_path / "gunicorn-2.log")

        # Login on one server, launch on the other: the OIDC state is in the database, and
        # the session token each launch gives is signed with the SECRET_KEY both share.
        me = launch_across(one, two, lms, "s1", LEARNER)
        overview = launch_across(two, one, lms, "staff-1", None)
        assert me.startswith("/courses/1/me?t=") and overview.startswith("/courses/1/?t=")
        for base in (one, two):
            assert requests.get(base + me, headers=PROXY).status_code == 200
            assert requests.get(base + overview, headers=PROXY).status_code == 200
            assert requests.get(base + me.replace("/me?", "/?"), headers=PROXY).status_code == 403

        # The launches marked the summary stale (the pages above or the scheduler wrote it);
        # then a batch through server one marks it again, and nothing but the scheduler reads
        # the course until it is written.
        summary_written(database, None)
        assert learners_shown(two, overview)[0] == 1
        token = flask(
            env, "tokens", "create", "--name", "lab", "--scope", "events:write", "--course", "1"
        ).stdout.strip()
        before = datetime.now(UTC)
        sent = requests.post(
            one + "/api/v1/events",
            headers={"Authorization": f"Bearer {token}"},
            json=[{"user": "lab-new", "t": 1767261600000, "type": "log", "exp": "titration"}],
        )
        assert sent.status_code == 200 and sent.json()["stored"] == 1, sent.text
        assert summary_written(database, before) == "refreshed the learner summaries of 1 courses"
        for base in (two, one):
            count, page = learners_shown(base, overview)
            assert count == 2, page
    finally:
        scheduler.terminate()
        scheduler_code = scheduler.wait(timeout=30)
        scheduler_log.close()
        for server in servers:
            server.terminate()
        for server, log in zip(servers, logs, strict=True):
            server.wait(timeout=20)
            log.close()
    assert scheduler_code == 0, (tmp_path / "scheduler.log").read_text()
    for n in (1, 2):
        assert '"GET /courses/1/learners" 200' in (tmp_path / f"gunicorn-{n}.log").read_text()
