"""class_spread: a course's class spread (the sorted values its thresholds, segment cuts and
weekly quartiles are taken of), kept beside the learners' kept totals so that a refresh after
a change of a few learners takes their old values out and their new ones in

Revision ID: 0036_class_spread
Revises: 0035_carried_rows
Create Date: 2026-12-07 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0036_class_spread'
down_revision = '0035_carried_rows'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'class_spread',
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('part', sa.String(length=40), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['course_id'], ['course.id'], name=op.f('fk_class_spread_course_id_course'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('course_id', 'part', name=op.f('pk_class_spread')),
    )


def downgrade():
    op.drop_table('class_spread')
