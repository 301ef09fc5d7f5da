"""The catalogs: messages.pot holds every message the code and templates mark, and the Spanish
and Norwegian catalogs translate every one of them (none missing, none fuzzy)."""

from __future__ import annotations

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
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(ROOT / ".venv/bin/pybabel"),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "ngettext:1,2",
            "-k",
            "lazy_gettext",
            "-k",
            "lazy_ngettext:1,2",
            "--no-location",
            "-o",
            str(fresh),
            str(ROOT / "lti_tool"),
        ],
        check=True,
        capture_output=True,
    )
    assert _ids(fresh) == _ids(TEMPLATE), "run scripts/catalogs update"


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
