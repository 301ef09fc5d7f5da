"""the resources each learner opened (a rollup, rebuilt from the event blocks)

Revision ID: 0009_learner_resource
Revises: 0008_standalone_unique
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0009_learner_resource'
down_revision = '0008_standalone_unique'
branch_labels = None
depends_on = None


def upgrade():
    # Filled for each learner as their rollups are next rebuilt (any new activity), or for a
    # whole course at once with `flask data rebuild-rollups --course C`.
    op.create_table('learner_resource',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('first_time', sa.Float(precision=53), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_learner_resource_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_learner_resource_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', 'resource_id', name=op.f('pk_learner_resource')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('learner_resource')
