"""Numbers, percentages, durations and dates in each language (decimal comma in es and nb)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from lti_tool.i18n import formats


def test_numbers_and_percentages_use_the_languages_separators() -> None:
    assert formats.number(1234.5, "en", 1) == "1,234.5"
    assert formats.number(1234.5, "es", 1) == "1.234,5"
    assert formats.number(12345.5, "es", 1) == "12.345,5"
    assert formats.number(1234.5, "nb", 1) == "1\u00a0234,5"
    assert formats.percent(0.453, "en") == "45%"
    assert formats.percent(0.453, "es") == "45\u00a0%"
    assert formats.percent(0.453, "nb", 1) == "45,3\u00a0%"


def test_durations_read_as_each_language_writes_them() -> None:
    assert formats.duration(3900, "en") == "1:05"
    assert formats.duration(3900, "es") == "1 h 05 min"
    assert formats.duration(3900, "nb") == "1 t 5 min"
    assert formats.duration(600, "nb") == "10 min"
    assert formats.duration(None, "es") == "\u2013"


def test_dates_have_the_languages_month_names() -> None:
    assert formats.day(date(2026, 11, 2), "en") == "Nov 2, 2026"
    assert "nov" in formats.day(date(2026, 11, 2), "es")
    assert formats.day(date(2026, 5, 2), "nb", "long") == "2. mai 2026"
    assert formats.plotly_separators("es") == ",." and formats.plotly_separators("en") == ".,"


def test_the_page_filters_follow_the_page_language(app) -> None:  # type: ignore[no-untyped-def]
    template = app.jinja_env.from_string(
        "{{ 1234.5|num(1) }}|{{ 0.5|pct }}|{{ 3900|duration }}|{{ day|day }}"
    )
    with app.test_request_context(headers={"Accept-Language": "nb"}):
        assert (
            template.render(day=date(2026, 5, 2)) == "1\u00a0234,5|50\u00a0%|1 t 5 min|2. mai 2026"
        )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert template.render(day=date(2026, 5, 2)) == "1,234.5|50%|1:05|May 2, 2026"


def test_lazy_text_is_shown_in_the_language_of_where_it_is_shown() -> None:
    from lti_tool.i18n import text
    from lti_tool.i18n.catalogs import translations_for

    made = text.lazy_gettext("Not found")  # made once (a cached figure) …
    assert made == "Not found" and str(made) == "Not found"  # … English outside a page
    with text.using(translations_for("es")):
        assert str(made) == "No encontrado" and made.__html__() == "No encontrado"
    with text.using(translations_for("nb")):
        assert made == "Ikke funnet"
    escaped = text.lazy_gettext(
        "%(reason)s Open the tool again from the course in your LMS.", reason="<b>"
    )
    assert escaped.__html__().startswith("&lt;b&gt;")


def test_a_lazy_text_shown_again_follows_each_language() -> None:
    # A cached name is said on every request: what it last said is kept for the same
    # translations only, nested texts and numbers included, and never pickled.
    import pickle

    from lti_tool.i18n import text
    from lti_tool.i18n.catalogs import translations_for

    made = text.lazy_gettext(
        "%(reason)s Open the tool again from the course in your LMS.",
        reason=text.lazy_gettext("Not found"),
    )
    said = {}
    for language in ("es", "nb", "es", "en", "nb"):
        with text.using(translations_for(language)):
            said.setdefault(language, set()).add(str(made))
    assert {language: len(texts) for language, texts in said.items()} == {"es": 1, "nb": 1, "en": 1}
    assert said["es"] != said["nb"] != said["en"]
    assert str(made).startswith("Not found")  # English again outside a page
    assert made._said is not None  # what it last said is kept …
    again = pickle.loads(pickle.dumps(made))  # noqa: S301 - our own object
    assert again._said is None  # … and not pickled (a catalog's translations are large)
    with text.using(translations_for("nb")):
        assert str(again) in said["nb"]


# Ties and edges: half to even on the decimal form (0.35 to 0.4 though its binary is below),
# rounding up to a thousand, the smallest numbers, -0.0 and infinity.
EDGES = (0.5, 1.5, 2.5, -0.0, 998.5, 999.49, 999.5, 999.51, 1e-9, float("inf"), 0.05, 0.15)
EDGES += (0.25, 0.35, 0.125, 2.675, 999.95, 999.949, 999.9951, 1000.0, 1234.5, 999999.95)
EDGES += (1e15 - 0.5, 1e15, 12345678.125, 1e-7)


@settings(max_examples=1500, deadline=None)
@given(
    value=st.one_of(
        st.integers(min_value=-5, max_value=2000),
        st.floats(min_value=-2.0, max_value=1200.0, allow_nan=False),
        st.floats(min_value=0.0, max_value=1e-3),
        st.decimals(min_value=0, max_value=1001, places=3).map(float),
        st.floats(min_value=0.0, max_value=2e15),
        st.integers(min_value=0, max_value=10**12),
        st.sampled_from(EDGES),
    ),
    language=st.sampled_from(["en", "es", "nb"]),
    digits=st.integers(min_value=0, max_value=5),
)
def test_a_number_reads_as_babels_pattern_writes_it(
    value: float, language: str, digits: int
) -> None:
    # number()'s short way gives what babel's pattern gives: the same rounding (half to even
    # of the shortest decimal form: 0.35 to 0.4), the language's group and decimal signs.
    pattern, locale = formats._number_format(language, digits)
    assert formats.number(value, language, digits) == str(pattern.apply(value, locale))
