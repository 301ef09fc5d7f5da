"""learner_summary_state.measures and renamed: what the rows were measured against besides
each learner's own figures, and whom a write showed otherwise while they are stale, so that a
refresh after an ingest of a few learners writes only their rows (and the renamed learners')
when the class's thresholds did not move

Revision ID: 0033_learner_summary_measures
Revises: 0032_weekly_activity_person
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0033_learner_summary_measures'
down_revision = '0032_weekly_activity_person'
branch_labels = None
depends_on = None


def upgrade():
    # NULL: written by a version without it; the next refresh writes the whole class.
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.add_column(sa.Column('measures', sa.String(length=64), nullable=True))
        # NULL: not stale, or stale for reasons unknown.
        batch.add_column(sa.Column('renamed', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.drop_column('renamed')
        batch.drop_column('measures')
