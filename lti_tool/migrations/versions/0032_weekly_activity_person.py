"""weekly_activity by course and person: a rebuild deletes a few learners' weeks, and keeps
them first for the course summary to follow its weekly counts through the change, by key
rather than by a scan of the course's weeks

Revision ID: 0032_weekly_activity_person
Revises: 0031_learner_activity
Create Date: 2026-12-07 05:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0032_weekly_activity_person'
down_revision = '0031_learner_activity'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_weekly_activity_person', 'weekly_activity', ['course_id', 'person_id'], unique=False)


def downgrade():
    op.drop_index('ix_weekly_activity_person', table_name='weekly_activity')
