"""page_summary: per course and page the whole-class figures a page reads (the videos page,
the typical learner's videos), with the data fingerprint they were computed from

Revision ID: 0029_page_summary
Revises: 0028_learner_summary_indexes
Create Date: 2026-12-05 21:05:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0029_page_summary'
down_revision = '0028_learner_summary_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('page_summary',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('page', sa.String(length=40), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('computed_at', lti_tool.models.types.UTCDateTime(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_page_summary_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'page', name=op.f('pk_page_summary'))
    )


def downgrade():
    op.drop_table('page_summary')
