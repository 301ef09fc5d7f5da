"""The catalogs: messages.pot holds every message the code and templates mark, and the Spanish
and Norwegian catalogs translate every one of them (none missing, none fuzzy)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from lti_tool.i18n import LANGUAGES
from lti_tool.i18n.catalogs import TEMPLATE, po_path

ROOT = Path(__file__).resolve().parents[2]


def _ids(path: Path) -> set[str]:
    with path.open("rb") as stream:
        return {str(m.id) for m in read_po(stream) if m.id}


def test_messages_pot_is_up_to_date_with_the_code(tmp_path: Path) -> None:
    # babel.cfg alone, as scripts/catalogs extracts: it is the one list of the keywords.
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(ROOT / ".venv/bin/pybabel"),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--no-location",
            "-o",
            str(fresh),
            str(ROOT / "lti_tool"),
        ],
        check=True,
        capture_output=True,
    )
    found = _ids(fresh)
    # A message marked by each of babel.cfg's keywords: N_, lazy_gettext, lazy_ngettext.
    assert "Roster (Names and Roles)" in found
    assert "Assignments have due dates" in found
    assert (
        str(("The assignment has a due date.", "All %(num)d assignments have a due date.")) in found
    )
    assert found == _ids(TEMPLATE), "run scripts/catalogs update"


def test_scripts_catalogs_names_no_keywords_of_its_own() -> None:
    script = (ROOT / "scripts" / "catalogs").read_text(encoding="utf-8")
    assert "-F babel.cfg" in script
    assert not re.search(r"(^|\s)(-k|--keyword)\b", script)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_message_is_translated(language: str) -> None:
    with po_path(language).open("rb") as stream:
        catalog = read_po(stream, locale=language)
    assert {str(m.id) for m in catalog if m.id} == _ids(TEMPLATE), "run scripts/catalogs update"
    untranslated = [
        m.id
        for m in catalog
        if m.id
        and (
            not m.string
            or (isinstance(m.string, tuple) and not all(m.string))
            or "fuzzy" in m.flags
        )
    ]
    assert not untranslated, f"{language}: {len(untranslated)} to translate: {untranslated[:10]}"
