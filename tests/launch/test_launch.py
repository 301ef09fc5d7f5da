"""The OIDC login → launch round trip and the fixes over pylti1p3."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import (
    Course,
    Enrollment,
    LaunchError,
    LtiRegistration,
    Person,
    PersonIdentity,
)
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTRUCTOR, LEARNER, FakePlatform, follow


def test_instructor_round_trip_lands_on_staff_overview(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = platform.launch(client, roles=INSTRUCTOR)
    assert response.status_code == 303
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course.title == "Biology 101" and course.lti_context_id == "course-ctx-1"
    assert response.headers["Location"].startswith(f"/courses/{course.id}/?t=")
    page = follow(client, response)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Biology 101" in html and "Course staff" in html
    assert 'id="count-staff">1<' in html


def test_student_round_trip_lands_on_own_page(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = platform.launch(client, roles=LEARNER, sub="student-7")
    assert response.status_code == 303
    assert "/me?t=" in response.headers["Location"]
    page = follow(client, response)
    assert page.status_code == 200 and "My progress" in page.get_data(as_text=True)
    with app.app_context():
        enrollment = db.session.scalar(select(Enrollment))
        assert enrollment.course_role == "learner" and enrollment.status == "active"
        ident = db.session.scalar(select(PersonIdentity).where(PersonIdentity.kind == "lti_sub"))
        assert ident.value == "student-7"
        assert db.session.get(Person, ident.person_id).email == "sam@example.edu"


def test_launch_cookies_are_secure_samesite_none_partitioned(
    client: FlaskClient, platform: FakePlatform
) -> None:
    login = client.post(
        "/lti/login",
        data={
            "iss": platform.issuer,
            "login_hint": "u",
            "client_id": platform.client_id,
            "target_link_uri": "https://tool.test/lti/launch",
        },
    )
    cookies = login.headers.getlist("Set-Cookie")
    assert cookies and all(
        "Secure" in c and "SameSite=None" in c and "Partitioned" in c and "HttpOnly" in c
        for c in cookies
    )
    response = platform.launch(client, roles=INSTRUCTOR)
    session_cookie = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("lti_tool_c")
    ]
    assert session_cookie and "Partitioned" in session_cookie[0]


def test_iat_30_seconds_in_future_is_accepted(client: FlaskClient, platform: FakePlatform) -> None:
    def future(body: dict[str, Any]) -> None:
        body["iat"] = int(time.time()) + 30

    assert platform.launch(client, mutate=future).status_code == 303


def test_iat_beyond_leeway_is_refused(client: FlaskClient, platform: FakePlatform) -> None:
    def future(body: dict[str, Any]) -> None:
        body["iat"] = int(time.time()) + 600

    response = platform.launch(client, mutate=future)
    assert response.status_code == 401
    assert "issued in the future" in response.get_data(as_text=True)


def test_aud_as_list_with_azp_is_accepted(client: FlaskClient, platform: FakePlatform) -> None:
    def listed(body: dict[str, Any]) -> None:
        body["aud"] = ["some-other-audience", platform.client_id]
        body["azp"] = platform.client_id

    assert platform.launch(client, mutate=listed).status_code == 303


def test_aud_list_without_azp_is_refused(client: FlaskClient, platform: FakePlatform) -> None:
    def listed(body: dict[str, Any]) -> None:
        body["aud"] = ["some-other-audience", platform.client_id]

    response = platform.launch(client, mutate=listed)
    assert response.status_code == 400
    assert "several audiences (aud) but no azp" in response.get_data(as_text=True)


def test_nonce_replay_refused_even_after_fresh_login(
    client: FlaskClient, platform: FakePlatform
) -> None:
    auth = platform.login(client)
    id_token = platform.sign(platform.claims(auth["nonce"]))
    first = client.post("/lti/launch", data={"id_token": id_token, "state": auth["state"]})
    assert first.status_code == 303
    # Same browser, same post again.
    again = client.post("/lti/launch", data={"id_token": id_token, "state": auth["state"]})
    assert again.status_code == 401
    assert "already used" in again.get_data(as_text=True)
    # A fresh login (new state cookie) and the old id_token posted with the new state.
    fresh = platform.login(client)
    replay = client.post("/lti/launch", data={"id_token": id_token, "state": fresh["state"]})
    assert replay.status_code == 401
    assert "already used" in replay.get_data(as_text=True)


def test_replay_from_another_browser_is_refused(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    auth = platform.login(client)
    id_token = platform.sign(platform.claims(auth["nonce"]))
    assert (
        client.post("/lti/launch", data={"id_token": id_token, "state": auth["state"]}).status_code
        == 303
    )
    other = https_client(app)
    platform.login(other)
    replay = other.post("/lti/launch", data={"id_token": id_token, "state": auth["state"]})
    assert replay.status_code == 401
    assert "state does not match" in replay.get_data(as_text=True)


def test_refusals_are_recorded_without_signature(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    def wrong_deployment(body: dict[str, Any]) -> None:
        body[CLAIM + "deployment_id"] = "not-registered"

    response = platform.launch(client, mutate=wrong_deployment)
    assert response.status_code == 403
    with app.app_context():
        record = db.session.scalar(select(LaunchError))
        assert record.stage == "launch" and record.status_code == 403
        assert "deployment" in record.reason
        assert record.platform_id is not None and record.issuer == platform.issuer
        assert record.claims["body"][CLAIM + "deployment_id"] == "not-registered"
        assert set(record.claims) == {"header", "body"}  # no signature kept


def test_database_outage_during_launch_is_503(
    tmp_path: Path, client: FlaskClient, platform: FakePlatform
) -> None:
    auth = platform.login(client)
    id_token = platform.sign(platform.claims(auth["nonce"]))
    # The same launch reaches a worker whose database is unreachable.
    dead = "postgresql+psycopg2://nobody@127.0.0.1:9/nowhere?connect_timeout=2"
    broken = make_app_without_schema(tmp_path, dead)
    broken_client = https_client(broken)
    for cookie in client._cookies.values():
        broken_client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    response = broken_client.post(
        "/lti/launch", data={"id_token": id_token, "state": auth["state"]}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "database is not reachable" in response.get_data(as_text=True)


def make_app_without_schema(tmp_path: Path, url: str) -> Flask:
    """An app pointed at a database it cannot reach (no schema creation)."""
    from lti_tool import create_app

    return create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})


def test_unknown_issuer_at_login_is_explained(client: FlaskClient, platform: FakePlatform) -> None:
    response = client.post(
        "/lti/login", data={"iss": "https://unknown.example", "login_hint": "x", "client_id": "c"}
    )
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "not registered" in text and "https://unknown.example" in text


def test_login_without_issuer_is_explained(client: FlaskClient, platform: FakePlatform) -> None:
    response = client.get("/lti/login?login_hint=x")
    assert response.status_code == 400
    assert "named no issuer" in response.get_data(as_text=True)


def test_launch_get_is_405_page(client: FlaskClient) -> None:
    response = client.get("/lti/launch")
    assert response.status_code == 405
    text = response.get_data(as_text=True)
    # In plain words (werkzeug's "Method Not Allowed" is written for developers).
    assert "Not allowed this way" in text and "This page cannot be used this way." in text
    assert response.headers["Allow"]


@responses.activate
def test_platform_keys_fetched_from_jwks_url_cached_and_refetched_on_rotation(
    app: Flask, client: FlaskClient
) -> None:
    lms = FakePlatform(issuer="https://moodle.example.edu", client_id="moodle-client")
    lms.register(app)
    jwks_url = "https://moodle.example.edu/mod/lti/certs.php"
    with app.app_context():
        reg = db.session.scalar(select(LtiRegistration))
        reg.jwks, reg.jwks_url = None, jwks_url
        db.session.commit()
    responses.get(jwks_url, json={"keys": [lms.jwk]})
    assert lms.launch(client).status_code == 303
    assert lms.launch(client).status_code == 303
    assert len(responses.calls) == 1  # the second launch used the cached key set

    # The platform rotates its key: the unknown kid makes the tool refetch once.
    rotated = FakePlatform(
        issuer=lms.issuer, client_id=lms.client_id, key_file="other_platform_key.pem"
    )
    responses.replace(responses.GET, jwks_url, json={"keys": [rotated.jwk]})
    assert rotated.launch(client).status_code == 303
    assert len(responses.calls) == 2


@responses.activate
def test_unreachable_platform_jwks_is_explained(app: Flask, client: FlaskClient) -> None:
    lms = FakePlatform(issuer="https://moodle.example.edu", client_id="moodle-client")
    lms.register(app)
    jwks_url = "https://moodle.example.edu/mod/lti/certs.php"
    with app.app_context():
        reg = db.session.scalar(select(LtiRegistration))
        reg.jwks, reg.jwks_url = None, jwks_url
        db.session.commit()
    responses.get(jwks_url, body=requests.ConnectionError("connection refused"))
    response = lms.launch(client)
    assert response.status_code == 502
    assert "could not fetch the platform" in response.get_data(as_text=True)


def test_launch_state_expires_after_configured_lifetime(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    from datetime import timedelta

    from lti_tool.models import LtiStoreEntry
    from lti_tool.models.types import utcnow

    app.config["LTI_LAUNCH_DATA_LIFETIME"] = 600
    platform.login(client)
    with app.app_context():
        entries = list(db.session.scalars(select(LtiStoreEntry)))
        assert entries  # the nonce at least
        for entry in entries:
            assert entry.expires_at <= utcnow() + timedelta(seconds=601)
