"""admin sign-out that ends every session of the administrator on the server
(admin_user.session_generation: carried in each admin session cookie, one more at sign-out)

Revision ID: 0015_admin_session_generation
Revises: 0014_sessions
Create Date: 2026-12-05 08:11:02.493362

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_admin_session_generation'
down_revision = '0014_sessions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
