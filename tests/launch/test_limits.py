"""Sizes and time limits of launches (issue 14, item 3): oversized id_tokens, refused launches'
stored claims, their retention, and fetching a platform's key set (deadline, refetch cooldown)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.data.retention import run_retention
from lti_tool.extensions import db
from lti_tool.models import LaunchError, LtiRegistration
from tests.helpers.client import https_client
from tests.helpers.fake_http import ServedFake
from tests.helpers.platform import CLAIM, FakePlatform


class KeySetServer(ServedFake):
    """A platform's key set endpoint on 127.0.0.1: counts requests; may trickle its answer."""

    def __init__(self, body: dict[str, Any], trickle: float = 0.0) -> None:
        self.body, self.trickle, self.requests = json.dumps(body).encode(), trickle, 0
        self.start()
        self.url = f"{self.origin}/jwks"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.requests += 1
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))],
        )
        return self.trickled()

    def trickled(self) -> Iterator[bytes]:
        """The body one byte at a time, `trickle` seconds apart (the tool may hang up)."""
        for index in range(len(self.body)):
            yield self.body[index : index + 1]
            time.sleep(self.trickle)

    def close(self) -> None:
        self.stop()


@pytest.fixture
def keys_by_url(app: Flask, platform: FakePlatform) -> Iterator[KeySetServer]:
    server = KeySetServer({"keys": [platform.jwk]})
    with app.app_context():
        registration = db.session.scalar(select(LtiRegistration))
        assert registration is not None
        registration.jwks, registration.jwks_url = None, server.url
        db.session.commit()
    yield server
    server.close()


def stored_claims(app: Flask) -> Any:
    with app.app_context():
        return db.session.scalar(select(LaunchError.claims).order_by(LaunchError.id.desc()))


def test_an_id_token_over_64_kb_is_refused_before_it_is_decoded(
    app: Flask, platform: FakePlatform
) -> None:
    client = https_client(app)
    auth = platform.login(client)
    token = platform.sign(platform.claims(auth["nonce"], padding="x" * 70_000))
    response = client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})
    assert response.status_code == 413
    assert "larger than 64 KB" in response.get_data(as_text=True)
    kept = stored_claims(app)
    assert kept == {"oversized": True, "bytes": len(token)}  # not the token, nor its claims


def test_a_refused_launch_keeps_at_most_16_kb_of_claims(app: Flask, platform: FakePlatform) -> None:
    # A signed, refused launch (no role that opens the course) carrying 40 KB of claims.
    response = platform.launch(
        https_client(app), roles=[], **{CLAIM + "custom": {"blob": "y" * 40_000}}
    )
    assert response.status_code == 403
    kept = stored_claims(app)
    assert len(json.dumps(kept)) <= 16 * 1024
    assert kept["truncated"] is True and kept["bytes"] > 40_000
    assert kept["body"]["iss"] == platform.issuer and CLAIM + "custom" in kept["claim_names"]
    assert kept["header"]["kid"] == platform.jwk["kid"]
    small = platform.launch(https_client(app), roles=[])
    assert small.status_code == 403
    assert stored_claims(app)["body"]["iss"] == platform.issuer  # as received when it fits


def test_refused_launches_go_after_their_retention_days(app: Flask) -> None:
    with app.app_context():
        for days in (40, 10):
            db.session.add(
                LaunchError(
                    stage="launch",
                    status_code=403,
                    reason=f"{days} days ago",
                    created_at=datetime.now(UTC) - timedelta(days=days),
                )
            )
        db.session.commit()
        line = run_retention(db.session, launch_error_days=30)
        assert "1 refused launches older than 30 days deleted" in line
        assert list(db.session.scalars(select(LaunchError.reason))) == ["10 days ago"]


def test_a_key_set_that_trickles_in_is_cut_off_at_the_deadline(
    app: Flask, platform: FakePlatform, keys_by_url: KeySetServer
) -> None:
    app.config["JWKS_FETCH_DEADLINE"] = 1
    keys_by_url.trickle = 0.05  # a 500-byte key set over 25 s, one byte at a time
    started = time.monotonic()
    response = platform.launch(https_client(app))
    elapsed = time.monotonic() - started
    assert response.status_code in (400, 401, 403, 502, 503), response.status_code
    assert elapsed < 4, elapsed
    with app.app_context():
        reason = db.session.scalar(select(LaunchError.reason))
    assert reason is not None and "within 1 s" in reason


def test_unknown_key_ids_refetch_the_key_set_at_most_once_per_cooldown(
    app: Flask, platform: FakePlatform, keys_by_url: KeySetServer
) -> None:
    assert platform.launch(https_client(app)).status_code == 303
    assert keys_by_url.requests == 1  # fetched once, then cached

    def made_up_kid(n: int) -> Any:
        return platform.launch(
            https_client(app),
            token=lambda body: platform.sign(body, headers={"kid": f"made-up-{n}"}),
        )

    for n in range(5):
        assert made_up_kid(n).status_code in (400, 401, 403)
    assert keys_by_url.requests == 2  # one refetch for the first unknown kid, then the cooldown
    with app.app_context():
        refused = db.session.scalar(select(func.count()).select_from(LaunchError))
    assert refused == 5
    app.config["JWKS_REFETCH_COOLDOWN"] = 0
    made_up_kid(99)
    assert keys_by_url.requests == 3  # past the cooldown: refetched again
