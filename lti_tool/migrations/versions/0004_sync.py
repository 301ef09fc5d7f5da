"""sync runs, scheduler job slots, and the NRPS memberships URL of a course

Revision ID: 0004_sync
Revises: 0003_api_tokens
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0004_sync'
down_revision = '0003_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=100), nullable=False),
    sa.Column('slot_start', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_slot')),
    sa.UniqueConstraint('job', 'slot_start', name=op.f('uq_job_slot_job_slot_start'))
    )
    op.create_table('sync_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('queued_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_sync_run_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_run'))
    )
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.create_index('ix_sync_run_course_source_queued', ['course_id', 'source', 'queued_at'], unique=False)
        batch_op.create_index('ix_sync_run_status', ['status'], unique=False)
        # At most one queued and one running run per course and source.
        batch_op.create_index('uq_sync_run_queued', ['course_id', 'source'], unique=True, sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
        batch_op.create_index('uq_sync_run_running', ['course_id', 'source'], unique=True, sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'"))

    # Plain ALTER TABLE, never a batch copy of `course`: on SQLite with foreign keys on, the
    # copy's DROP TABLE course would cascade-delete every enrollment, event and rollup.
    op.add_column('course', sa.Column('nrps_memberships_url', sa.String(length=2000), nullable=True))
    op.add_column('course', sa.Column('nrps_client_id', sa.String(length=255), nullable=True))


def downgrade():
    # In place on SQLite too (ALTER TABLE DROP COLUMN, SQLite 3.35+): no copy of `course`.
    op.drop_column('course', 'nrps_client_id')
    op.drop_column('course', 'nrps_memberships_url')

    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_index('uq_sync_run_running', sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'"))
        batch_op.drop_index('uq_sync_run_queued', sqlite_where=sa.text("status = 'queued'"), postgresql_where=sa.text("status = 'queued'"))
        batch_op.drop_index('ix_sync_run_status')
        batch_op.drop_index('ix_sync_run_course_source_queued')

    op.drop_table('sync_run')
    op.drop_table('job_slot')
