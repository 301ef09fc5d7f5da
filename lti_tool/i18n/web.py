"""The languages in the Flask app: Flask-Babel picks the page's language (with a selector the
launch layer gives), templates translate with {{ _("…") }}, and lti_tool.i18n.text follows the
request's language for the messages the KPIs write."""

from __future__ import annotations

from collections.abc import Callable
from gettext import NullTranslations
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale

from lti_tool.i18n import DEFAULT, language_of, text
from lti_tool.i18n.catalogs import translations_for

#: Paths whose answers stay English whatever the request: the API's messages are for scripts.
ENGLISH_PATHS = ("/api/", "/xapi/")


def page_language() -> str:
    """The language of the page being made (English outside a request, and for the API)."""
    if not has_request_context() or request.path.startswith(ENGLISH_PATHS):
        return DEFAULT
    return language_of(str(get_locale())) or DEFAULT


def _request_translations() -> NullTranslations | None:
    return translations_for(page_language()) if has_request_context() else None


def init_app(app: Flask, select: Callable[[], str | None]) -> None:
    """Languages for the app: `select` gives a request's language (None: English)."""
    Babel(app, locale_selector=lambda: select() or DEFAULT)
    text.provider = _request_translations
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        _jinja_gettext, _jinja_ngettext, newstyle=True
    )

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {"page_language": page_language()}


# Jinja's "newstyle" gettext fills the placeholders itself (escaping the values): these only
# translate.
def _jinja_gettext(message: str) -> str:
    return text.translations().gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return text.translations().ngettext(singular, plural, n)
