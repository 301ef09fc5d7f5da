"""unique standalone courses and identities (platform_id NULL), by partial unique indexes

Revision ID: 0008_standalone_unique
Revises: 0007_admin
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_standalone_unique'
down_revision = '0007_admin'
branch_labels = None
depends_on = None


def upgrade():
    # NULLs are distinct in unique constraints, so (NULL, kind, value) could repeat; the ingest
    # never writes such duplicates, and these indexes make the database refuse them too.
    op.create_index('uq_course_standalone_context', 'course', ['lti_context_id'], unique=True, sqlite_where=sa.text('platform_id IS NULL'), postgresql_where=sa.text('platform_id IS NULL'))
    op.create_index('uq_person_identity_standalone', 'person_identity', ['kind', 'value'], unique=True, sqlite_where=sa.text('platform_id IS NULL'), postgresql_where=sa.text('platform_id IS NULL'))


def downgrade():
    op.drop_index('uq_person_identity_standalone', table_name='person_identity', sqlite_where=sa.text('platform_id IS NULL'), postgresql_where=sa.text('platform_id IS NULL'))
    op.drop_index('uq_course_standalone_context', table_name='course', sqlite_where=sa.text('platform_id IS NULL'), postgresql_where=sa.text('platform_id IS NULL'))
