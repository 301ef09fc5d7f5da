"""The admin area: administrators, login, CSRF, throttling, pages, and who may see what."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import MetaData, select, update

from lti_tool.extensions import db
from lti_tool.models import (
    AdminLoginAttempt,
    AdminUser,
    ApiToken,
    LtiDeployment,
    LtiRegistration,
    ToolKey,
)
from lti_tool.models.types import utcnow
from tests.helpers.admin import (
    PASSWORD,
    ROOT,
    add_admin,
    csrf_of,
    deployment_row,
    estate,
    post,
    sign_in,
)
from tests.helpers.client import https_client
from tests.helpers.platform import LEARNER, FakePlatform

# --- administrators on the command line ----------------------------------------------------------


def test_admin_create_list_disable(
    app: Flask, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    made = runner.invoke(
        args=["admin", "create", "Root@Example.edu", "--password-file", str(secret)]
    )
    assert made.exit_code == 0, made.output
    scoped = runner.invoke(
        args=[
            "admin",
            "create",
            "dep@example.edu",
            "--password-file",
            str(secret),
            "--deployment",
            platform.deployment_id,
        ]
    )
    assert scoped.exit_code == 0, scoped.output
    typed = runner.invoke(
        args=["admin", "create", "typed@example.edu"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert typed.exit_code == 0, typed.output
    again = runner.invoke(
        args=["admin", "create", "root@example.edu", "--password-file", str(secret)]
    )
    assert again.exit_code == 1 and "exists" in again.output
    short = tmp_path / "short"
    short.write_text("hunter2")
    weak = runner.invoke(
        args=["admin", "create", "weak@example.edu", "--password-file", str(short)]
    )
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    nowhere = runner.invoke(
        args=[
            "admin",
            "create",
            "x@example.edu",
            "--password-file",
            str(secret),
            "--deployment",
            "9",
        ]
    )
    assert nowhere.exit_code == 1 and "no deployment '9'" in nowhere.output
    bad = runner.invoke(args=["admin", "create", "not-an-address", "--password-file", str(secret)])
    assert bad.exit_code == 2 and "is not an e-mail address" in bad.output

    listed = json.loads(runner.invoke(args=["admin", "list", "--json"]).output)
    assert [a["email"] for a in listed] == [
        "root@example.edu",
        "dep@example.edu",
        "typed@example.edu",
    ]
    assert listed[0]["deployment"] is None
    assert listed[1]["deployment"]["deployment_id"] == platform.deployment_id
    with app.app_context():
        hashes = list(db.session.scalars(select(AdminUser.password_hash)))
    assert all(h.startswith("scrypt:") and PASSWORD not in h for h in hashes)

    client = https_client(app)
    assert sign_in(client).status_code == 303
    assert runner.invoke(args=["admin", "disable", "root@example.edu"]).exit_code == 0
    # Signed out at the next request, and cannot sign in again.
    assert client.get("/admin/").status_code == 303
    assert sign_in(https_client(app)).status_code == 401


# --- login, CSRF, throttling ---------------------------------------------------------------------


def test_login_session_and_strict_headers(app: Flask, client: FlaskClient) -> None:
    add_admin(app)
    anonymous = client.get("/admin/platforms")
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/admin/login?next=/admin/platforms")
    login = sign_in(client)
    assert login.status_code == 303 and login.headers["Location"] == "/admin/"
    cookie = login.headers["Set-Cookie"]
    assert "lti_tool_admin=" in cookie and "Path=/admin" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Secure" in cookie
    page = client.get("/admin/")
    assert page.status_code == 200 and "You administer the whole tool" in page.get_data(
        as_text=True
    )
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    # Going back to the login page while signed in leads to the dashboard; ?next stays inside.
    assert client.get("/admin/login").status_code == 303
    outside = sign_in(https_client(app)).headers["Location"]
    assert outside == "/admin/"
    fresh = https_client(app)
    token = csrf_of(fresh.get("/admin/login?next=//evil.example/x").get_data(as_text=True))
    went = fresh.post(
        "/admin/login",
        data={"csrf_token": token, "email": ROOT, "password": PASSWORD, "next": "//evil.example"},
    )
    assert went.headers["Location"] == "/admin/"
    # Sign out: the session's pages are closed again.
    assert post(client, "/admin/logout").status_code == 303
    assert client.get("/admin/").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(AdminUser.last_login_at)) is not None


def test_csrf_token_required_on_every_admin_form(app: Flask, client: FlaskClient) -> None:
    add_admin(app)
    client.get("/admin/login")
    no_token = client.post("/admin/login", data={"email": ROOT, "password": PASSWORD})
    assert no_token.status_code == 400
    assert "security token" in no_token.get_data(as_text=True)
    assert client.get("/admin/").status_code == 303  # not signed in
    assert sign_in(client).status_code == 303
    with app.app_context():
        keys_before = db.session.query(ToolKey).count()
    for url in ("/admin/keys/rotate", "/admin/tokens", "/admin/logout", "/admin/platforms/new"):
        refused = client.post(url, data={"name": "x", "scope": "events:write"})
        assert refused.status_code == 400, url
        assert "Nothing was changed" in refused.get_data(as_text=True)
        wrong = client.post(url, data={"csrf_token": "forged", "name": "x"})
        assert wrong.status_code == 400, url
    # Another session's token is not this session's.
    other = https_client(app)
    other_token = csrf_of(other.get("/admin/login").get_data(as_text=True))
    assert client.post("/admin/keys/rotate", data={"csrf_token": other_token}).status_code == 400
    with app.app_context():
        assert db.session.query(ToolKey).count() == keys_before
        assert db.session.query(ApiToken).count() == 0
    assert client.get("/admin/").status_code == 200  # still signed in: nothing was changed
    assert post(client, "/admin/keys/rotate", page="/admin/keys").status_code == 303


def test_login_throttled_per_email_then_free_after_the_window(
    app: Flask, client: FlaskClient
) -> None:
    add_admin(app)
    for _ in range(5):
        assert sign_in(client, password="wrong password!").status_code == 401
    blocked = sign_in(client)  # even the right password
    assert blocked.status_code == 429
    assert 800 < int(blocked.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)
    # Another address from the same client is not blocked by this one's failures.
    add_admin(app, "other@example.edu")
    assert sign_in(https_client(app), "other@example.edu").status_code == 303
    with app.app_context():
        db.session.execute(update(AdminLoginAttempt).values(at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    assert sign_in(client).status_code == 303


def test_login_throttled_per_client_address(app: Flask) -> None:
    app.config["ADMIN_LOGIN_MAX_FAILURES_PER_IP"] = 6
    add_admin(app)
    client = https_client(app)
    for n in range(6):
        assert sign_in(client, f"guess{n}@example.edu").status_code == 401
    assert sign_in(client).status_code == 429
    # A success resets an address's count: four failures, a success, four more: not blocked.
    app.config["ADMIN_LOGIN_MAX_FAILURES_PER_IP"] = 100
    add_admin(app, "b@example.edu")
    for _ in range(4):
        sign_in(https_client(app), "b@example.edu", "nope nope nope")
    assert sign_in(https_client(app), "b@example.edu").status_code == 303
    for _ in range(4):
        assert sign_in(https_client(app), "b@example.edu", "nope nope nope").status_code == 401
    assert sign_in(https_client(app), "b@example.edu").status_code == 303


def test_passwords_never_in_logs_or_database(
    app: Flask, runner: FlaskCliRunner, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    assert (
        runner.invoke(args=["admin", "create", ROOT, "--password-file", str(secret)]).exit_code == 0
    )
    client = https_client(app)
    sign_in(client, password="typo " + PASSWORD)
    sign_in(client, "unknown@example.edu", PASSWORD)
    assert sign_in(client).status_code == 303
    assert runner.invoke(args=["admin", "set-password", ROOT], input="another long secret\n" * 2)
    assert PASSWORD not in caplog.text and "another long secret" not in caplog.text
    with app.app_context():
        metadata = MetaData()
        metadata.reflect(bind=db.engine)
        for table in metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                text = json.dumps([str(v) for v in row], ensure_ascii=False)
                assert PASSWORD not in text and "another long secret" not in text, table.name


# --- who may see the admin area ------------------------------------------------------------------


def _admin_urls(app: Flask) -> list[tuple[str, str]]:
    """Every admin route (method, URL), with ids filled in; found from the URL map."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint in (
            "admin.login",
            "admin.enter",
        ):
            continue
        url = re.sub(r"<int:\w+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            found.append((method, url))
    return found


def test_every_admin_page_refuses_launches_and_redirects_strangers(
    app: Flask, platform: FakePlatform
) -> None:
    urls = _admin_urls(app)
    assert len(urls) >= 20
    staff, learner = https_client(app), https_client(app)
    tokens = {}
    for name, browser, roles, sub in (
        ("staff", staff, None, "teacher"),
        ("learner", learner, LEARNER, "student"),
    ):
        launched = platform.launch(browser, roles=roles, sub=sub)
        assert launched.status_code == 303
        tokens[name] = re.search(r"[?&]t=([^&]+)", launched.headers["Location"]).group(1)
    stranger = https_client(app)
    for method, url in urls:
        for name, browser in (("staff", staff), ("learner", learner)):
            by_link = browser.open(url, method=method, query_string={"t": tokens[name]})
            assert by_link.status_code == 403, (name, method, url)
            assert "does not open the admin area" in by_link.get_data(as_text=True)
            by_header = browser.open(
                url, method=method, headers={"Authorization": f"Bearer {tokens[name]}"}
            )
            assert by_header.status_code == 403, (name, method, url)
        anonymous = stranger.open(url, method=method)
        assert anonymous.status_code == 303, (method, url)
        assert anonymous.headers["Location"].startswith("/admin/login")


def test_every_admin_page_renders_for_an_administrator(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    add_admin(app)
    sign_in(client)
    for method, url in _admin_urls(app):
        if method == "GET":
            page = client.get(url)
            assert page.status_code in (200, 404), url  # 404: no object with id 1
            assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


# --- an administrator of one deployment ----------------------------------------------------------


def test_deployment_admin_sees_only_its_own_deployment(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    other = FakePlatform(
        issuer="https://other.example.edu",
        client_id="client-2",
        name="Other LMS",
        key_file="other_platform_key.pem",
    )
    other.register(app)
    mine, theirs = estate(app, platform.name, "aaa"), estate(app, other.name, "bbb")
    with app.app_context():  # a second client id on my platform: not my deployment either
        reg = LtiRegistration(
            platform_id=mine["platform"],
            issuer=platform.issuer,
            client_id="client-sibling",
            auth_login_url=platform.auth_url,
            auth_token_url=platform.issuer + "/token",
            jwks_url=platform.issuer + "/jwks",
        )
        db.session.add(reg)
        db.session.flush()
        db.session.add(LtiDeployment(registration_id=reg.id, deployment_id="sibling-deployment"))
        db.session.commit()
    add_admin(app, "dep@example.edu", deployment=deployment_row(app, platform.name))
    assert sign_in(client, "dep@example.edu").status_code == 303

    pages = {
        url: client.get(url)
        for url in (
            "/admin/",
            "/admin/platforms",
            f"/admin/platforms/{mine['platform']}",
            "/admin/tokens",
            "/admin/sync",
            "/admin/access-log",
            "/admin/launch-errors",
            "/admin/courses",
        )
    }
    for url, page in pages.items():
        text = page.get_data(as_text=True)
        assert page.status_code == 200, url
        for secret in ("bbb", "Other LMS", "other.example.edu", "client-sibling", "sibling-deploy"):
            assert secret not in text, (url, secret)
    assert "lab-aaa" in pages["/admin/tokens"].get_data(as_text=True)
    assert "boom-aaa" in pages["/admin/sync"].get_data(as_text=True)
    assert "viewer-aaa" in pages["/admin/access-log"].get_data(as_text=True)
    assert "refused-aaa" in pages["/admin/launch-errors"].get_data(as_text=True)
    assert "Course aaa" in pages["/admin/courses"].get_data(as_text=True)
    assert "You administer one deployment" in pages["/admin/"].get_data(as_text=True)

    # Direct URLs to the other deployment's objects: unknown here.
    assert client.get(f"/admin/platforms/{theirs['platform']}").status_code == 404
    assert post(client, f"/admin/tokens/{theirs['token']}/revoke").status_code == 404
    assert post(client, f"/admin/sync/{theirs['course']}/nrps").status_code == 404
    made = post(
        client,
        "/admin/tokens",
        {"name": "x", "scope": "events:write", "course": str(theirs["course"])},
    )
    assert made.status_code == 404
    everywhere = post(client, "/admin/tokens", {"name": "x", "scope": "events:write", "course": ""})
    assert everywhere.status_code == 403 and "whole tool" in everywhere.get_data(as_text=True)
    other_log = client.get(f"/admin/access-log?course={theirs['course']}").get_data(as_text=True)
    assert "viewer-bbb" not in other_log
    # What belongs to the whole tool is not for a deployment's administrator: data sources
    # (its own platform's too, since they feed every deployment's courses), keys, platforms.
    assert client.get("/admin/sources").status_code == 403
    assert client.get(f"/admin/sources/{mine['source']}").status_code == 403
    assert post(client, f"/admin/sources/{theirs['source']}/test").status_code == 403
    assert client.get("/admin/keys").status_code == 403
    assert client.get("/admin/platforms/new").status_code == 403
    assert post(client, "/admin/keys/rotate").status_code == 403
    dep = deployment_row(app, platform.name)
    assert post(client, f"/admin/deployments/{dep}", {"enabled": "on"}).status_code == 403
    assert post(client, f"/admin/platforms/{mine['platform']}", {"name": "x"}).status_code == 403
    with app.app_context():
        assert db.session.get(ApiToken, theirs["token"]).revoked_at is None
        assert db.session.query(ApiToken).count() == 2
    # Its own token it may revoke, and make one for its course.
    assert post(client, f"/admin/tokens/{mine['token']}/revoke").status_code == 303
    made = post(
        client,
        "/admin/tokens",
        {"name": "mine2", "scope": "reports:read", "course": str(mine["course"])},
    )
    assert made.status_code == 201 and "ltk_" in made.get_data(as_text=True)
