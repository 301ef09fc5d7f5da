"""course events of the LMS hold names, not English words: course_event.section_name (a
section's due date: the section's name), and the titles of existing LMS due dates cut back to
the item's name ("Essay 1 (Section B)" → "Essay 1" and "Section B"; "Homework 1 due" →
"Homework 1"; the English stand-ins "Assignment 12" and "Graded subsection" → ""), so that the
pages write "… due" in the viewer's language

Revision ID: 0022_event_names
Revises: 0021_course_language
Create Date: 2026-12-05 18:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_event_names'
down_revision = '0021_course_language'
branch_labels = None
depends_on = None

_EVENTS = sa.table(
    'course_event',
    sa.column('id', sa.Integer),
    sa.column('source', sa.String),
    sa.column('lms_id', sa.String),
    sa.column('kind', sa.String),
    sa.column('section_id', sa.Integer),
    sa.column('title', sa.String),
    sa.column('section_name', sa.String),
)
_SECTIONS = sa.table('section', sa.column('id', sa.Integer), sa.column('name', sa.String))
# The sources whose events the syncs write (staff's own titles are left as they are).
_LMS = ('canvas', 'openedx')


def _name_and_section(
    source: str, lms_id: str, title: str, section: str | None
) -> tuple[str, str | None]:
    """The item's name and the section's name in a title the syncs wrote in English."""
    item, _sep, section_key = lms_id.partition(':section:')
    label = None
    if section_key:
        # "<name> (<section's name, or 'section <key>'>)", as the Canvas sync wrote it; the
        # name it wrote may be the one the dates list gave, not the section table's.
        fallback = f'section {section_key}'
        for candidate in (section, fallback):
            if candidate and title.endswith(f' ({candidate})'):
                title = title[: -len(f' ({candidate})')]
                label = None if candidate == fallback else candidate
                break
        else:
            if title.endswith(')') and ' (' in title:
                title, _sep, label = title[:-1].rpartition(' (')
    if title.endswith(' due'):  # the demo's "Homework 1 due"
        title = title[: -len(' due')]
    if (source == 'canvas' and title == f'Assignment {item}') or (
        source == 'openedx' and title == 'Graded subsection'
    ):
        title = ''
    return title, label


def upgrade():
    with op.batch_alter_table('course_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('section_name', sa.String(length=500), nullable=True))
    bind = op.get_bind()
    sections = dict(bind.execute(sa.select(_SECTIONS.c.id, _SECTIONS.c.name)).tuples().all())
    rows = bind.execute(
        sa.select(
            _EVENTS.c.id, _EVENTS.c.source, _EVENTS.c.lms_id, _EVENTS.c.title, _EVENTS.c.section_id
        ).where(_EVENTS.c.source.in_(_LMS), _EVENTS.c.kind == 'due')
    ).all()
    for event_id, source, lms_id, title, section_id in rows:
        section = sections.get(section_id) if section_id is not None else None
        name, label = _name_and_section(source, lms_id or '', title, section)
        if (name, label) != (title, None):
            bind.execute(
                _EVENTS.update()
                .where(_EVENTS.c.id == event_id)
                .values(title=name, section_name=label)
            )


def downgrade():
    # The English titles the syncs wrote before (a sync writes them again in any case).
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _EVENTS.c.id, _EVENTS.c.source, _EVENTS.c.lms_id, _EVENTS.c.title,
            _EVENTS.c.section_name,
        ).where(_EVENTS.c.source.in_(_LMS), _EVENTS.c.kind == 'due')
    ).all()
    for event_id, source, lms_id, title, section_name in rows:
        item, _sep, section_key = (lms_id or '').partition(':section:')
        name = title or ('Graded subsection' if source == 'openedx' else f'Assignment {item}')
        if section_key:
            name = f"{name} ({section_name or f'section {section_key}'})"
        if name != title:
            bind.execute(_EVENTS.update().where(_EVENTS.c.id == event_id).values(title=name[:500]))
    with op.batch_alter_table('course_event', schema=None) as batch_op:
        batch_op.drop_column('section_name')
