"""{{ _() }} and ngettext() in the tool's templates say exactly what Jinja's own "newstyle"
gettext says (the tool installs its own, lighter, callables): translated, placeholders filled
and escaped, "%%" read as "%" with or without values, in and out of autoescaping."""

from __future__ import annotations

import pytest
from flask import Flask
from jinja2 import Environment

from lti_tool.i18n.catalogs import translations_for

SOURCES = (
    '{{ _("Not found") }}',
    '{{ _("Share of the class active (%%)") }}',
    '{{ _("Hello %(name)s.", name=who) }}',
    '{{ ngettext("your longest run was %(num)d day in a row,", '
    '"your longest run was %(num)d days in a row,", n) }}',
    '{{ ngettext("This class has %(num)d learner: type part of a name, e-mail or id and press '
    'Show to list the learners it finds, then choose one.", "This class has %(num)d learners: '
    "type part of a name, e-mail or id and press Show to list the learners it finds, then "
    'choose one.", n) }}',
    '{% set said = _("Not found") %}{{ said }} {{ said|length }} {{ said ~ who }}',
    "{{ _(\"You are looking at <strong>%(name)s</strong>'s page as they see it. This look is "
    "written to the course's access log.\", name=who) }}",
)


def _reference(language: str) -> Environment:
    translations = translations_for(language)
    # Escaping as each template's {% autoescape %} block says.
    environment = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        translations.gettext, translations.ngettext, newstyle=True
    )
    return environment


@pytest.mark.parametrize("language", ["en", "es", "nb"])
@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("source", SOURCES)
def test_template_messages_read_as_jinjas_own_gettext_writes_them(
    app: Flask, language: str, autoescape: bool, source: str
) -> None:
    wrapped = f"{{% autoescape {str(autoescape).lower()} %}}{source}{{% endautoescape %}}"
    expected = _reference(language).from_string(wrapped)
    ours = app.jinja_env.from_string(wrapped)
    with app.test_request_context(headers={"Accept-Language": language}):
        for who in ('<b>Ada & "Bo"</b>', "Ada"):
            for n in (1, 2):
                said = ours.render(who=who, n=n)
                assert said == expected.render(who=who, n=n)
                assert said.strip()
