"""The tool's private signing key is encrypted at rest with DATA_ENCRYPTION_KEY (issue 14, 5)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, text

from lti_tool.extensions import db
from lti_tool.lti import keys
from lti_tool.models import ToolKey
from tests.helpers.platform import FakePlatform


def test_new_keys_are_stored_encrypted_and_still_sign(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    with app.app_context():
        key = keys.active_key()
        stored = db.session.scalar(text("SELECT private_key_pem FROM tool_key"))
        assert stored.startswith(keys.SEALED) and "PRIVATE KEY" not in stored
        assert keys.private_pem(key).startswith("-----BEGIN PRIVATE KEY-----")
    # The key signs what the tool sends: a deep-linking response is verified with the JWKS.
    assert client.get("/lti/jwks").json["keys"][0]["kid"] == key.kid


def test_flask_keys_encrypt_seals_keys_stored_before(app: Flask, runner: FlaskCliRunner) -> None:
    pem = keys.generate_private_key_pem()
    with app.app_context():
        jwk = keys.public_jwk_from_pem(pem)
        db.session.add(ToolKey(kid=jwk["kid"], private_key_pem=pem, public_jwk=jwk, active=True))
        db.session.commit()
    result = runner.invoke(args=["keys", "encrypt"])
    assert result.exit_code == 0 and "1 tool keys encrypted" in result.output
    with app.app_context():
        row = db.session.scalar(select(ToolKey))
        assert row is not None and row.private_key_pem.startswith(keys.SEALED)
        assert keys.private_pem(row) == pem
    again = runner.invoke(args=["keys", "encrypt"])
    assert "already" in again.output
    app.config["DATA_ENCRYPTION_KEY"] = ""
    refused = runner.invoke(args=["keys", "encrypt"])
    assert refused.exit_code == 1 and "DATA_ENCRYPTION_KEY is not set" in refused.output
