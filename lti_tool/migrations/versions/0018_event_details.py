"""learner_problem and enrollment_change rollups: the answers of each learner's first and last
problem check per problem, and enrollment events with their modes (read from the events' new
`detail`, which lives inside the activity_block values: no column changes there)

Revision ID: 0018_event_details
Revises: 0017_risk_backtest
Create Date: 2026-12-05 14:40:15.561860

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0018_event_details'
down_revision = '0017_risk_backtest'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enrollment_change',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('time', sa.Float(precision=53), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('mode', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_enrollment_change_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_enrollment_change_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', 'time', 'name', name=op.f('pk_enrollment_change')),
    sqlite_with_rowid=False
    )
    op.create_table('learner_problem',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.String(length=255), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('correct_at', sa.Integer(), nullable=True),
    sa.Column('first_time', sa.Float(precision=53), nullable=False),
    sa.Column('last_time', sa.Float(precision=53), nullable=False),
    sa.Column('display_name', sa.String(length=500), nullable=True),
    sa.Column('answers', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_learner_problem_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_learner_problem_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', 'problem_id', name=op.f('pk_learner_problem')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('learner_problem')
    op.drop_table('enrollment_change')
