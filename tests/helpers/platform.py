"""A fake LMS for tests: registers itself, runs the OIDC login, and signs (mutated) launches."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool.extensions import db
from lti_tool.lti.keys import public_jwk_from_pem
from lti_tool.models import LtiDeployment, LtiRegistration, Platform
from tests.helpers.client import https_client

FIXTURES = Path(__file__).parent / "fixtures"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
TOOL = "https://tool.test"

INSTRUCTOR = [MEMBERSHIP + "Instructor"]
LEARNER = [MEMBERSHIP + "Learner"]


def read_key(name: str) -> str:
    """A test-only private key from tests/helpers/fixtures."""
    return (FIXTURES / name).read_text(encoding="ascii")


class FakePlatform:
    """An LTI 1.3 platform as far as the tool can tell: issuer, client id, key, deployments."""

    def __init__(
        self,
        issuer: str = "https://lms.example.edu",
        client_id: str = "client-1",
        deployment_id: str = "deployment-1",
        name: str = "Example LMS",
        key_file: str = "platform_key.pem",
        frame_origins: tuple[str, ...] = ("https://lms.example.edu",),
    ) -> None:
        self.issuer, self.client_id, self.deployment_id = issuer, client_id, deployment_id
        self.name, self.frame_origins = name, list(frame_origins)
        self.private_key = read_key(key_file)
        self.jwk = public_jwk_from_pem(self.private_key)
        self.auth_url = issuer + "/auth"

    def register(self, app: Flask) -> None:
        """Write the platform, registration and deployment rows."""
        with app.app_context():
            row = Platform(name=self.name, issuer=self.issuer, frame_origins=self.frame_origins)
            db.session.add(row)
            db.session.flush()
            reg = LtiRegistration(
                platform_id=row.id,
                issuer=self.issuer,
                client_id=self.client_id,
                auth_login_url=self.auth_url,
                auth_token_url=self.issuer + "/token",
                jwks={"keys": [self.jwk]},
            )
            db.session.add(reg)
            db.session.flush()
            db.session.add(LtiDeployment(registration_id=reg.id, deployment_id=self.deployment_id))
            db.session.commit()

    def login(
        self, client: FlaskClient, login_hint: str = "user-1", **extra: str
    ) -> dict[str, str]:
        """Run the OIDC login initiation; return the auth request the tool redirected to."""
        params = {
            "iss": self.issuer,
            "login_hint": login_hint,
            "target_link_uri": TOOL + "/lti/launch",
            "lti_message_hint": "hint",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
            **extra,
        }
        response = client.post("/lti/login", data=params)
        assert response.status_code == 302, response.get_data(as_text=True)
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.auth_url
        return {k: v[0] for k, v in parse_qs(location.query).items()}

    def claims(
        self, nonce: str, roles: list[str] | None = None, sub: str = "user-1", **extra: Any
    ) -> dict[str, Any]:
        """A valid LtiResourceLinkRequest body for a course."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Sam Example",
            "given_name": "Sam",
            "family_name": "Example",
            "email": "sam@example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": TOOL + "/lti/launch",
            CLAIM + "resource_link": {"id": "link-1", "title": "Analytics"},
            CLAIM + "roles": INSTRUCTOR if roles is None else roles,
            CLAIM + "context": {"id": "course-ctx-1", "label": "BIO101", "title": "Biology 101"},
        }
        body.update(extra)
        return body

    def sign(
        self,
        body: dict[str, Any],
        headers: dict[str, Any] | None = None,
        key: str | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """Sign a body as this platform (or with another key / header)."""
        head = {"kid": self.jwk["kid"]} if headers is None else headers
        return jwt.encode(body, key or self.private_key, algorithm=algorithm, headers=head)

    def launch(
        self,
        client: FlaskClient,
        roles: list[str] | None = None,
        mutate: Callable[[dict[str, Any]], None] | None = None,
        token: Callable[[dict[str, Any]], str] | None = None,
        sub: str = "user-1",
        **extra: Any,
    ) -> TestResponse:
        """Log in, build a launch (optionally mutated or signed differently) and post it."""
        auth = self.login(client, login_hint=sub)
        body = self.claims(auth["nonce"], roles=roles, sub=sub, **extra)
        body = copy.deepcopy(body)
        if mutate:
            mutate(body)
        id_token = token(body) if token else self.sign(body)
        return client.post("/lti/launch", data={"id_token": id_token, "state": auth["state"]})


def follow(client: FlaskClient, response: TestResponse) -> TestResponse:
    """Follow a redirect the tool sent after a launch."""
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    return client.get(response.headers["Location"])


def session_token(response: TestResponse) -> str:
    """The session token a launch hands the browser: the ?t= of the tool's redirect."""
    location = response.headers["Location"]
    found = re.search(r"[?&]t=([^&#]+)", location)
    assert found, location
    return found.group(1)


def launch_token(client: FlaskClient, platform: FakePlatform, roles: list[str], sub: str) -> str:
    """The session token a real launch hands the browser (in the redirect's ?t=)."""
    response = platform.launch(client, roles=roles, sub=sub)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return session_token(response)


def reason(response: TestResponse) -> str:
    """The reason text of an explanatory page, with its details."""
    return response.get_data(as_text=True)


def launch_into(
    app: Flask, context_id: str, roles: list[str], sub: str, username: str
) -> FakePlatform:
    """An "Open edX" platform registered, and one launch of a person (their username, as
    the logs name them) into a course of that context id; the platform."""
    platform = FakePlatform(name="Open edX")
    platform.register(app)
    context = {CLAIM + "context": {"id": context_id, "title": "Demo", "label": context_id}}
    launched = platform.launch(
        https_client(app), roles=roles, sub=sub, preferred_username=username, **context
    )
    assert launched.status_code == 303, launched.get_data(as_text=True)[:500]
    return platform
