"""course_summary: per course the class figures the overview and the student page read, with
the data fingerprint they were computed from

Revision ID: 0027_course_summary
Revises: 0026_stored_text_ids
Create Date: 2026-12-05 18:55:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0027_course_summary'
down_revision = '0026_stored_text_ids'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('course_summary',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('computed_at', lti_tool.models.types.UTCDateTime(), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_summary_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_course_summary'))
    )


def downgrade():
    op.drop_table('course_summary')
