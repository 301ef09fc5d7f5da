"""Admin sign-in hardening: forwarded addresses only from the proxy, a per-account limit that a
stranger cannot use to lock an administrator out, sign-out that ends the session on the server,
and common passwords refused. Each test attacks as described (and failed on the code before)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.admin.auth import PasswordRefused, hash_password, is_common_password
from lti_tool.extensions import db
from lti_tool.models import AdminAudit, AdminLoginAttempt
from lti_tool.proxy import TrustedProxyFix
from tests.helpers.admin import PASSWORD, ROOT, add_admin, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.processes import flask, free_port, production_env, start_gunicorn, wait_ready


def client_from(app: Flask, address: str) -> FlaskClient:
    """A browser connecting from `address` (the REMOTE_ADDR the server sees)."""
    client = https_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def spoofed(client: FlaskClient) -> None:
    """Every request of this client claims a new X-Forwarded-For address."""
    client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{secrets.randbelow(250) + 1}"


# --- the client address -----------------------------------------------------------------------


def test_forwarded_for_from_a_stranger_gives_no_fresh_per_address_budget(app: Flask) -> None:
    app.config["ADMIN_LOGIN_MAX_FAILURES_PER_IP"] = 6
    add_admin(app)
    attacker = client_from(app, "203.0.113.9")  # straight to the web port, not the proxy
    for n in range(6):
        spoofed(attacker)
        assert sign_in(attacker, f"guess{n}@example.edu").status_code == 401
    spoofed(attacker)
    assert sign_in(attacker, "guess9@example.edu").status_code == 429
    with app.app_context():
        keys = set(db.session.scalars(select(AdminLoginAttempt.key)))
    assert "ip:203.0.113.9" in keys
    assert not any("198.51.100." in key for key in keys)


def test_forwarded_for_is_believed_from_the_proxy_only(app: Flask) -> None:
    add_admin(app)
    proxy = client_from(app, "127.0.0.1")  # the default FORWARDED_ALLOW_IPS
    proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.44"
    assert sign_in(proxy).status_code == 303
    with app.app_context():
        audit = db.session.scalars(select(AdminAudit).where(AdminAudit.action == "sign_in")).one()
        assert audit.remote_addr == "192.0.2.44"
        keys = set(db.session.scalars(select(AdminLoginAttempt.key)))
    assert "ip:192.0.2.44" in keys


def test_trusted_proxy_setting() -> None:
    def inner(environ: dict[str, str], start_response: object) -> list[bytes]:
        return [environ["REMOTE_ADDR"].encode()]

    def addr(fix: TrustedProxyFix, remote: str) -> bytes:
        environ = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": "192.0.2.1"}
        return b"".join(fix(environ, lambda *a: None))

    networks = TrustedProxyFix(inner, hops=1, allow="10.0.0.0/8, ::1")
    assert addr(networks, "10.1.2.3") == b"192.0.2.1"
    assert addr(networks, "::1") == b"192.0.2.1"
    assert addr(networks, "203.0.113.9") == b"203.0.113.9"
    assert addr(networks, "") == b"192.0.2.1"  # a Unix socket, as gunicorn trusts it
    assert addr(TrustedProxyFix(inner, hops=1, allow="*"), "203.0.113.9") == b"192.0.2.1"
    with pytest.raises(ValueError):
        TrustedProxyFix(inner, hops=1, allow="not-an-address")


def test_compose_trusts_only_its_proxy_and_publishes_on_loopback() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    allow = str(web["environment"]["FORWARDED_ALLOW_IPS"])
    assert "*" not in allow
    assert all(str(port).startswith("127.0.0.1:") for port in web["ports"])
    gateway = compose["networks"]["default"]["ipam"]["config"][0]["gateway"]
    assert gateway.rsplit("-", 1)[-1].rstrip("}") in allow  # the host's proxy, as the web sees it


# --- the per-account limit --------------------------------------------------------------------


def test_a_stranger_cannot_lock_an_administrator_out(app: Flask) -> None:
    add_admin(app)
    stranger = client_from(app, "203.0.113.9")
    for _ in range(5):
        assert sign_in(stranger, ROOT, "wrong password!").status_code == 401
    assert sign_in(stranger, ROOT).status_code == 429  # the stranger's address is blocked...
    owner = client_from(app, "192.0.2.10")
    assert sign_in(owner, ROOT).status_code == 303  # ...the administrator's is not


def test_many_addresses_against_one_account_meet_the_ceiling(app: Flask) -> None:
    app.config["ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 8
    add_admin(app)
    for n in range(8):
        bot = client_from(app, f"203.0.113.{n + 1}")
        assert sign_in(bot, ROOT, "wrong password!").status_code == 401
    assert sign_in(client_from(app, "192.0.2.10"), ROOT).status_code == 429


# --- sign-out ends the session on the server ---------------------------------------------------


def test_sign_out_ends_a_copied_session_cookie(app: Flask) -> None:
    add_admin(app)
    browser = https_client(app)
    assert sign_in(browser).status_code == 303
    cookie = browser.get_cookie("lti_tool_admin", domain="tool.test", path="/admin")
    assert cookie is not None
    thief = https_client(app)
    thief.set_cookie("lti_tool_admin", cookie.value, domain="tool.test", path="/admin")
    other_browser = https_client(app)
    assert sign_in(other_browser).status_code == 303
    assert thief.get("/admin/").status_code == 200
    assert post(browser, "/admin/logout").status_code == 303
    assert thief.get("/admin/").status_code == 303  # the copy is over
    assert other_browser.get("/admin/").status_code == 303  # and every other browser's
    assert browser.get("/admin/").status_code == 303
    # Signing in again works, and gives a session the next sign-out ends in turn.
    assert sign_in(browser).status_code == 303
    assert browser.get("/admin/").status_code == 200
    with app.app_context():
        actions = db.session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)).all()
    assert actions.count("sign_out") == 1


# --- common passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["qwertyuiop123", "1qaz2wsx3edc", "PASSWORD1234", "Password2024!!!", "iloveyou1234"]
)
def test_common_passwords_refused(password: str) -> None:
    assert is_common_password(password)
    with pytest.raises(PasswordRefused, match="common passwords"):
        hash_password(password)


def test_uncommon_passwords_accepted() -> None:
    assert not is_common_password(PASSWORD)
    assert hash_password("x7#kq!Zr2p9L pine ladder").startswith("scrypt:")


def test_cli_refuses_a_common_password(runner: FlaskCliRunner, tmp_path: Path) -> None:
    common = tmp_path / "pw"
    common.write_text("Qwertyuiop123\n")
    result = runner.invoke(
        args=["admin", "create", "weak@example.edu", "--password-file", str(common)]
    )
    assert result.exit_code == 1 and "common passwords" in result.output


def test_gunicorn_forged_forwarded_for_gets_no_fresh_budget(
    database: str,
    tmp_path: Path,
) -> None:
    """Through gunicorn as deployed: a client that is not the proxy (FORWARDED_ALLOW_IPS names
    another address) forges X-Forwarded-For on every attempt and is still counted as itself."""
    port = free_port()
    env = production_env(
        database,
        tmp_path,
        SECRET_KEY="admin-hardening-test-secret",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        FORWARDED_ALLOW_IPS="192.0.2.250",  # the proxy; the test client is not it
        ADMIN_LOGIN_MAX_FAILURES_PER_IP="3",
    )
    assert flask(env, "db", "upgrade").returncode == 0
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    server = start_gunicorn(env, log, [])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, log_path)
        codes = []
        for n in range(4):
            browser = requests.Session()
            browser.headers["X-Forwarded-For"] = f"198.51.100.{n + 1}"
            page = browser.get(base + "/admin/login", timeout=30)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            answer = browser.post(
                base + "/admin/login",
                data={"csrf_token": token, "email": f"g{n}@example.edu", "password": "x" * 12},
                allow_redirects=False,
                timeout=30,
            )
            codes.append(answer.status_code)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    assert codes == [401, 401, 401, 429], log_path.read_text()
