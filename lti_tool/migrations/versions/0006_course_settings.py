"""course settings and course events

Revision ID: 0006_course_settings
Revises: 0005_lms_data
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0006_course_settings'
down_revision = '0005_lms_data'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('course_settings',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('time_cutoff_minutes', sa.Integer(), nullable=False),
    sa.Column('privacy_floor', sa.Integer(), nullable=False),
    sa.Column('risk_inactive_days', sa.Integer(), nullable=False),
    sa.Column('risk_time_percentile', sa.Integer(), nullable=False),
    sa.Column('risk_completion_behind', sa.Integer(), nullable=False),
    sa.Column('risk_pass_mark', sa.Float(), nullable=True),
    sa.Column('student_views', sa.JSON(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_settings_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', name=op.f('pk_course_settings'))
    )

    op.create_table('course_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('lms_id', sa.String(length=255), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_event_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_event')),
    sa.UniqueConstraint('course_id', 'source', 'lms_id', name=op.f('uq_course_event_course_id_source_lms_id'))
    )
    with op.batch_alter_table('course_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_event_course_id'), ['course_id'], unique=False)


def downgrade():
    with op.batch_alter_table('course_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_event_course_id'))

    op.drop_table('course_event')
    op.drop_table('course_settings')
