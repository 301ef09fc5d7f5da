"""data pulled from LMS APIs: sources, sections, assignments, submissions, modules, stats, blocks

Revision ID: 0005_lms_data
Revises: 0004_sync
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0005_lms_data'
down_revision = '0004_sync'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('data_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('location', sa.String(length=2000), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=True),
    sa.Column('secret_encrypted', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_checked_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_check', sa.Text(), nullable=True),
    sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], name=op.f('fk_data_source_platform_id_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_source')),
    sa.UniqueConstraint('platform_id', 'kind', 'location', name=op.f('uq_data_source_platform_id_kind_location'))
    )
    with op.batch_alter_table('data_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_source_platform_id'), ['platform_id'], unique=False)

    op.create_table('section',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('lms_section_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_section_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section')),
    sa.UniqueConstraint('course_id', 'lms_section_id', name=op.f('uq_section_course_id_lms_section_id'))
    )

    op.create_table('section_member',
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_section_member_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_member_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('section_id', 'person_id', name=op.f('pk_section_member'))
    )
    with op.batch_alter_table('section_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_member_person_id'), ['person_id'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('lms_assignment_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('due_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('points_possible', sa.Float(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_assignment_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('course_id', 'lms_assignment_id', name=op.f('uq_assignment_course_id_lms_assignment_id'))
    )

    op.create_table('submission',
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('submitted_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('graded_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('missing', sa.Boolean(), nullable=False),
    sa.Column('excused', sa.Boolean(), nullable=False),
    sa.Column('workflow_state', sa.String(length=30), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_submission_assignment_id_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_submission_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('assignment_id', 'person_id', name=op.f('pk_submission'))
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_person_id'), ['person_id'], unique=False)

    op.create_table('course_module',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('lms_module_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('items_required', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_module_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_module')),
    sa.UniqueConstraint('course_id', 'lms_module_id', name=op.f('uq_course_module_course_id_lms_module_id'))
    )

    op.create_table('module_progress',
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('items_required', sa.Integer(), nullable=False),
    sa.Column('items_done', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('completed_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['module_id'], ['course_module.id'], name=op.f('fk_module_progress_module_id_course_module'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_module_progress_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('module_id', 'person_id', name=op.f('pk_module_progress'))
    )
    with op.batch_alter_table('module_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_module_progress_person_id'), ['person_id'], unique=False)

    op.create_table('lms_learner_stats',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('total_activity_seconds', sa.Integer(), nullable=True),
    sa.Column('last_activity_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_score', sa.Float(), nullable=True),
    sa.Column('final_score', sa.Float(), nullable=True),
    sa.Column('current_grade', sa.String(length=50), nullable=True),
    sa.Column('final_grade', sa.String(length=50), nullable=True),
    sa.Column('page_views', sa.Integer(), nullable=True),
    sa.Column('participations', sa.Integer(), nullable=True),
    sa.Column('missing', sa.Integer(), nullable=True),
    sa.Column('late', sa.Integer(), nullable=True),
    sa.Column('on_time', sa.Integer(), nullable=True),
    sa.Column('requirements', sa.Integer(), nullable=True),
    sa.Column('requirements_done', sa.Integer(), nullable=True),
    sa.Column('completed_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('synced_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lms_learner_stats_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_lms_learner_stats_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_lms_learner_stats'))
    )
    with op.batch_alter_table('lms_learner_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lms_learner_stats_person_id'), ['person_id'], unique=False)

    op.create_table('lms_course_activity_day',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('participations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lms_course_activity_day_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'day', name=op.f('pk_lms_course_activity_day'))
    )

    op.create_table('lms_learner_activity_hour',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('hour', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('participations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lms_learner_activity_hour_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_lms_learner_activity_hour_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', 'hour', name=op.f('pk_lms_learner_activity_hour'))
    )
    with op.batch_alter_table('lms_learner_activity_hour', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lms_learner_activity_hour_person_id'), ['person_id'], unique=False)

    op.create_table('course_block',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('block_id', sa.String(length=255), nullable=False),
    sa.Column('block_type', sa.String(length=50), nullable=False),
    sa.Column('display_name', sa.String(length=500), nullable=False),
    sa.Column('parent_id', sa.String(length=255), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('graded', sa.Boolean(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_course_block_course_id_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'block_id', name=op.f('pk_course_block'))
    )


def downgrade():
    op.drop_table('course_block')
    with op.batch_alter_table('lms_learner_activity_hour', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lms_learner_activity_hour_person_id'))

    op.drop_table('lms_learner_activity_hour')
    op.drop_table('lms_course_activity_day')
    with op.batch_alter_table('lms_learner_stats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lms_learner_stats_person_id'))

    op.drop_table('lms_learner_stats')
    with op.batch_alter_table('module_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_module_progress_person_id'))

    op.drop_table('module_progress')
    op.drop_table('course_module')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_person_id'))

    op.drop_table('submission')
    op.drop_table('assignment')
    with op.batch_alter_table('section_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_member_person_id'))

    op.drop_table('section_member')
    op.drop_table('section')
    with op.batch_alter_table('data_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_source_platform_id'))

    op.drop_table('data_source')
