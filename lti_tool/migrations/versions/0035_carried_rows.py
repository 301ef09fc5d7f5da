"""carried_rows and learner_summary_state.carried_from / carried_to: a small write's (an
event-API or xAPI batch's) replaced rows, as they were, kept for the next refresh, so that it
follows the change of a few learners as an ingest's own commit does instead of adding up the
whole class again

Revision ID: 0035_carried_rows
Revises: 0034_learner_summary_time_limit
Create Date: 2026-12-07 12:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0035_carried_rows'
down_revision = '0034_learner_summary_time_limit'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'carried_rows',
        sa.Column('course_id', sa.Integer(), nullable=False),
        # No foreign key to person: a merge deletes the person whose rows it carries.
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['course_id'], ['course.id'], name=op.f('fk_carried_rows_course_id_course'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('course_id', 'person_id', name=op.f('pk_carried_rows')),
    )
    # NULL: nothing carried (the next refresh follows only its own transaction's change).
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.add_column(sa.Column('carried_from', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('carried_to', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('learner_summary_state') as batch:
        batch.drop_column('carried_to')
        batch.drop_column('carried_from')
    op.drop_table('carried_rows')
