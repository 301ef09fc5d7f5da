"""lms_enrollment: when the LMS made a learner's enrollment and its mode (Canvas `created_at`
and type, Open edX `created` and `mode`), for the enrollment page of a course without
enrollment events

Revision ID: 0020_enrollment_daily
Revises: 0019_learner_country
Create Date: 2026-12-05 14:55:00.000000

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0020_enrollment_daily'
down_revision = '0019_learner_country'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lms_enrollment',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('mode', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lms_enrollment_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_lms_enrollment_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_lms_enrollment'))
    )
    with op.batch_alter_table('lms_enrollment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lms_enrollment_person_id'), ['person_id'], unique=False)


def downgrade():
    with op.batch_alter_table('lms_enrollment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lms_enrollment_person_id'))

    op.drop_table('lms_enrollment')
