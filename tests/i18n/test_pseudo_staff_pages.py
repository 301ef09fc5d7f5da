"""Pseudo-localisation of the staff pages beside the overview and the learners: Grades, Content,
Videos, Problems, Countries, Enrollment, the at-risk track record and Settings (with its
readiness checks, its form errors and its preview). Every text a person reads is marked (in
⟦…⟧), names, numbers and other data aside."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.i18n import formats, text
from lti_tool.i18n.catalogs import pseudo_translations
from tests.helpers.classes import GOOD
from tests.helpers.platform import FakePlatform
from tests.helpers.problems import PROBLEM
from tests.helpers.pseudo import unmarked
from tests.helpers.tracking_logs import VIDEO_ID, ingest, write
from tests.views import test_countries as countries
from tests.views import test_enrollment_page as enrollment_page
from tests.views import test_problems_page as problems_page
from tests.views import test_video as video
from tests.views.test_enrollment_page import history  # noqa: F401 (a fixture)
from tests.views.test_track_record import staff  # noqa: F401 (a fixture)

# Data: the brand, the launch's course and people, the hand-built class's names, sections,
# assignments and modules, time zones and what the LMS's syncs and the commands are called.
DATA = (
    "Course Analytics",
    "Biology 101",
    "BIO101",
    "Sam Example",
    "Ada A",
    "Bob B",
    "Cy C",
    "Eve E",
    "Sec 1",
    "Sec 2",
    "HW 1",
    "HW 2",
    "Week 1",
    "Week 2",
    "Europe/Paris",
    "Mars/Olympus_Mons",
    "UTC",
    "English",
    "Español",
    "Norsk bokmål",
    "flask ingest tracking-logs --reprocess",
    "enrollment-daily",
    # The readable labels kpis.names gives videos without a name (marked with the names' part).
    "Video 1",
    "Video 2",
)


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


PAGES = (
    "grades",
    "grades?section=Sec+1",
    "content",
    "content?section=Sec+2",
    "videos",
    "problems",
    "countries",
    "enrollment",
    "at-risk/track-record",
    "settings",
)


@pytest.mark.parametrize("page", PAGES)
def test_a_staff_page_is_all_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None, page: str
) -> None:
    joiner = "&" if "?" in page else "?"
    answer = client.get(f"/courses/1/{page}{joiner}t={seeded['t']}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "\u27e6" in html
    assert unmarked(html, DATA) == []


def test_the_settings_form_errors_and_preview_are_marked(
    client: FlaskClient, seeded: dict[str, Any], pseudo: None
) -> None:
    bad = {
        **GOOD,
        "time_zone": "Mars/Olympus_Mons",
        "time_cutoff_minutes": "0",
        "privacy_floor": "4",
        "risk_pass_mark": "x",
        "starts_on": "2026-02-30",
        "t": seeded["t"],
    }
    html = client.post("/courses/1/settings", data=bad).get_data(as_text=True)
    assert 'id="errors"' in html
    assert unmarked(html, [*DATA, "2026-02-30", "'x'"]) == []
    preview = {**GOOD, "time_zone": "UTC", "preview": "1", "t": seeded["t"]}
    html = client.post("/courses/1/settings", data=preview).get_data(as_text=True)
    assert 'id="preview"' in html
    assert unmarked(html, DATA) == []


# Pages with the figures they show when the data is there (the view tests' data).


def _marked(client: FlaskClient, url: str, data: tuple[str, ...] = ()) -> None:
    html = client.get(url).get_data(as_text=True)
    assert "\u27e6" in html
    assert unmarked(html, (*DATA, *data)) == []


def test_the_problems_page_with_answers_is_all_marked(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, problems_page._log(tmp_path))
    token = problems_page._staff(client, platform)
    with text.using(pseudo_translations()):
        _marked(
            client,
            f"/courses/1/problems?t={token}",
            (
                PROBLEM,
                problems_page.EASY,
                "edX Demo",
                "Multiple Choice Questions",
                "Which is Apple's?",
                "Warm-up",
                "The iPod",
                "The iPad",
                "Napster",
                "Yes",
            ),
        )


def test_the_countries_page_with_countries_is_all_marked(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    countries._ingest_class(runner, tmp_path)
    token = countries._staff(client, platform)
    # Country names come from CLDR (English in the pseudo-locale): data, translated by Babel.
    with text.using(pseudo_translations()):
        _marked(client, f"/courses/1/countries?t={token}", ("edX Demo", "Spain"))


def test_the_videos_page_with_a_timeline_is_all_marked(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    lines = [
        video._video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
        video._video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
    ]
    ingest(runner, write(tmp_path / "v.log", lines))
    token = platform.launch(client, **video.CONTEXT).headers["Location"].split("t=")[1]
    with text.using(pseudo_translations()):
        _marked(client, f"/courses/1/videos?t={token}", ("edX Demo", VIDEO_ID))


def test_the_enrollment_page_with_a_history_is_all_marked(
    client: FlaskClient,
    history: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    # The table's days are data, written as the page's language writes dates.
    days = [formats.day(enrollment_page.TODAY - timedelta(days=n), "en") for n in range(40)]
    with text.using(pseudo_translations()):
        _marked(client, f"/courses/1/enrollment?t={history['t']}", tuple(days))


def test_the_track_record_with_weeks_is_all_marked(
    client: FlaskClient,
    staff: dict[str, Any],  # noqa: F811 (the fixture imported above)
) -> None:
    with text.using(pseudo_translations()):
        _marked(client, f"/courses/1/at-risk/track-record?t={staff['t']}")


def test_the_check_reads_messages_holding_markup_and_messages() -> None:
    html = (
        "<p>\u27e6A learner <strong>\u27e6turned out badly\u27e7</strong> with \u27e6not "
        "completing\u27e7\u27e7</p><p>\u27e6Week\u27e7 sorted by hand</p>"
    )
    assert unmarked(html) == ["\u27e6Week\u27e7 sorted by hand"]
