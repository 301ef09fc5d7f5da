"""Secrets kept at rest (LMS API tokens, client secrets), encrypted with DATA_ENCRYPTION_KEY.

DATA_ENCRYPTION_KEY holds one or more Fernet keys, comma-separated, newest first: the first
encrypts, every one decrypts, so a key is rotated by putting a new one in front (`reencrypt`
moves a stored secret to it). The development config derives a key
from SECRET_KEY when none is set, so that the embedded mode needs no setup; nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from flask import current_app

# cryptography is imported when a secret is used, not at every start (see tests/test_app.py).
if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


class SecretsUnavailable(RuntimeError):
    """No usable DATA_ENCRYPTION_KEY, or a stored secret it cannot decrypt."""


def _keys() -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    raw = current_app.config.get("DATA_ENCRYPTION_KEY") or ""
    keys = [k.strip() for k in str(raw).split(",") if k.strip()]
    if not keys and current_app.config.get("ENV_NAME") == "development":
        digest = hashlib.sha256(b"lti_tool data key:" + str(current_app.secret_key).encode())
        keys = [base64.urlsafe_b64encode(digest.digest()).decode()]
    if not keys:
        raise SecretsUnavailable(
            'DATA_ENCRYPTION_KEY is not set: generate one with `python -c "from '
            'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` and '
            "set it in the environment"
        )
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise SecretsUnavailable(
            "DATA_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from exc


def encrypt(plaintext: str) -> str:
    """The secret encrypted with the newest key, as text for the database."""
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The secret back; SecretsUnavailable when no configured key opens it."""
    from cryptography.fernet import InvalidToken

    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretsUnavailable(
            "a stored secret cannot be decrypted with DATA_ENCRYPTION_KEY (was the key changed?"
            " put the old key after the new one, comma-separated)"
        ) from exc


def reencrypt(token: str) -> str:
    """The secret encrypted again with the newest key (after a key rotation)."""
    from cryptography.fernet import InvalidToken

    try:
        return _keys().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretsUnavailable(
            "a stored secret cannot be decrypted with DATA_ENCRYPTION_KEY"
        ) from exc
