"""learner_summary_state.stale_at: when a small write (an event-API or xAPI batch, a launch)
last left the course's learner summary behind its data, for the scheduler's refresh job and
the next reader; NULL when the rows are current

Revision ID: 0025_learner_summary_stale
Revises: 0024_learner_summary
Create Date: 2026-12-05 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0025_learner_summary_stale'
down_revision = '0024_learner_summary'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('learner_summary_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stale_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_learner_summary_state_stale_at', ['stale_at'], unique=False)


def downgrade():
    with op.batch_alter_table('learner_summary_state', schema=None) as batch_op:
        batch_op.drop_index('ix_learner_summary_state_stale_at')
        batch_op.drop_column('stale_at')
