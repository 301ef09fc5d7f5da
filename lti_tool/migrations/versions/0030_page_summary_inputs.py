"""page_summary: the digest of what each page's figures are computed from (the course's
activity, syncs and label, the class's learners), so a refresh that changed none of it (a
settings change, a new day, a staff launch) keeps them instead of adding up the class again

Revision ID: 0030_page_summary_inputs
Revises: 0029_page_summary
Create Date: 2026-12-06 00:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_page_summary_inputs'
down_revision = '0029_page_summary'
branch_labels = None
depends_on = None


def upgrade():
    # '' matches no digest: rows written before are computed again at their next refresh.
    with op.batch_alter_table('page_summary') as batch:
        batch.add_column(sa.Column('inputs', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('page_summary') as batch:
        batch.drop_column('inputs')
