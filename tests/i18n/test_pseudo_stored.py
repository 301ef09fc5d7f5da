"""Texts the tool stores as they happened, shown in the page's language: a failed sync run's
error (the admin sync page, the course overview), a data source's failed check (the admin
sources page) and a refused launch's reason (the admin refused-launches page). Each is written
by the code that writes it in production, kept in English for the logs, CLI, API and CSV, and
fully marked in the pseudo-locale; rows kept in English alone show their English."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from lti_tool.i18n.text import N_
from lti_tool.jobs.runs import run_now
from lti_tool.models import Course, DataSource, SyncRun
from lti_tool.models.lti import LaunchError
from tests.helpers.admin import ROOT, admin_client, estate, post
from tests.helpers.platform import FakePlatform, session_token
from tests.helpers.pseudo import unmarked

# Data: the brand, the estate's names and the course's, the sources, the stage's code.
DATA = ("Course Analytics", "Course x", "Biology 101", "nrps", "failed", "launch", "UTC")


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _failed_nrps_run(app: Flask, course_id: int) -> SyncRun:
    """A roster sync of a course without a memberships URL, run as the scheduler runs it."""
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert course is not None
        course.nrps_memberships_url = None
        db.session.commit()
        run = run_now(db.session, course, "nrps", trigger="schedule")
        assert run.status == "failed"
        db.session.expunge(run)
        return run


def _data(html: str, platform: FakePlatform, *more: str) -> list[str]:
    found = [*DATA, ROOT, platform.name, platform.issuer, platform.client_id, *more]
    found += [unescape(c) for c in re.findall(r"<pre>(.*?)</pre>", html, re.S)]
    found += [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<code[^>]*>(.*?)</code>", html, re.S)]
    found += re.findall(r"https?://[^\s<\"']+", html)
    found += re.findall(r"<option value=\"[^\"]*\"[^>]*>([^<]*)</option>", html)
    return found


def test_a_failed_sync_on_the_admin_sync_page_is_all_marked(
    app: Flask, platform: FakePlatform, pseudo: None
) -> None:
    client = admin_client(app)
    ids = estate(app, platform.name, "x")
    run = _failed_nrps_run(app, ids["course"])
    assert run.error is not None and run.error.startswith(f"course {ids['course']} has no NRPS")
    html = client.get("/admin/sync").get_data(as_text=True)
    assert PSEUDO_OPEN + f"course {ids['course']} has no NRPS memberships URL" in html
    assert unmarked(html, _data(html, platform, "boom-x")) == []


def test_a_failed_check_on_the_admin_sources_page_is_all_marked(
    app: Flask, platform: FakePlatform, pseudo: None
) -> None:
    client = admin_client(app)
    ids = estate(app, platform.name, "x")
    tested = post(client, f"/admin/sources/{ids['source']}/test", page="/admin/sources")
    assert tested.status_code == 200
    with app.app_context():
        source = db.session.get(DataSource, ids["source"])
        assert source is not None and source.last_check is not None
        # English for the CLI and the API, however the page that tested it was shown.
        assert source.last_check.startswith("Failed: the Canvas API source has no token")
    again = client.get("/admin/sources")
    for html in (tested.get_data(as_text=True), again.get_data(as_text=True)):
        assert PSEUDO_OPEN + "Failed: " + PSEUDO_OPEN + "the Canvas API source has no token" in html
        assert unmarked(html, _data(html, platform)) == []


def test_refused_launches_with_recorded_reasons_are_all_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    refused = client.post("/lti/launch", data={"state": "state-x", "id_token": "not-a-jwt"})
    assert refused.status_code in (400, 401)
    estate(app, platform.name, "x")
    with app.app_context():
        rows = db.session.scalars(select(LaunchError).where(LaunchError.reason_id.is_not(None)))
        recorded = list(rows)
    assert recorded, "the refusal was recorded with its message id"
    details = [str((r.reason_values or {}).get("detail")) for r in recorded]
    html = admin_client(app).get("/admin/launch-errors").get_data(as_text=True)
    assert "refused-x" in html  # a reason kept in English alone is shown as it is
    assert unmarked(html, _data(html, platform, "refused-x", *details)) == []


def test_a_failed_sync_on_the_course_overview_is_all_marked(
    app: Flask, client: FlaskClient, platform: FakePlatform, pseudo: None
) -> None:
    t = session_token(platform.launch(client))
    run = _failed_nrps_run(app, 1)
    html = client.get(f"/courses/1/?t={t}").get_data(as_text=True)
    assert PSEUDO_OPEN + "course 1 has no NRPS memberships URL" in html, run.error
    assert unmarked(html, _data(html, platform)) == []


def test_stored_texts_in_spanish_and_norwegian_and_english_where_stored(
    app: Flask, platform: FakePlatform
) -> None:
    client = admin_client(app)
    ids = estate(app, platform.name, "x")
    _failed_nrps_run(app, ids["course"])
    post(client, f"/admin/sources/{ids['source']}/test", page="/admin/sources")
    course = ids["course"]
    expected = {
        "es": (f"el curso {course} no tiene URL de membresías de NRPS", "Falló: la fuente de"),
        "nb": (f"emne {course} har ingen NRPS-URL for medlemskap", "Mislyktes: Canvas-API-kilden"),
        "en": (f"course {course} has no NRPS memberships URL", "Failed: the Canvas API source"),
    }
    for language, (sync_error, check) in expected.items():
        headers = {"Accept-Language": language}
        sync_page = unescape(client.get("/admin/sync", headers=headers).get_data(as_text=True))
        sources = client.get("/admin/sources", headers=headers)
        sources_page = unescape(sources.get_data(as_text=True))
        assert sync_error in sync_page, language
        assert check in sources_page, language
    with app.app_context():
        run = db.session.scalar(select(SyncRun).where(SyncRun.error_id.is_not(None)))
        assert run is not None and run.error is not None
        assert run.error.startswith(f"course {course} has no NRPS memberships URL")


def test_a_stored_text_keeps_its_nested_values_and_an_unmarked_one_stays_english() -> None:
    from lti_tool.i18n import stored
    from lti_tool.i18n.catalogs import translations_for
    from lti_tool.sync.errors import SyncError

    error = SyncError(
        N_("could not read %(what)s from Canvas: %(error)s"),
        what=text.lazy_gettext("the grades"),
        error="HTTP 500",
    )
    english, message, values = stored.record(error)
    assert english == "could not read the grades from Canvas: HTTP 500"
    assert message == "could not read %(what)s from Canvas: %(error)s"
    # Through JSON, as the column keeps them.
    values = json.loads(json.dumps(values))
    with text.using(translations_for("es")):
        assert str(stored.shown(english, message, values)) == (
            "no fue posible leer las calificaciones de Canvas: HTTP 500"
        )
    folder = text.lazy_ngettext(
        "%(path)s is readable: %(num)d file", "%(path)s is readable: %(num)d files", 3, path="/logs"
    )
    english, message, values = stored.record(folder)
    values = json.loads(json.dumps(values))
    with text.using(translations_for("nb")):
        assert str(stored.shown(english, message, values)) == "/logs kan leses: 3 filer"
    # An error still written as an f-string is no message of the catalogs: English alone.
    assert stored.record(SyncError("roster page 2 is not valid JSON")) == (
        "roster page 2 is not valid JSON",
        None,
        None,
    )
    assert stored.shown("roster page 2 is not valid JSON", None, None) == (
        "roster page 2 is not valid JSON"
    )
