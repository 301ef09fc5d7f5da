"""view preferences kept on the server (view_preference: the learners table's columns, per
person and course), since an LMS iframe may have no storage of its own

Revision ID: 0016_view_preference
Revises: 0015_admin_session_generation
Create Date: 2026-12-05 12:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0016_view_preference'
down_revision = '0015_admin_session_generation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('view_preference',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('view', sa.String(length=40), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_view_preference_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_view_preference_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'course_id', 'view', name=op.f('pk_view_preference'))
    )
    with op.batch_alter_table('view_preference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_view_preference_course_id'), ['course_id'], unique=False)


def downgrade():
    with op.batch_alter_table('view_preference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_view_preference_course_id'))

    op.drop_table('view_preference')
