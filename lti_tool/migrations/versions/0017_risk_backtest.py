"""the at-risk backtest: weekly score snapshots (score_snapshot) and the course's last day
(course_settings.ends_on), after which the course has an outcome to judge flags by

Revision ID: 0017_risk_backtest
Revises: 0016_view_preference
Create Date: 2026-12-05 14:39:24.769863

"""
from alembic import op
import sqlalchemy as sa

import lti_tool.models.types


# revision identifiers, used by Alembic.
revision = '0017_risk_backtest'
down_revision = '0016_view_preference'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('score_snapshot',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('posted_score', sa.Float(), nullable=True),
    sa.Column('taken_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_score_snapshot_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_score_snapshot_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'person_id', 'week_start', name=op.f('pk_score_snapshot')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('score_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_snapshot_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('course_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))



def downgrade():
    with op.batch_alter_table('course_settings', schema=None) as batch_op:
        batch_op.drop_column('ends_on')

    with op.batch_alter_table('score_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_snapshot_person_id'))

    op.drop_table('score_snapshot')
