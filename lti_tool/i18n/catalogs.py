"""The message catalogs: lti_tool/translations/<language>/LC_MESSAGES/messages.po, read as they
are (no compiled .mo files to build or keep in step), and a pseudo-locale for the tests.

`scripts/catalogs` extracts the messages into messages.pot and updates the .po files
(README "Languages").
"""

from __future__ import annotations

import functools
import io
from gettext import GNUTranslations, NullTranslations
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from lti_tool.i18n import DEFAULT, LANGUAGES

ROOT = Path(__file__).resolve().parent.parent / "translations"
TEMPLATE = ROOT / "messages.pot"
#: Wrapped around every translated message in the pseudo-locale: text without them was not
#: marked for translation.
PSEUDO_OPEN, PSEUDO_CLOSE = "\u27e6", "\u27e7"


def po_path(language: str) -> Path:
    """Where a language's catalog lives."""
    return ROOT / language / "LC_MESSAGES" / "messages.po"


def _compiled(catalog: Catalog) -> GNUTranslations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return GNUTranslations(buffer)


@functools.cache
def translations_for(language: str) -> NullTranslations:
    """A language's translations (English, and a language without a catalog: the messages
    as written)."""
    if language == DEFAULT or language not in LANGUAGES or not po_path(language).is_file():
        return NullTranslations()
    with po_path(language).open("rb") as stream:
        return _compiled(read_po(stream, locale=language))


def pseudo_translations() -> GNUTranslations:
    """Every message of messages.pot wrapped in ⟦…⟧ (plurals too): a page in this locale shows
    every marked message bracketed, so unmarked text stands out."""
    with TEMPLATE.open("rb") as stream:
        template = read_po(stream)
    catalog = Catalog(locale="en")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            catalog.add(
                message.id,
                tuple(PSEUDO_OPEN + form + PSEUDO_CLOSE for form in message.id),
            )
        else:
            catalog.add(message.id, PSEUDO_OPEN + message.id + PSEUDO_CLOSE)
    return _compiled(catalog)
