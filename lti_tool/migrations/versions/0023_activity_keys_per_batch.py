"""on PostgreSQL, the event blocks and rollups without per-row foreign keys: the writers check
and lock a batch's course and people once, and statement triggers on person and course delete
their rows as ON DELETE CASCADE did (SQLite keeps its foreign keys)

Revision ID: 0023_activity_keys_per_batch
Revises: 0022_event_names
Create Date: 2026-12-05

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0023_activity_keys_per_batch'
down_revision = '0022_event_names'
branch_labels = None
depends_on = None

# As of this revision (lti_tool.models.activity.BATCH_CHECKED and ROLLUP_CASCADE_DDL then):
# written out here so that later changes to the models leave this migration as it was.
TABLES = (
    'activity_block',
    'learner_day',
    'weekly_activity',
    'video_learner_views',
    'learner_resource',
    'learner_problem',
    'enrollment_change',
)


def _cascade(parent: str, column: str) -> str:
    deletes = ''.join(
        f'  DELETE FROM {table} WHERE {column} IN (SELECT id FROM gone);\n' for table in TABLES
    )
    return (
        f'CREATE OR REPLACE FUNCTION cascade_{parent}_activity() RETURNS trigger '
        f'LANGUAGE plpgsql AS $$\nBEGIN\n{deletes}  RETURN NULL;\nEND $$;\n'
        f'DROP TRIGGER IF EXISTS cascade_activity ON {parent};\n'
        f'CREATE TRIGGER cascade_activity AFTER DELETE ON {parent} '
        f'REFERENCING OLD TABLE AS gone FOR EACH STATEMENT '
        f'EXECUTE FUNCTION cascade_{parent}_activity();\n'
    )


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite checks a foreign key cheaply, in the insert itself: kept
    for table in TABLES:
        op.drop_constraint(f'fk_{table}_course_id_course', table, type_='foreignkey')
        op.drop_constraint(f'fk_{table}_person_id_person', table, type_='foreignkey')
    op.execute(_cascade('person', 'person_id') + _cascade('course', 'course_id'))


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        'DROP TRIGGER IF EXISTS cascade_activity ON person;\n'
        'DROP TRIGGER IF EXISTS cascade_activity ON course;\n'
        'DROP FUNCTION IF EXISTS cascade_person_activity();\n'
        'DROP FUNCTION IF EXISTS cascade_course_activity();\n'
    )
    for table in TABLES:
        # Rows of people or courses deleted meanwhile went with them (the triggers above): the
        # keys hold, and are checked as they are added back.
        op.create_foreign_key(
            f'fk_{table}_course_id_course', table, 'course', ['course_id'], ['id'],
            ondelete='CASCADE',
        )
        op.create_foreign_key(
            f'fk_{table}_person_id_person', table, 'person', ['person_id'], ['id'],
            ondelete='CASCADE',
        )
