"""Secrets at rest: encrypted with DATA_ENCRYPTION_KEY, rotated, refused without a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from lti_tool import secrets
from tests.helpers.database import make_app


def test_a_secret_round_trips_and_is_not_stored_in_clear(app) -> None:
    with app.app_context():
        token = secrets.encrypt("canvas-token-1234")
        assert "canvas-token-1234" not in token
        assert secrets.decrypt(token) == "canvas-token-1234"


def test_rotation_keeps_old_secrets_readable_and_reencrypts_with_the_new_key(
    tmp_path: Path,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, DATA_ENCRYPTION_KEY=old)
    with app.app_context():
        stored = secrets.encrypt("s3cret")
    app.config["DATA_ENCRYPTION_KEY"] = f"{new},{old}"
    with app.app_context():
        assert secrets.decrypt(stored) == "s3cret"
        rotated = secrets.reencrypt(stored)
    app.config["DATA_ENCRYPTION_KEY"] = new
    with app.app_context():
        assert secrets.decrypt(rotated) == "s3cret"
        with pytest.raises(secrets.SecretsUnavailable, match="cannot be decrypted"):
            secrets.decrypt(stored)


def test_without_a_key_outside_development_storing_a_secret_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path, DATA_ENCRYPTION_KEY=None)
    with app.app_context(), pytest.raises(secrets.SecretsUnavailable, match="not set"):
        secrets.encrypt("x")


def test_a_malformed_key_is_named(tmp_path: Path) -> None:
    app = make_app(tmp_path, DATA_ENCRYPTION_KEY="not-a-key")
    with app.app_context(), pytest.raises(secrets.SecretsUnavailable, match="not a Fernet key"):
        secrets.encrypt("x")
