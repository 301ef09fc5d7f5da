"""LTI Dynamic Registration against fake Canvas- and Moodle-shaped platforms (HTTP boundary).

Remote LMSs are faked with `responses`; what needs a real socket (a private address, a server
slower than the deadline) is a small HTTP server on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.launch.outbound import is_public
from lti_tool.models import (
    AdminAudit,
    Course,
    Enrollment,
    LaunchError,
    LtiRegistration,
    Person,
    Platform,
    RegistrationInvite,
)
from lti_tool.models.types import utcnow
from tests.helpers.fake_http import ServedFake
from tests.helpers.platform import FakePlatform
from tests.helpers.registration import (
    CONFIG_PATH,
    NRPS,
    TOOL_CONFIG,
    fake_lms,
    platform_config,
    start,
)


def invite(runner: FlaskCliRunner, *args: str) -> str:
    """`flask platform invite …`: the code from the URL it prints."""
    result = runner.invoke(args=["platform", "invite", *args])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("https://tool.test/lti/register?code="), url
    assert "expires" not in url and "until" in result.output  # says when it expires
    return parse_qs(urlsplit(url).query)["code"][0]


def posted(index: int = -1) -> dict[str, Any]:
    """The body of the registration POST the tool sent."""
    calls = [c for c in responses.calls if c.request.method == "POST"]
    return json.loads(calls[index].request.body)  # type: ignore[arg-type]


def refusal(page: Any) -> str:
    assert page.status_code == 400, page.get_data(as_text=True)
    return " ".join(page.get_data(as_text=True).replace("&#39;", "'").split())


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


# --- invited and pending registrations ------------------------------------------------------------


@responses.activate
def test_canvas_shaped_invited_registration_then_a_launch(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "10000000000123", "42:abcdef")
    code = invite(runner, "--lms", "canvas")
    app.config["DYNAMIC_REGISTRATION_HOSTS"] = ""  # an invitation works with it off
    page = start(client, base, code)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'data-close-message="org.imsglobal.lti.close"' in html and "10000000000123" in html
    assert "can open the tool now" in html
    sent = posted()
    assert responses.calls[1].request.headers["Authorization"] == "Bearer reg-token"
    assert sent["initiate_login_uri"] == "https://tool.test/lti/login"
    assert sent["redirect_uris"] == ["https://tool.test/lti/launch"]
    assert sent["jwks_uri"] == "https://tool.test/lti/jwks" and sent["scope"] == NRPS
    messages = {m["type"]: m["placements"] for m in sent[TOOL_CONFIG]["messages"]}
    assert messages == {
        "LtiResourceLinkRequest": ["course_navigation"],
        "LtiDeepLinkingRequest": ["link_selection"],
    }
    assert sent[TOOL_CONFIG]["custom_parameters"]["canvas_course_id"] == "$Canvas.course.id"
    with app.app_context():
        reg = db.session.scalar(select(LtiRegistration))
        assert (reg.issuer, reg.client_id, reg.jwks_url) == (
            base,
            "10000000000123",
            f"{base}/api/lti/security/jwks",
        )
        assert [d.deployment_id for d in reg.deployments] == ["42:abcdef"]
        platform = reg.platform
        assert platform.frame_origins == [base]
        assert (platform.lms, platform.approved, platform.registered_by) == (
            "canvas",
            True,
            "invited",
        )
        used = db.session.scalar(select(RegistrationInvite))
        assert used.used_at is not None and used.platform_id == platform.id
        assert len(used.code_hash) == 64 and code not in used.code_hash  # stored hashed
    # The platform can launch the tool at once.
    lms = FakePlatform(issuer=base, client_id="10000000000123", deployment_id="42:abcdef")
    lms.auth_url = f"{base}/api/lti/authorize_redirect"
    responses.get(f"{base}/api/lti/security/jwks", json={"keys": [lms.jwk]})
    assert lms.launch(client).status_code == 303
    # The code works once.
    fake_lms(base, "canvas", "10000000000999", "43:abcdef")
    again = refusal(start(client, base, code))
    assert "this invitation was used on" in again and "flask platform invite" in again
    assert count(app, LtiRegistration) == 1


@responses.activate
def test_a_pending_platform_is_refused_until_approved(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "7")
    page = start(client, base)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "waits for approval" in page.get_data(as_text=True)
    assert "flask platform approve &#39;moodle moodle.college.test&#39;" in page.get_data(
        as_text=True
    )
    sent = posted()
    messages = {m["type"]: m["placements"] for m in sent[TOOL_CONFIG]["messages"]}
    assert messages["LtiDeepLinkingRequest"] == ["ContentArea"]
    assert sent[TOOL_CONFIG]["custom_parameters"] == {}
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert platform.name == "moodle moodle.college.test"
        assert (platform.lms, platform.approved, platform.registered_by) == (
            "moodle",
            False,
            "dynamic",
        )
        platform_id = platform.id
    listed = runner.invoke(args=["platform", "list"]).output
    assert "pending approval: flask platform approve 'moodle moodle.college.test'" in listed
    [listed_json] = json.loads(runner.invoke(args=["platform", "list", "--json"]).output)
    assert (listed_json["approved"], listed_json["registered_by"]) == (False, "dynamic")

    lms = FakePlatform(issuer=base, client_id="AbCdEf123", deployment_id="7")
    lms.auth_url = f"{base}/api/lti/authorize_redirect"
    responses.get(f"{base}/api/lti/security/jwks", json={"keys": [lms.jwk]})
    calls_before = len(responses.calls)
    login = client.post(
        "/lti/login",
        data={"iss": base, "login_hint": "u", "client_id": "AbCdEf123", "lti_deployment_id": "7"},
    )
    text = " ".join(login.get_data(as_text=True).replace("&#39;", "'").split())
    assert login.status_code == 403
    assert "an administrator of the tool must approve it" in text
    assert "flask platform approve 'moodle moodle.college.test'" in text
    # A signed launch (as if its login had passed) is refused the same way, and writes nothing.
    id_token = lms.sign(lms.claims("n-1"))
    launch = client.post("/lti/launch", data={"id_token": id_token, "state": "s-1"})
    assert launch.status_code == 403
    assert "must approve it" in launch.get_data(as_text=True)
    assert len(responses.calls) == calls_before  # its key set was not even fetched
    assert (count(app, Course), count(app, Person), count(app, Enrollment)) == (0, 0, 0)
    with app.app_context():
        errors = list(db.session.scalars(select(LaunchError)))
        assert [(e.stage, e.status_code, e.platform_id) for e in errors] == [
            ("login", 403, platform_id),
            ("launch", 403, platform_id),
        ]

    approved = runner.invoke(args=["platform", "approve", "moodle moodle.college.test"])
    assert approved.exit_code == 0 and "approved platform" in approved.output
    again = runner.invoke(args=["platform", "approve", "moodle moodle.college.test"])
    assert "approved already" in again.output
    assert runner.invoke(args=["platform", "approve", "nope"]).exit_code != 0
    with app.app_context():
        audits = [
            (a.action, a.actor, a.platform_id)
            for a in db.session.scalars(select(AdminAudit).order_by(AdminAudit.id))
        ]
        assert audits == [
            ("platform_added", "dynamic registration", platform_id),
            ("platform_approved", "cli", platform_id),
        ]
    assert lms.launch(client).status_code == 303


@responses.activate
def test_an_invitation_works_only_until_it_expires(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "7")
    code = invite(runner, "--hours", "2")
    with app.app_context():
        row = db.session.scalar(select(RegistrationInvite))
        assert row.lms is None
        assert timedelta(hours=1.9) < row.expires_at - utcnow() <= timedelta(hours=2)
        row.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    text = refusal(start(client, base, code))
    assert "this invitation expired on" in text and "flask platform invite" in text
    assert "not known" in refusal(start(client, base, code + "x"))
    assert len(responses.calls) == 0  # refused before anything was fetched
    assert count(app, Platform) == 0
    assert runner.invoke(args=["platform", "invite", "--hours", "0"]).exit_code != 0
    assert runner.invoke(args=["platform", "invite", "--lms", "openedx"]).exit_code != 0


def test_dynamic_registration_closed_unless_the_host_is_allowed(
    app: Flask, client: FlaskClient
) -> None:
    app.config["DYNAMIC_REGISTRATION_HOSTS"] = "university.test"
    page = start(client, "https://moodle.other.test")
    assert page.status_code == 400 and "DYNAMIC_REGISTRATION_HOSTS" in page.get_data(as_text=True)
    assert "flask platform invite" in page.get_data(as_text=True)
    app.config["DYNAMIC_REGISTRATION_HOSTS"] = ""
    assert start(client, "https://canvas.university.test").status_code == 400


# --- what the tool fetches and stores -------------------------------------------------------------


@responses.activate
def test_issuer_that_does_not_match_the_url_is_refused(app: Flask, client: FlaskClient) -> None:
    base = "https://evil.test"
    fake_lms(base, "canvas", "1", "1", issuer="https://canvas.instructure.com")
    text = refusal(start(client, base))
    assert "does not match the URL it was fetched from" in text
    assert len(responses.calls) == 1  # nothing was posted to the registration endpoint
    assert count(app, Platform) == 0


@responses.activate
def test_expired_registration_token_is_explained(app: Flask, client: FlaskClient) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "1", "1", registration_status=401)
    assert "refused the registration token (it may have expired)" in refusal(start(client, base))
    assert count(app, Platform) == 0


BASE = "https://canvas.university.test"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"jwks_uri": "http://canvas.university.test/api/lti/security/jwks"},
            "the platform's jwks_uri 'http://canvas.university.test/api/lti/security/jwks' is "
            "not an https URL",
        ),
        (
            {"authorization_endpoint": "javascript:alert(document.cookie)"},
            "the platform's authorization_endpoint 'javascript:alert(document.cookie)' is not "
            "an https URL",
        ),
        (
            {"token_endpoint": "https://collector.example.net/token"},
            "the platform's token_endpoint 'https://collector.example.net/token' is not on the "
            "issuer's host (canvas.university.test)",
        ),
        (
            {"registration_endpoint": "https://canvas.university.test.example.net/reg"},
            "the platform's registration_endpoint",
        ),
        ({"issuer": "http://canvas.university.test"}, "is not an https URL"),
    ],
)
@responses.activate
def test_endpoints_must_be_https_on_the_issuers_host(
    app: Flask, client: FlaskClient, changes: dict[str, str], message: str
) -> None:
    fake_lms(BASE, "canvas", "1", "1", **changes)
    assert message in refusal(start(client, BASE))
    assert [c.request.method for c in responses.calls] == ["GET"]  # nothing posted
    assert count(app, Platform) == 0


@responses.activate
def test_an_endpoint_host_the_administrator_allowed(app: Flask, client: FlaskClient) -> None:
    """Hosted Canvas: issuer canvas.instructure.com, endpoints on sso.canvaslms.com."""
    base, issuer, sso = (
        "https://uni.instructure.com",
        "https://canvas.instructure.com",
        "https://sso.canvaslms.com",
    )
    changes = {
        "authorization_endpoint": f"{sso}/api/lti/authorize_redirect",
        "token_endpoint": f"{sso}/login/oauth2/token",
        "jwks_uri": f"{sso}/api/lti/security/jwks",
    }
    fake_lms(base, "canvas", "10000000000077", "9:abc", issuer=issuer, **changes)
    assert "DYNAMIC_REGISTRATION_ENDPOINT_HOSTS" in refusal(start(client, base))
    app.config["DYNAMIC_REGISTRATION_ENDPOINT_HOSTS"] = "instructure.com"
    assert "'https://sso.canvaslms.com/api/lti/authorize_redirect' is not on" in refusal(
        start(client, base)
    )
    app.config["DYNAMIC_REGISTRATION_ENDPOINT_HOSTS"] = "instructure.com, canvaslms.com"
    page = start(client, base)
    assert page.status_code == 200, page.get_data(as_text=True)
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert platform.name == "canvas uni.instructure.com" and platform.issuer == issuer
        assert platform.frame_origins == [issuer, base]
        [reg] = platform.registrations
        assert (reg.auth_login_url, reg.jwks_url) == (
            changes["authorization_endpoint"],
            changes["jwks_uri"],
        )


@responses.activate
def test_a_redirect_is_not_followed(app: Flask, client: FlaskClient) -> None:
    responses.get(
        BASE + CONFIG_PATH,
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    text = refusal(start(client, BASE))
    assert "the platform configuration answered with a redirect (HTTP 302 to" in text
    assert "169.254.169.254" in text and "does not follow redirects" in text
    assert len(responses.calls) == 1
    assert count(app, Platform) == 0


@responses.activate
def test_an_http_configuration_url_is_refused(app: Flask, client: FlaskClient) -> None:
    text = refusal(start(client, "http://canvas.university.test"))
    assert f"'https://canvas.university.test{CONFIG_PATH}'" not in text
    assert f"'http://canvas.university.test{CONFIG_PATH}' is not an https URL" in text
    assert len(responses.calls) == 0


@responses.activate
def test_re_registering_a_known_client_is_refused(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "7")
    assert start(client, base).status_code == 200
    responses.reset()
    # The same client id again, now claiming other URLs (and with an invitation).
    fake_lms(base, "moodle", "AbCdEf123", "8", jwks_uri=f"{base}/elsewhere/jwks")
    text = refusal(start(client, base, invite(runner)))
    assert f"client id 'AbCdEf123' of issuer '{base}' is already registered" in text
    assert "never changes a registration" in text
    with app.app_context():
        [reg] = db.session.scalars(select(LtiRegistration))
        assert reg.jwks_url == f"{base}/api/lti/security/jwks"
        assert [d.deployment_id for d in reg.deployments] == ["7"]
        assert not reg.platform.approved  # the invitation did not approve it either
        assert db.session.scalar(select(RegistrationInvite.used_at)) is None
    assert count(app, Platform) == 1


@responses.activate
def test_a_dynamic_platforms_keys_are_fetched_without_redirects_at_launch(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    base = "https://canvas.university.test"
    fake_lms(base, "canvas", "10000000000123", "42:abcdef")
    assert start(client, base, invite(runner)).status_code == 200
    lms = FakePlatform(issuer=base, client_id="10000000000123", deployment_id="42:abcdef")
    lms.auth_url = f"{base}/api/lti/authorize_redirect"
    responses.get(
        f"{base}/api/lti/security/jwks",
        status=301,
        headers={"Location": "https://elsewhere.example.net/jwks"},
    )
    refused = lms.launch(client)
    assert refused.status_code == 502
    assert "does not follow redirects" in refused.get_data(as_text=True)
    assert count(app, Course) == 0


# --- addresses and deadlines (a real server on 127.0.0.1) -----------------------------------------


class LocalLms(ServedFake):
    """A Moodle-shaped LMS on 127.0.0.1; /slow trickles its answer, /sleepy waits to answer."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def server_address(self) -> tuple[str, int]:
        """Where it listens, as a socket server says it."""
        return ("127.0.0.1", self.port)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        self.seen.append(path)
        if environ["REQUEST_METHOD"] == "POST":
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            return self._json(
                start_response, {"client_id": "local-1", TOOL_CONFIG: {"deployment_id": "1"}}
            )
        origin = f"http://{environ['HTTP_HOST']}"
        if path == "/slow":
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", "100000")]
            )
            return self._trickle()
        if path == "/sleepy":
            time.sleep(5)
        return self._json(start_response, platform_config(origin, "moodle"))

    @staticmethod
    def _json(start_response: Callable[..., Any], data: dict[str, Any]) -> list[bytes]:
        body = json.dumps(data).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    @staticmethod
    def _trickle() -> Iterator[bytes]:
        for _ in range(300):  # one byte every 0.1 s: each read is quick, the whole slow
            yield b" "
            time.sleep(0.1)


@pytest.fixture
def local_lms() -> Iterator[LocalLms]:
    server = LocalLms().start()
    yield server
    server.stop()


def test_public_addresses_only() -> None:
    for address in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address checked, not bound)
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ):
        assert not is_public(address), address
    assert is_public("93.184.215.14") and is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_a_configuration_on_a_private_address_is_refused(
    app: Flask, client: FlaskClient, local_lms: LocalLms
) -> None:
    port = local_lms.server_address[1]
    app.config["DYNAMIC_REGISTRATION_HTTP_LOOPBACK"] = True  # as in development, for http
    for host in ("127.0.0.1", "localhost"):
        text = refusal(start(client, f"http://{host}:{port}"))
        assert f"{host} resolves to a private, loopback or link-local address" in text
        assert "DYNAMIC_REGISTRATION_PRIVATE_HOSTS" in text
    assert local_lms.seen == []  # type: ignore[attr-defined]  # not even connected to
    assert count(app, Platform) == 0
    # Named, the same server registers (so the refusal above was the address's).
    app.config["DYNAMIC_REGISTRATION_PRIVATE_HOSTS"] = "127.0.0.1"
    page = start(client, f"http://127.0.0.1:{port}")
    assert page.status_code == 200, page.get_data(as_text=True)
    assert local_lms.seen == [CONFIG_PATH, "/api/lti/registrations"]  # type: ignore[attr-defined]
    # Without the development allowance, http is refused even to a named host.
    app.config["DYNAMIC_REGISTRATION_HTTP_LOOPBACK"] = False
    assert "is not an https URL" in refusal(start(client, f"http://127.0.0.1:{port}"))


@pytest.mark.parametrize("path", ["/slow", "/sleepy"])
def test_a_slow_configuration_server_is_cut_off_at_the_deadline(
    app: Flask, client: FlaskClient, local_lms: LocalLms, path: str
) -> None:
    port = local_lms.server_address[1]
    app.config.update(
        DYNAMIC_REGISTRATION_HTTP_LOOPBACK=True,
        DYNAMIC_REGISTRATION_PRIVATE_HOSTS="127.0.0.1",
        DYNAMIC_REGISTRATION_DEADLINE=1,
    )
    began = time.monotonic()
    text = refusal(start(client, f"http://127.0.0.1:{port}", path=path))
    took = time.monotonic() - began
    assert "the platform configuration did not answer within 1 seconds" in text
    assert took < 2.5, took
    assert count(app, Platform) == 0
