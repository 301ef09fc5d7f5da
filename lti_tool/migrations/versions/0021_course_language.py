"""the pages' default language per course (course_settings.language: en, es or nb; empty: the
browser's), used when the launch names no language the tool offers

Revision ID: 0021_course_language
Revises: 0020_enrollment_daily
Create Date: 2026-12-05 15:28:56.630938

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0021_course_language'
down_revision = '0020_enrollment_daily'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=10), nullable=True))



def downgrade():
    with op.batch_alter_table('course_settings', schema=None) as batch_op:
        batch_op.drop_column('language')

