"""the tool's private keys encrypted at rest with DATA_ENCRYPTION_KEY (when it is set)

Revision ID: 0013_sealed_tool_keys
Revises: 0012_tenancy
Create Date: 2026-12-05

No schema change: tool_key.private_key_pem holds either a PEM (as before) or "fernet:" and the
key encrypted with the first DATA_ENCRYPTION_KEY (lti_tool.launch.keys.seal). When the variable
is set at upgrade, every plain key is encrypted; when it is not, keys stay as they are and
`flask keys encrypt` encrypts them once it is. The downgrade decrypts them again (it needs the
variable when any key is encrypted).
"""
import os

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_sealed_tool_keys'
down_revision = '0012_tenancy'
branch_labels = None
depends_on = None

SEALED = "fernet:"
tool_key = sa.table("tool_key", sa.column("id", sa.Integer), sa.column("private_key_pem", sa.Text))


def _fernet():
    """The DATA_ENCRYPTION_KEY keys (first encrypts, all decrypt), or None when unset."""
    raw = os.environ.get("DATA_ENCRYPTION_KEY", "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(k) for k in keys])


def upgrade():
    fernet = _fernet()
    if fernet is None:
        return  # nothing to encrypt with: `flask keys encrypt` does it once the key is set
    bind = op.get_bind()
    for key_id, pem in bind.execute(sa.select(tool_key.c.id, tool_key.c.private_key_pem)).all():
        if not pem.startswith(SEALED):
            sealed = SEALED + fernet.encrypt(pem.encode()).decode()
            bind.execute(
                tool_key.update().where(tool_key.c.id == key_id).values(private_key_pem=sealed)
            )


def downgrade():
    bind = op.get_bind()
    rows = bind.execute(sa.select(tool_key.c.id, tool_key.c.private_key_pem)).all()
    sealed = [(key_id, value) for key_id, value in rows if value.startswith(SEALED)]
    if not sealed:
        return
    fernet = _fernet()
    if fernet is None:
        raise RuntimeError(
            "tool keys are encrypted: set DATA_ENCRYPTION_KEY to downgrade (they are decrypted)"
        )
    for key_id, value in sealed:
        pem = fernet.decrypt(value[len(SEALED):].encode()).decode()
        bind.execute(tool_key.update().where(tool_key.c.id == key_id).values(private_key_pem=pem))
