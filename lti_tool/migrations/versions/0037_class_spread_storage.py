"""class_spread's values stored uncompressed on PostgreSQL

Revision ID: 0037_class_spread_storage
Revises: 0036_class_spread
Create Date: 2026-12-07 19:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0037_class_spread_storage'
down_revision = '0036_class_spread'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    # A spread's parts are packed numbers (hundreds of KB each at 100,000 learners), which
    # compress poorly: PostgreSQL's TOAST compressed them anyway on every write (a 1 % ingest's
    # refresh wrote them in 0.25 s; uncompressed, 0.09 s). SQLite: nothing.
    if _postgres():
        op.execute('ALTER TABLE class_spread ALTER COLUMN data SET STORAGE EXTERNAL')


def downgrade():
    if _postgres():
        op.execute('ALTER TABLE class_spread ALTER COLUMN data SET STORAGE EXTENDED')
