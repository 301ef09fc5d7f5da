"""GET /api/v1/courses/lms/<lms_course_id>/reports/<name>?platform=NAME: the LMS's own course id."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.helpers.api import add_course, add_platforms, bearer, lab, make_token, post_events

OPENEDX_KEY = "course-v1:MITx+6.002x+2026_T1"


def test_the_lms_course_id_reads_the_same_report_as_the_tools_id(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    [north] = add_platforms(app, "North")
    course_id = add_course(app, OPENEDX_KEY, north)
    writer = make_token(runner, "lab", course=OPENEDX_KEY)
    reader = make_token(runner, "dash", "reports:read")
    post_events(client, writer, [lab(), lab(stamp="2026-03-02 10:10:00")])
    by_id = client.get(f"/api/v1/courses/{course_id}/reports/time-spent", headers=bearer(reader))
    by_lms = client.get(
        f"/api/v1/courses/lms/{OPENEDX_KEY}/reports/time-spent?platform=North",
        headers=bearer(reader),
    )
    assert by_id.status_code == by_lms.status_code == 200
    assert by_lms.json == by_id.json and by_lms.json
    csv = client.get(
        f"/api/v1/courses/lms/{OPENEDX_KEY}/reports/time-spent?format=csv", headers=bearer(reader)
    )
    assert csv.status_code == 200 and csv.mimetype == "text/csv"


def test_the_same_lms_id_on_two_platforms_needs_the_platform_named(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    north, south = add_platforms(app, "North", "South")
    north_course = add_course(app, "101", north)
    add_course(app, "101", south)
    reader = make_token(runner, "dash", "reports:read")
    ambiguous = client.get("/api/v1/courses/lms/101/reports/learners", headers=bearer(reader))
    assert ambiguous.status_code == 400 and "?platform=NAME" in ambiguous.json["error"]
    named = client.get(
        "/api/v1/courses/lms/101/reports/learners?platform=North", headers=bearer(reader)
    )
    assert named.status_code == 200
    unknown = client.get(
        "/api/v1/courses/lms/101/reports/learners?platform=West", headers=bearer(reader)
    )
    assert unknown.status_code == 404 and "'West'" in unknown.json["error"]
    missing = client.get("/api/v1/courses/lms/999/reports/learners", headers=bearer(reader))
    assert missing.status_code == 404 and "'999'" in missing.json["error"]
    assert north_course  # the tool's id of the North course stays its own


def test_a_platform_bound_reader_finds_only_its_own_platforms_course(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    north, south = add_platforms(app, "North", "South")
    add_course(app, "101", north)
    add_course(app, "202", south)
    add_course(app, "101", south)
    reader = make_token(runner, "north-dash", "reports:read", bind_platform="North")
    # The South course of the same number does not make it ambiguous: the reader cannot reach it.
    mine = client.get("/api/v1/courses/lms/101/reports/learners", headers=bearer(reader))
    assert mine.status_code == 200
    theirs = client.get("/api/v1/courses/lms/202/reports/learners", headers=bearer(reader))
    assert theirs.status_code == 404
    assert "South" not in theirs.json["error"]


def test_without_a_reader_the_lms_route_says_401_before_anything_about_courses(
    app: Flask, client: FlaskClient
) -> None:
    [north] = add_platforms(app, "North")
    add_course(app, "101", north)
    for path in (
        "/api/v1/courses/lms/101/reports/learners",
        "/api/v1/courses/lms/999/reports/learners",
    ):
        response = client.get(path)
        assert response.status_code == 401, path
        assert "WWW-Authenticate" in response.headers
    forged = client.get("/api/v1/courses/lms/101/reports/learners", headers=bearer("ltk_abc_def"))
    assert forged.status_code == 401


def test_unknown_parameters_are_still_refused_on_the_lms_route(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    [north] = add_platforms(app, "North")
    add_course(app, "101", north)
    reader = make_token(runner, "dash", "reports:read")
    response = client.get(
        "/api/v1/courses/lms/101/reports/learners?fromat=csv", headers=bearer(reader)
    )
    assert response.status_code == 400 and "'fromat'" in response.json["error"]
