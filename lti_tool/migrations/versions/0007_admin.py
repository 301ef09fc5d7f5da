"""administrators, login attempts, the access log, and admin launches per deployment

Revision ID: 0007_admin
Revises: 0006_course_settings
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0007_admin'
down_revision = '0006_course_settings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=500), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['deployment_id'], ['lti_deployment.id'], name=op.f('fk_admin_user_deployment_id_lti_deployment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_user')),
    sa.UniqueConstraint('email', name=op.f('uq_admin_user_email'))
    )

    op.create_table('admin_login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_login_attempt'))
    )
    with op.batch_alter_table('admin_login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_admin_login_attempt_key_at', ['key', 'at'], unique=False)

    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('viewer_person_id', sa.Integer(), nullable=True),
    sa.Column('viewer_label', sa.String(length=400), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject_person_id', sa.Integer(), nullable=True),
    sa.Column('subjects', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_access_log_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_person_id'], ['person.id'], name=op.f('fk_access_log_subject_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['viewer_person_id'], ['person.id'], name=op.f('fk_access_log_viewer_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_course_at', ['course_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_subject_person_id'), ['subject_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_viewer_person_id'), ['viewer_person_id'], unique=False)

    # Plain ALTER TABLE, never a batch copy: on SQLite the copy's DROP TABLE would cascade.
    op.add_column('lti_deployment', sa.Column('admin_launch_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    op.drop_column('lti_deployment', 'admin_launch_enabled')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_viewer_person_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_subject_person_id'))
        batch_op.drop_index('ix_access_log_course_at')

    op.drop_table('access_log')
    with op.batch_alter_table('admin_login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_login_attempt_key_at')

    op.drop_table('admin_login_attempt')
    op.drop_table('admin_user')
