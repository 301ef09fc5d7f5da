"""Login throttling across web workers: gunicorn with two workers as a real process.

The failed attempts are spread over both workers (the access log names the worker's pid), and
the sixth is refused whichever worker gets it: the count lives in the database. Runs on
PostgreSQL (a database of its own) when TEST_DATABASE_URL is set, else on a SQLite file.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import requests

from tests.helpers.database import PG_URL
from tests.helpers.processes import flask, free_port, production_env, start_gunicorn, wait_ready

PASSWORD = "a long admin password for gunicorn"
EMAIL = "root@example.edu"


def attempt(base: str, password: str) -> requests.Response:
    """One sign-in as a browser makes it: the login page (cookie, CSRF token), then the post."""
    browser = requests.Session()
    page = browser.get(base + "/admin/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return browser.post(
        base + "/admin/login",
        data={"csrf_token": token, "email": EMAIL, "password": password},
        allow_redirects=False,
        timeout=30,
    )


def together(base: str, passwords: list[str]) -> list[requests.Response]:
    """Several sign-ins at the same moment, so that both workers take some."""
    results: list[requests.Response | None] = [None] * len(passwords)
    start = threading.Barrier(len(passwords))

    def run(i: int) -> None:
        start.wait()
        results[i] = attempt(base, passwords[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(passwords))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def test_login_throttle_holds_across_two_gunicorn_workers(database: str, tmp_path: Path) -> None:
    port = free_port()
    env = production_env(
        database,
        tmp_path,
        SECRET_KEY="admin-gunicorn-test-secret",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        LOG_JSON="1",
    )
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    created = flask(env, "admin", "create", EMAIL, "--password-file", str(secret))
    assert created.returncode == 0, created.stderr
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    # The worker's pid in each access line shows which worker answered.
    server = start_gunicorn(env, log, ["--access-logformat", '%(p)s "%(m)s %(U)s" %(s)s'])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, log_path)
        wrong = "wrong password, try again"
        failures = together(base, [wrong, wrong]) + together(base, [wrong, wrong])
        assert [r.status_code for r in failures] == [401] * 4
        # Two attempts at once at the limit: on PostgreSQL an advisory lock lets exactly one
        # be the fifth failure (SQLite has no such lock: both may pass).
        at_limit = sorted(r.status_code for r in together(base, [wrong, wrong]))
        assert at_limit == [401, 429] if PG_URL else at_limit in ([401, 429], [401, 401])
        refused = together(base, [wrong, wrong, PASSWORD, PASSWORD])
        assert [r.status_code for r in refused] == [429] * 4
        assert all(0 < int(r.headers["Retry-After"]) <= 900 for r in refused)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    output = log_path.read_text()
    workers_401 = set(re.findall(r'^<(\d+)> "POST /admin/login" 401', output, re.M))
    workers_429 = set(re.findall(r'^<(\d+)> "POST /admin/login" 429', output, re.M))
    assert output.count("Booting worker") >= 2
    # Both workers saw some of the five failures: neither alone reached the limit.
    assert len(workers_401) == 2, output
    assert workers_429, output
    assert PASSWORD not in output and wrong not in output
