"""A stored sync error in the page's language (issue 19): the run keeps the message id and its
values beside the English, and a Spanish or Norwegian page shows its own words."""

from __future__ import annotations

import json
from typing import Any

from lti_tool.i18n import stored, text
from lti_tool.i18n.catalogs import translations_for


def error_in_languages(
    english: str | None, message: str | None, values: dict[str, Any] | None
) -> dict[str, str]:
    """A failed run's stored error (its English column, id and values) as each language's page
    shows it; asserts the id was kept and that Spanish and Norwegian are not the English."""
    assert english is not None
    assert message is not None, f"kept in English alone: {english!r}"
    values = json.loads(json.dumps(values))  # as the JSON column gives them back
    shown: dict[str, str] = {}
    for language in ("en", "es", "nb"):
        with text.using(translations_for(language)):
            shown[language] = str(stored.shown(english, message, values))
    assert shown["en"] == english  # the English column is the message in English
    assert shown["es"] != english and shown["nb"] != english, shown
    return shown
