"""The tool's own RSA keys: creation, rotation, retirement and the public JWKS."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from lti_tool import audit, secrets
from lti_tool.extensions import db
from lti_tool.models import ToolKey
from lti_tool.models.types import utcnow

log = logging.getLogger(__name__)

# cryptography and jwcrypto are imported where a key is made or read (30 ms of imports that
# every `flask` command and worker start would pay otherwise).


def generate_private_key_pem(bits: int = 2048) -> str:
    """Return a new RSA private key as PKCS#8 PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_jwk_from_pem(private_pem: str) -> dict[str, Any]:
    """Return the public JWK of a private key, with kid = its RFC 7638 thumbprint (as pylti1p3)."""
    from jwcrypto.jwk import JWK

    jwk = JWK.from_pem(private_pem.encode())
    public: dict[str, Any] = jwk.export_public(as_dict=True)
    public.update({"alg": "RS256", "use": "sig", "kid": jwk.thumbprint()})
    return public


def public_pem_from_private(private_pem: str) -> str:
    """The public half of a private key, as PEM (pylti1p3 derives the kid from it)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


#: How an encrypted private key starts in tool_key.private_key_pem (a PEM starts "-----BEGIN").
SEALED = "fernet:"


def seal(pem: str) -> str:
    """The private key as stored: encrypted with DATA_ENCRYPTION_KEY when there is one.

    Without a key (production before DATA_ENCRYPTION_KEY is set) it stays a PEM, as before,
    so that launches keep working; `flask keys encrypt` seals it once the key is set.
    """

    try:
        return SEALED + secrets.encrypt(pem)
    except secrets.SecretsUnavailable:
        log.warning("DATA_ENCRYPTION_KEY is not set: the tool's private key is stored unencrypted")
        return pem


def private_pem(key: ToolKey) -> str:
    """The key's private PEM, decrypted when it is stored sealed."""

    stored = key.private_key_pem
    return secrets.decrypt(stored[len(SEALED) :]) if stored.startswith(SEALED) else stored


def seal_stored_keys() -> int:
    """Encrypt every tool key still stored as a plain PEM; returns how many."""
    sealed = 0
    for key in db.session.scalars(select(ToolKey).order_by(ToolKey.id)):
        if not key.private_key_pem.startswith(SEALED):
            key.private_key_pem = seal(key.private_key_pem)
            sealed += key.private_key_pem.startswith(SEALED)
    return sealed


def create_key(activate: bool = True) -> ToolKey:
    """Create a tool key; when activating, the previous active key stays published."""
    pem = generate_private_key_pem()
    jwk = public_jwk_from_pem(pem)
    key = ToolKey(kid=jwk["kid"], private_key_pem=seal(pem), public_jwk=jwk, active=False)
    db.session.add(key)
    if activate:
        for old in db.session.scalars(select(ToolKey).where(ToolKey.active.is_(True))):
            old.active = False
        key.active = True
    db.session.flush()
    return key


def rotate_key() -> ToolKey:
    """Make a new active signing key, audited; the previous one stays published until retired."""
    active_key()
    key = create_key(activate=True)
    audit.record(db.session, "key_rotated", f"new signing key {key.kid}")
    return key


def active_key() -> ToolKey:
    """Return the signing key, creating the first one when the tool has none."""
    key = db.session.scalar(
        select(ToolKey).where(ToolKey.active.is_(True), ToolKey.retired_at.is_(None))
    )
    if key is None:
        key = create_key(activate=True)
        db.session.commit()
    return key


def published_keys() -> list[ToolKey]:
    """Return every key not yet retired (the JWKS keeps old keys until retirement)."""
    return list(
        db.session.scalars(select(ToolKey).where(ToolKey.retired_at.is_(None)).order_by(ToolKey.id))
    )


def jwks() -> dict[str, list[dict[str, Any]]]:
    """Return the tool's public JSON Web Key Set."""
    active_key()
    return {"keys": [k.public_jwk for k in published_keys()]}


def retire_key(kid: str) -> ToolKey:
    """Retire a non-active key so that it leaves the JWKS (audited)."""
    key = db.session.scalar(select(ToolKey).where(ToolKey.kid == kid))
    if key is None:
        raise LookupError(f"no tool key with kid {kid!r}")
    if key.active:
        raise ValueError("the active key cannot be retired; rotate first")
    key.retired_at = utcnow()
    audit.record(db.session, "key_retired", f"key {kid}")
    return key
