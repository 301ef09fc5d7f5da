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


# Glossary terms the catalogs must render one way (docs/glossary.md): the English term in a
# message, and the word (a stem: plurals and compounds match) its translation must hold.
GLOSSARY = ROOT / "docs" / "glossary.md"
CONSISTENT = {
    "roster": (r"\broster", {"es": "lista de clase", "nb": "deltakerlist"}),
    "learner": (r"\blearners?\b", {"es": "estudiante", "nb": "student"}),
    "course staff": (r"\bcourse staff\b", {"es": "equipo docente", "nb": "underviser"}),
    "at risk": (r"\bat risk\b", {"es": "en riesgo", "nb": "i faresonen"}),
    "due date": (r"\bdue dates?\b", {"es": "fecha de entrega|fechas de entrega", "nb": "frist"}),
    "completion requirement": (
        r"\bcompletion requirements?\b",
        {"es": "requisitos? de finalización", "nb": "fullføringskrav"},
    ),
}


def _glossary_row(term: str) -> dict[str, str]:
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] == term:
            return {"es": cells[1].lower(), "nb": cells[2].lower()}
    raise AssertionError(f"the glossary has no row for {term!r}")


@pytest.mark.parametrize("language", ["es", "nb"])
@pytest.mark.parametrize("term", sorted(CONSISTENT))
def test_the_catalogs_use_the_glossarys_words(term: str, language: str) -> None:
    english, words = CONSISTENT[term]
    # The word checked is the glossary's (so the two cannot drift apart).
    assert re.search(words[language], _glossary_row(term)[language]), term
    with po_path(language).open("rb") as stream:
        catalog = read_po(stream, locale=language)
    off = [
        str(m.id)[:80]
        for m in catalog
        if m.id
        and re.search(english, m.id[0] if isinstance(m.id, tuple) else m.id, re.I)
        and not re.search(
            words[language], m.string[0] if isinstance(m.string, tuple) else m.string, re.I
        )
    ]
    assert not off, f"{language}: {term!r} not as the glossary says in {off}"
