"""The IMS LTI 1.3 tool certification cases (lti-notes.md §3), plus the Security Framework extras.

Every bad payload must be a 4xx with an explanatory page (never a 500) and a recorded refusal;
every valid variant must reach the outcome a user expects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.models import Course, LaunchError, Person
from tests.helpers.platform import CLAIM, INSTITUTION, MEMBERSHIP, SYSTEM, FakePlatform, read_key

Body = dict[str, Any]


def drop(*claims: str) -> Callable[[Body], None]:
    """A mutation removing claims."""

    def mutate(body: Body) -> None:
        for claim in claims:
            body.pop(claim, None)

    return mutate


def set_claim(name: str, value: Any) -> Callable[[Body], None]:
    """A mutation setting one claim."""

    def mutate(body: Body) -> None:
        body[name] = value

    return mutate


def drop_resource_link_id(body: Body) -> None:
    body[CLAIM + "resource_link"].pop("id")


def stale_timestamps(body: Body) -> None:
    body["iat"] = int(time.time()) - 7200
    body["exp"] = int(time.time()) - 3600


def expired(body: Body) -> None:
    body["exp"] = int(time.time()) - 120


def iat_beyond_leeway(body: Body) -> None:
    body["iat"] = int(time.time()) + 300


def forged_nonce(body: Body) -> None:
    body["nonce"] = "nonce-the-tool-never-issued"


# name -> (mutation of the body, token builder, expected status, text the page must contain)
BAD_CASES: dict[str, tuple[Any, Any, int, str]] = {
    # §6.1.1 Known "bad" payloads
    "No KID Sent in JWT header": (
        None,
        lambda p, b: p.sign(b, headers={}),
        401,
        "names no key (kid)",
    ),
    "Incorrect KID in JWT header": (
        None,
        lambda p, b: p.sign(b, headers={"kid": "not-a-known-kid"}),
        401,
        "published keys matches",
    ),
    "Wrong LTI Version": (
        set_claim(CLAIM + "version", "1.2.0"),
        None,
        400,
        "not an LTI 1.3.0 message",
    ),
    "No LTI Version": (drop(CLAIM + "version"), None, 400, "not an LTI 1.3.0 message"),
    "Invalid LTI message": (None, lambda p, b: "this-is-not-a-jwt", 400, "is not a JWT"),
    "Missing LTI Claims": (
        drop(CLAIM + "message_type", CLAIM + "version", CLAIM + "roles", CLAIM + "resource_link"),
        None,
        400,
        "no LTI message type",
    ),
    "Timestamps Incorrect": (stale_timestamps, None, 401, "The launch has expired"),
    "messsage_type Claim Missing": (drop(CLAIM + "message_type"), None, 400, "no LTI message type"),
    "role Claim Missing": (drop(CLAIM + "roles"), None, 400, "no roles claim"),
    "deployment_id Claim Missing": (
        drop(CLAIM + "deployment_id"),
        None,
        400,
        "no deployment_id claim",
    ),
    "resource_link_id Claim Missing": (drop_resource_link_id, None, 400, "no resource link id"),
    "user Claim Missing": (drop("sub"), None, 400, "names no user (sub)"),
    # Security Framework extras
    "wrong deployment": (
        set_claim(CLAIM + "deployment_id", "unknown-deployment"),
        None,
        403,
        "deployment of the tool is not registered",
    ),
    "bad signature": (
        None,
        lambda p, b: p.sign(b, key=read_key("other_platform_key.pem")),
        401,
        "signature does not verify",
    ),
    "alg none": (
        None,
        lambda p, b: jwt.encode(b, None, algorithm="none", headers={"kid": p.jwk["kid"]}),
        401,
        "not signed with an accepted algorithm",
    ),
    "forged nonce": (forged_nonce, None, 401, "nonce was not issued by this tool"),
    "unknown issuer": (
        set_claim("iss", "https://unknown-lms.example"),
        None,
        403,
        "is not registered",
    ),
    "unknown client id": (
        set_claim("aud", "unknown-client"),
        None,
        403,
        "registration is not known",
    ),
    "expired token": (expired, None, 401, "The launch has expired"),
    "iat beyond the leeway": (iat_beyond_leeway, None, 401, "issued in the future"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_payload_is_refused_with_explanation(
    case: str, app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    mutate, builder, status, text = BAD_CASES[case]
    token = (lambda body: builder(platform, body)) if builder else None
    response = platform.launch(client, mutate=mutate, token=token)
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    assert "The tool could not open" in html and text in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LaunchError)) == 1


def test_forged_state_is_refused(app: Flask, client: FlaskClient, platform: FakePlatform) -> None:
    auth = platform.login(client)
    token = platform.sign(platform.claims(auth["nonce"]))
    response = client.post("/lti/launch", data={"id_token": token, "state": "state-forged"})
    assert response.status_code == 401
    assert "state does not match" in response.get_data(as_text=True)


def test_missing_state_and_token_are_refused(client: FlaskClient, platform: FakePlatform) -> None:
    platform.login(client)
    response = client.post("/lti/launch", data={})
    assert response.status_code in (400, 401)
    assert "The tool could not open" in response.get_data(as_text=True)


def test_nonce_replay_is_refused(client: FlaskClient, platform: FakePlatform) -> None:
    auth = platform.login(client)
    token = platform.sign(platform.claims(auth["nonce"]))
    data = {"id_token": token, "state": auth["state"]}
    assert client.post("/lti/launch", data=data).status_code == 303
    replay = client.post("/lti/launch", data=data)
    assert replay.status_code == 401 and "already used" in replay.get_data(as_text=True)


# §6.1.2 / §6.1.3: the nine valid variants, for a teacher and for a student.
NO_NAMES = ("name", "given_name", "family_name")


def _roles(kind: str) -> dict[str, list[str]]:
    principal = "Instructor" if kind == "teacher" else "Learner"
    return {
        "valid": [MEMBERSHIP + principal],
        "multiple roles": [MEMBERSHIP + principal, INSTITUTION + "Faculty", SYSTEM + "User"],
        "short role": [principal],
        "unknown role": ["http://purl.imsglobal.org/vocab/lis/v2/membership#NotARealRole"],
        "no role": [],
    }


VALID_VARIANTS = [
    "valid",
    "multiple roles",
    "short role",
    "unknown role",
    "no role",
    "email only",
    "names only",
    "no PII",
    "email without context",
]


@pytest.mark.parametrize("kind", ["teacher", "student"])
@pytest.mark.parametrize("variant", VALID_VARIANTS)
def test_valid_launch_variants(
    kind: str, variant: str, app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    roles = _roles(kind)
    landing = "/courses/1/?t=" if kind == "teacher" else "/courses/1/me?t="
    role_list = roles.get(variant, roles["valid"])
    mutate = {
        "email only": drop(*NO_NAMES),
        "names only": drop("email"),
        "no PII": drop("email", *NO_NAMES),
        "email without context": drop(CLAIM + "context", *NO_NAMES),
    }.get(variant)
    response = platform.launch(client, roles=role_list, mutate=mutate)
    html = response.get_data(as_text=True)
    if variant in ("unknown role", "no role"):
        assert response.status_code == 403, html
        assert "does not give access" in html
    elif variant == "email without context":
        assert response.status_code == 400, html
        assert "carries no course" in html
    else:
        assert response.status_code == 303, html
        assert response.headers["Location"].startswith(landing)
        assert client.get(response.headers["Location"]).status_code == 200
    with app.app_context():
        person = db.session.scalar(select(Person))
        if variant in ("unknown role", "no role", "email without context"):
            # A refused launch writes nothing: no person, course or enrollment.
            assert person is None
            assert db.session.scalar(select(func.count()).select_from(Course)) == 0
            return
        assert person is not None  # the launch was valid: the person is known
        assert (person.email is not None) == (variant not in ("names only", "no PII"))
        assert (person.name is not None) == (
            variant not in ("email only", "no PII", "email without context")
        )
