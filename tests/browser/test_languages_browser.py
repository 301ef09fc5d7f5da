"""Languages in a real browser, inside the LMS frame (issue 19): a launch whose locale is es-CL
shows the overview, the learners page and the student page in Spanish (`lang="es"`, decimal
commas, Spanish chart titles and month names), nb-NO the same in Bokmål, fr-FR falls back to
English; a launch error before any launch follows the browser's Accept-Language. Screenshots
at 1000 and 390 px (no page scrolls sideways with the longer words)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, demo_stack, new_page, screenshot

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000
LOCALES = {"es": "es-CL", "nb": "nb-NO", "fr": "fr-FR"}
# What each language shows: the nav's words, chart titles, the student page's heading, the
# word for a session on a launch error, a refused launch's heading, the admin sign-in's heading.
WORDS: dict[str, dict[str, Any]] = {
    "es": {
        "overview": "Resumen",
        "learners": "Estudiantes",
        "chart": "Estudiantes por semana",
        "my_chart": "Tu tiempo por semana",
        "mine": "Mi progreso",
        "session": "sesión",
        "refused": "La herramienta no pudo abrirse",
        "sign_in": "Iniciar sesión",
        "month": re.compile(r"\b(ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)\b"),
    },
    "nb": {
        "overview": "Oversikt",
        "learners": "Studenter",
        "chart": "Studenter per uke",
        "my_chart": "Din tid per uke",
        "mine": "Min fremdrift",
        "session": "økt",
        "refused": "Verktøyet kunne ikke åpnes",
        "sign_in": "Logg inn",
        "month": re.compile(r"\b(jan|feb|mars|apr|mai|juni?|juli?|aug|sep|okt|nov|des)\."),
    },
    "en": {
        "overview": "Overview",
        "learners": "Learners",
        "chart": "Learners per week",
        "my_chart": "Your time per week",
        "mine": "My progress",
        "session": "session",
        "refused": "The tool could not open",
        "sign_in": "Sign in",
        "month": re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ?\d"),
    },
}


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with demo_stack(https_servers, tmp_path_factory.mktemp("languages")) as running:
        running.speak(LOCALES)
        yield running


def shot(page: Page, name: str) -> None:
    screenshot(page, f"languages-{name}")


def launch(page: Page, stack: Stack, user: str, width: int) -> Frame:
    page.set_viewport_size({"width": width + 40, "height": 2700})
    page.goto(f"{stack.lms_origin}/course?as={user}&width={width}&height=2600")
    page.frame_locator("iframe").locator("#course-title, h1").first.wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    return frame


def drawn(frame: Frame) -> None:
    frame.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=TIMEOUT_MS,
    )


def follow(frame: Frame, locator: Any) -> None:
    with frame.expect_navigation(timeout=TIMEOUT_MS):
        locator.click()


def lang(frame: Frame) -> str:
    return str(frame.evaluate("document.documentElement.lang"))


def chart_titles(frame: Frame) -> list[str]:
    return list(
        frame.evaluate("Array.from(document.querySelectorAll('.gtitle'), t => t.textContent)")
    )


def tick_texts(frame: Frame) -> str:
    return str(
        frame.evaluate(
            "Array.from(document.querySelectorAll('.xtick text, .x2tick text'),"
            " t => t.textContent).join(' | ')"
        )
    )


def separators(frame: Frame, chart: str) -> str:
    return str(frame.evaluate(f"document.getElementById('{chart}')._fullLayout.separators"))


def fits(frame: Frame) -> bool:
    return bool(frame.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("width", [1000, 390])
@pytest.mark.parametrize(("short", "language"), [("es", "es"), ("nb", "nb"), ("fr", "en")])
def test_staff_pages_follow_the_launch_locale(
    browser: Browser, stack: Stack, short: str, language: str, width: int
) -> None:
    words = WORDS[language]
    with new_page(browser) as page:
        frame = launch(page, stack, f"instructor-{short}", width)
        drawn(frame)
        assert lang(frame) == language
        nav = frame.locator("nav.tabs").inner_text()
        assert words["overview"] in nav and words["learners"] in nav
        assert words["chart"] in chart_titles(frame)
        # Dates on the weekly axes in the language, numbers with its decimal sign.
        if width >= 600:  # a phone-wide chart shows short week ticks (S3, U3) only
            assert words["month"].search(tick_texts(frame)), tick_texts(frame)
        assert separators(frame, "chart-weekly-activity")[0] == ("." if language == "en" else ",")
        assert fits(frame)
        shot(page, f"overview-{short}-{width}")
        follow(frame, frame.get_by_role("link", name=words["learners"], exact=True).first)
        frame.locator("#table-learners").wait_for(timeout=TIMEOUT_MS)
        assert lang(frame) == language
        assert words["learners"] in frame.locator("nav.tabs").inner_text()
        assert fits(frame)
        shot(page, f"learners-{short}-{width}")


@pytest.mark.parametrize("width", [1000, 390])
@pytest.mark.parametrize(("short", "language"), [("es", "es"), ("nb", "nb"), ("fr", "en")])
def test_the_student_page_follows_the_launch_locale(
    browser: Browser, stack: Stack, short: str, language: str, width: int
) -> None:
    words = WORDS[language]
    with new_page(browser) as page:
        frame = launch(page, stack, f"student-{short}", width)
        assert "/me?" in frame.url
        drawn(frame)
        assert lang(frame) == language
        assert frame.locator("h1").inner_text() == words["mine"]
        assert words["my_chart"] in " ".join(chart_titles(frame)).replace("\xa0", " ") or (
            width < 600  # a phone-wide chart wraps its title over lines
        )
        assert separators(frame, "chart-my-time")[0] == ("." if language == "en" else ",")
        text = frame.locator("main").inner_text()
        if language != "en":
            # The class's median score and its middle half: one decimal, a decimal comma.
            assert re.search(r"\d,\d", text), text[:2000]
            # Norwegian writes dates with dots (06.11.2026, 23:59): not decimals.
            numbers = re.sub(r"\b\d{2}\.\d{2}\.\d{4}\b", "", text)
            assert not re.search(r"\d\.\d", numbers), re.findall(r".{20}\d\.\d.{20}", numbers)
        assert fits(frame)
        shot(page, f"student-{short}-{width}")


@pytest.mark.parametrize(
    ("accept", "language"),
    [("es-CL,es;q=0.9", "es"), ("nb-NO,nb;q=0.9", "nb"), ("fr-FR", "en")],
)
def test_a_launch_error_before_any_launch_follows_accept_language(
    browser: Browser, stack: Stack, accept: str, language: str
) -> None:
    with new_page(browser, accept) as page:
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(f"{stack.tool_origin}/courses/1/")
        assert page.evaluate("document.documentElement.lang") == language
        assert WORDS[language]["session"] in page.locator("body").inner_text().lower()
        shot(page, f"error-{language}-390")


@pytest.mark.parametrize("width", [1000, 390])
@pytest.mark.parametrize(
    ("accept", "language"), [("es-CL,es;q=0.9", "es"), ("nb-NO", "nb"), ("fr-FR,fr;q=0.9", "en")]
)
def test_a_refused_launch_follows_accept_language(
    browser: Browser, stack: Stack, accept: str, language: str, width: int
) -> None:
    """A login from a platform the tool does not know: refused before any launch."""
    with new_page(browser, accept) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(
            f"{stack.tool_origin}/lti/login?iss=https://unknown.example.edu&login_hint=x"
            f"&target_link_uri={stack.tool_origin}/lti/launch&client_id=nobody"
        )
        assert page.evaluate("document.documentElement.lang") == language
        assert page.locator("h1").inner_text() == WORDS[language]["refused"]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, f"refused-{language}-{width}")


@pytest.mark.parametrize("language", ["es", "nb"])
def test_the_admin_sign_in_follows_accept_language(
    browser: Browser, stack: Stack, language: str
) -> None:
    with new_page(browser, LOCALES[language]) as page:
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(f"{stack.tool_origin}/admin/login")
        assert page.evaluate("document.documentElement.lang") == language
        assert page.locator("h1").inner_text() == WORDS[language]["sign_in"]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, f"admin-login-{language}-390")


# Issue 19's second round: course events named in the language, dates written its way.
DUE = {"es": re.compile(r"Homework \d+ vence"), "nb": re.compile(r"Frist: Homework \d+")}


def _open(frame: Frame, path: str) -> None:
    """Another page of the same course in the frame (the launch's token carried along)."""
    course = re.search(r"(/courses/\d+)", frame.url)
    assert course, frame.url
    query = frame.url.split("?", 1)[1].split("#")[0]
    origin = re.match(r"https?://[^/]+", frame.url)
    assert origin
    frame.goto(f"{origin[0]}{course[1]}{path}?{query}", timeout=TIMEOUT_MS)


@pytest.mark.parametrize("width", [1000, 390])
@pytest.mark.parametrize("short", ["es", "nb"])
def test_event_titles_and_days_in_the_language(
    browser: Browser, stack: Stack, short: str, width: int
) -> None:
    with new_page(browser) as page:
        frame = launch(page, stack, f"instructor-{short}", width)
        drawn(frame)
        events = frame.locator("#table-events").inner_text()
        assert DUE[short].search(events) and " due" not in events, events[:500]
        assert not re.search(r"\d{4}-\d{2}-\d{2}", events), events[:500]
        assert fits(frame)
        frame.locator("#events").scroll_into_view_if_needed()
        shot(page, f"events-{short}-{width}")
        _open(frame, "/enrollment")
        frame.locator("#table-enrollment").wait_for(state="attached", timeout=TIMEOUT_MS)
        days = frame.evaluate(
            "Array.from(document.querySelectorAll('#table-enrollment th[scope=row]'),"
            " t => t.textContent).join(' | ')"
        )
        assert days and not re.search(r"\d{4}-\d{2}-\d{2}", days), days[:300]
        assert WORDS[short]["month"].search(days), days[:300]
        frame.evaluate("document.querySelector('#table-enrollment').closest('details').open = true")
        assert fits(frame)
        shot(page, f"enrollment-{short}-{width}")
