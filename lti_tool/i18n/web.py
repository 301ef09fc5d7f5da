"""The languages in the Flask app: Flask-Babel picks the page's language (with a selector the
launch layer gives), templates translate with {{ _("…") }}, and lti_tool.i18n.text follows the
request's language for the messages the KPIs write."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from gettext import NullTranslations
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale
from jinja2 import pass_context
from markupsafe import Markup

from lti_tool.i18n import DEFAULT, formats, language_of, text
from lti_tool.i18n.catalogs import translations_for

_CHOSEN = "lti_tool.language"
#: Paths whose answers stay English whatever the request: the API's messages are for scripts.
ENGLISH_PATHS = ("/api/", "/xapi/")
# The page's language once chosen, for the rest of its request: asked about a thousand times a
# page (every text and number), and reading it back from the request (two context lookups
# through Flask's proxies) was some 5 % of a student page's CPU. A fresh holder per request
# (before_request), dropped when it ends, so no request sees another's language.
_held: ContextVar[list[str] | None] = ContextVar("page_language", default=None)


def page_language() -> str:
    """The language of the page being made (English outside a request, and for the API);
    chosen once per request, when first asked (after the launch token is read)."""
    held = _held.get()
    if held:
        return held[0]
    if not has_request_context():
        return DEFAULT
    environ = request.environ
    found = environ.get(_CHOSEN)
    if found is None:
        if request.path.startswith(ENGLISH_PATHS):
            found = DEFAULT
        else:
            found = language_of(str(get_locale())) or DEFAULT
        environ[_CHOSEN] = found
    if held is not None:
        held.append(str(found))
    return str(found)


def _request_translations() -> NullTranslations:
    return translations_for(page_language())


def _new_page() -> None:
    _held.set([])


def _page_done(_error: BaseException | None) -> None:
    _held.set(None)


def init_app(app: Flask, select: Callable[[], str | None]) -> None:
    """Languages for the app: `select` gives a request's language (None: English)."""
    Babel(app, locale_selector=lambda: select() or DEFAULT)
    text.provider = _request_translations
    app.before_request(_new_page)
    app.teardown_request(_page_done)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # Jinja's "newstyle" gettext as the extension would install it, without its two wrappers
    # around ours: each {{ _("…") }} went through three context calls (a tenth of a millisecond
    # for ten words; a page says a few hundred).
    app.jinja_env.newstyle_gettext = True  # type: ignore[attr-defined]
    app.jinja_env.globals.update(_=_jinja_gettext, gettext=_jinja_gettext, ngettext=_jinja_ngettext)

    # JSON (the API) writes a lazily translated text as the text: English on the API's paths.
    plain_default = app.json.default  # type: ignore[attr-defined]
    app.json.default = lambda value: (  # type: ignore[attr-defined]
        str(value) if isinstance(value, text.LazyText) else plain_default(value)
    )

    @app.context_processor
    def languages() -> dict[str, Any]:
        return {"page_language": page_language()}

    # Numbers, shares, durations and dates in the page's language ({{ n|num(1) }}, …).
    filters = app.jinja_env.filters
    filters["num"] = _num
    filters["pct"] = _pct
    filters["duration"] = _duration
    filters["day"] = _day
    filters["moment"] = _moment


# Filters that take the context are never folded into a template when it is compiled (Jinja
# would otherwise format a constant once, in no request's language). They read the page's
# language from it (the context processor's): a table of 50 rows asks some 600 times.
def _language(context: Any) -> str:
    found = context.get("page_language")
    return found if isinstance(found, str) else page_language()


@pass_context
def _num(context: Any, value: float, digits: int = 0) -> str:
    return formats.number(value, _language(context), digits)


@pass_context
def _pct(context: Any, share: float, digits: int = 0) -> str:
    return formats.percent(share, _language(context), digits)


@pass_context
def _duration(context: Any, seconds: float | None) -> str:
    return formats.duration(seconds, _language(context))


@pass_context
def _day(context: Any, value: date, form: str = "medium") -> str:
    return formats.day(value, _language(context), form)


@pass_context
def _moment(context: Any, value: datetime) -> str:
    return formats.moment(value, _language(context))


# As Jinja's "newstyle" gettext: translated in the page's language as the context has it, then
# always formatted with the placeholders' values (escaped, in an autoescaped template: the
# message is markup, the values are not), so "%%" is "%" with or without values.
# Markup: the messages are ours (the catalogs'), as Jinja's own gettext takes them.
@pass_context
def _jinja_gettext(context: Any, message: str, /, **variables: Any) -> str:
    translations, markup = _translations(context), context.eval_ctx.autoescape
    if not variables:
        return _said(translations, message, markup)
    found = translations.gettext(message)
    return (Markup(found) if markup else found) % variables  # noqa: S704


@pass_context
def _jinja_ngettext(context: Any, singular: str, plural: str, n: int, /, **variables: Any) -> str:
    variables.setdefault("num", n)
    found = _translations(context).ngettext(singular, plural, n)
    return (Markup(found) if context.eval_ctx.autoescape else found) % variables  # noqa: S704


@functools.lru_cache(maxsize=4096)
def _said(translations: NullTranslations, message: str, markup: bool) -> str:
    """A message without placeholders as a template says it (kept: a page says the same
    hundred or so on every request)."""
    found = translations.gettext(message)
    return (Markup(found) if markup else found) % {}  # noqa: S704


def _translations(context: Any) -> NullTranslations:
    """The translations a page is made in: activated ones (the tests' pseudo-locale), else
    its language's."""
    found = text.activated()
    return found if found is not None else translations_for(_language(context))
