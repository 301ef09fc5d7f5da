"""Fuzz the launch's handling of an id_token before any signature is checked.

The token is the POSTed form value (text; at most MAX_ID_TOKEN_BYTES, as launch() refuses longer
ones first). What must hold:
- unverified_claims() never raises, and keeps no claims nested deeper than json_input's
  MAX_DEPTH; bounded_claims() of its answer never raises, and what it
  keeps is JSON of at most MAX_STORED_CLAIMS bytes or a small summary;
- ToolMessageLaunch.validate_jwt_format() and get_client_id() raise only LtiException, whose
  message explain() turns into a LaunchProblem;
- _check_approved() (a database lookup of the issuer) raises only LtiException or
  PlatformPending, and platform_for_issuer() with what _refuse() reads from the claims never
  raises.
One application (in-memory SQLite) is created at start and its context stays pushed.

    .venv/bin/python -m fuzz.id_token -runs=100000 [corpus folder]
"""

from __future__ import annotations

import base64
import json
from typing import Any

import atheris

with atheris.instrument_imports(include=["lti_tool.launch", "jwt", "pylti1p3.message_launch"]):
    from pylti1p3.exception import LtiException

    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.json_input import MAX_DEPTH, json_depth
    from lti_tool.launch.errors import LaunchProblem, explain
    from lti_tool.launch.tool_conf import PlatformPending, platform_for_issuer
    from lti_tool.launch.validation import ToolMessageLaunch
    from lti_tool.launch.views import (
        MAX_ID_TOKEN_BYTES,
        MAX_STORED_CLAIMS,
        _check_approved,
        bounded_claims,
        unverified_claims,
    )

from fuzz._common import mutate_json, run

APP = create_app({"CONFIG_NAME": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
APP.app_context().push()
db.create_all()


class FormRequest:
    """The one thing validate_jwt_format() asks of the request: its id_token parameter."""

    def __init__(self, id_token: str) -> None:
        self.id_token = id_token

    def get_param(self, key: str) -> str | None:
        return self.id_token if key == "id_token" else None


class Unused:
    """Session, cookie and HTTP services: the format check must not touch them."""


def launch_for(id_token: str) -> ToolMessageLaunch:
    return ToolMessageLaunch(
        FormRequest(id_token),
        None,
        session_service=Unused(),
        cookie_service=Unused(),
        requests_session=Unused(),
    )


def check_format(id_token: str) -> None:
    message = launch_for(id_token)
    try:
        message.validate_jwt_format()
        message._validated = True  # get_client_id reads the body without validating again
        assert isinstance(message.get_client_id(), str)
    except LtiException as exc:
        assert isinstance(explain(str(exc)), LaunchProblem)


def test_one_input(data: bytes) -> None:
    id_token = data.decode("utf-8", "replace")
    if len(id_token) > MAX_ID_TOKEN_BYTES:
        return
    claims = unverified_claims(id_token)
    # Deeper claims would make the refusal's json.dumps recurse too far (see views.py).
    assert claims is None or json_depth(claims) <= MAX_DEPTH + 1
    kept: Any = bounded_claims(claims)
    if kept is not None:
        size = len(json.dumps(kept, default=str))
        summary = kept.get("truncated") and size <= 4 * MAX_STORED_CLAIMS
        assert size <= MAX_STORED_CLAIMS or summary
    try:
        _check_approved(claims)
    except (LtiException, PlatformPending):
        pass
    # What _refuse() looks up for the record of a refusal ("never raises").
    body = (claims or {}).get("body") or {}
    issuer = body.get("iss") if isinstance(body, dict) else None
    aud = body.get("aud") if isinstance(body, dict) else None
    client_id = (aud[0] if aud else None) if isinstance(aud, list) else aud
    platform_for_issuer(
        issuer if isinstance(issuer, str) else None,
        client_id if isinstance(client_id, str) else None,
    )
    check_format(id_token)


def _b64(part: bytes) -> bytes:
    return base64.urlsafe_b64encode(part).rstrip(b"=")


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """A JWT with its header or body mutated as JSON (libFuzzer's bytes when it is no JWT)."""
    parts = data.split(b".")
    if len(parts) != 3 or seed % 5 == 0:
        return atheris.Mutate(data, max_size)
    which = seed % 2
    try:
        decoded = base64.urlsafe_b64decode(parts[which] + b"=" * (-len(parts[which]) % 4))
    except ValueError:
        return atheris.Mutate(data, max_size)
    parts[which] = _b64(mutate_json(decoded, max_size, seed // 2))
    return b".".join(parts)[:max_size]


def main() -> None:
    run("id_token", test_one_input, mutate)


if __name__ == "__main__":
    main()
