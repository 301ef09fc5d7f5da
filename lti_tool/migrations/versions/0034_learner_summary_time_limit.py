"""learner_summary_state.time_limit: the class's little-time threshold the rows were assessed
with, so that a refresh after an ingest that moves it (a course with completion or scores: the
threshold is a percentile of every learner's time) writes again only the rows whose reason it
changes, not the whole class

Revision ID: 0034_learner_summary_time_limit
Revises: 0033_learner_summary_measures
Create Date: 2026-12-07 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_learner_summary_time_limit'
down_revision = '0033_learner_summary_measures'
branch_labels = None
depends_on = None


def upgrade():
    # NULL: no threshold (the rule off, nobody with a time, nobody behind the class), or
    # written by a version without it (its measures digest is another: the whole class).
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.add_column(sa.Column('time_limit', sa.Float(precision=53), nullable=True))


def downgrade():
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.drop_column('time_limit')
