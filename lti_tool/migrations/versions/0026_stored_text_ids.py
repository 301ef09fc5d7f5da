"""sync_run.error_id/error_values, data_source.last_check_id/last_check_values,
launch_error.reason_id/reason_values: the message id and values of the texts stored in English,
so pages show them in their language (rows before it keep only the English)

Revision ID: 0026_stored_text_ids
Revises: 0025_learner_summary_stale
Create Date: 2026-12-05 18:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026_stored_text_ids'
down_revision = '0025_learner_summary_stale'
branch_labels = None
depends_on = None

_COLUMNS = (
    ('sync_run', 'error'),
    ('data_source', 'last_check'),
    ('launch_error', 'reason'),
)


def upgrade():
    for table, column in _COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(f'{column}_id', sa.Text(), nullable=True))
            batch_op.add_column(sa.Column(f'{column}_values', sa.JSON(), nullable=True))


def downgrade():
    for table, column in reversed(_COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(f'{column}_values')
            batch_op.drop_column(f'{column}_id')
