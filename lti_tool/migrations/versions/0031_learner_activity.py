"""learner_activity: each learner's activity totals as the learner summary's last refresh
added them up, and what they are of (learner_summary_state.activity), so that a refresh after
an ingest of a few learners adds up only theirs

Revision ID: 0031_learner_activity
Revises: 0030_page_summary_inputs
Create Date: 2026-12-07 02:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_learner_activity'
down_revision = '0030_page_summary_inputs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('learner_activity',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('totals', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_learner_activity_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_learner_activity_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_learner_activity'))
    )
    # NULL: no totals kept yet; the next refresh adds up every learner's days and keeps them.
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.add_column(sa.Column('activity', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.drop_column('activity')
    op.drop_table('learner_activity')
