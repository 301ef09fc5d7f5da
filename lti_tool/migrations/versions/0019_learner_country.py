"""where learners are (learner_country: each learner's last known country per course, from the
network address of their latest event; the address itself is never stored)

Revision ID: 0019_learner_country
Revises: 0018_event_details
Create Date: 2026-12-05 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_learner_country'
down_revision = '0018_event_details'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('learner_country',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('seen_time', sa.Float(precision=53), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_learner_country_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_learner_country_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_learner_country')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('learner_country', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learner_country_person_id'), ['person_id'], unique=False)


def downgrade():
    with op.batch_alter_table('learner_country', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learner_country_person_id'))

    op.drop_table('learner_country')
