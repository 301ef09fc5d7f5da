"""The admin pages at work: platforms, keys, data sources, tokens, sync health, access log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, select

from lti_tool import secrets as secret_store
from lti_tool.extensions import db
from lti_tool.models import (
    AccessLog,
    AdminAudit,
    ApiToken,
    Course,
    DataSource,
    LtiDeployment,
    LtiRegistration,
    Platform,
    SyncRun,
)
from tests.helpers.admin import add_admin, admin_client, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import LEARNER, FakePlatform


@pytest.fixture(autouse=True)
def _log_folder_roots(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Log folders may only be added under LOG_FOLDER_ROOTS: the tests' folders are in tmp_path."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").config["LOG_FOLDER_ROOTS"] = str(tmp_path)


def test_add_a_platform_on_the_page_then_launch_from_it(app: Flask) -> None:
    client = admin_client(app)
    lms = FakePlatform(issuer="https://moodle.example.org", client_id="AbC", name="Moodle")
    form = {
        "name": "Moodle",
        "issuer": "moodle.example.org",  # no scheme: refused, and what was typed stays
        "client_id": lms.client_id,
        "auth_login_url": lms.auth_url,
        "auth_token_url": lms.issuer + "/token",
        "jwks": json.dumps({"keys": [lms.jwk]}),
        "deployment_ids": "3\n",
        "frame_origins": "https://moodle.example.org",
    }
    bad = post(client, "/admin/platforms/new", form, "/admin/platforms/new")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Issuer: &#39;moodle.example.org&#39; is not an http(s) URL" in text
    assert 'value="AbC"' in text  # nothing typed is lost
    no_keys = post(
        client, "/admin/platforms/new", {**form, "issuer": lms.issuer, "jwks": ""}, "/admin/"
    )
    assert no_keys.status_code == 400 and "key set URL" in no_keys.get_data(as_text=True)
    origin = post(
        client,
        "/admin/platforms/new",
        {**form, "issuer": lms.issuer, "frame_origins": "https://x.example/path"},
    )
    assert origin.status_code == 400 and "is not an origin" in origin.get_data(as_text=True)
    made = post(client, "/admin/platforms/new", {**form, "issuer": lms.issuer})
    assert made.status_code == 303
    again = post(client, "/admin/platforms/new", {**form, "issuer": lms.issuer, "name": "M2"})
    assert again.status_code == 400 and "already registered" in again.get_data(as_text=True)
    with app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.name == "Moodle"))
        assert platform.frame_origins == ["https://moodle.example.org"]
        [registration] = platform.registrations
        assert [d.deployment_id for d in registration.deployments] == ["3"]
    lms.deployment_id = "3"
    learner = https_client(app)
    launched = lms.launch(learner, roles=LEARNER, sub="s1")
    assert launched.status_code == 303, launched.get_data(as_text=True)

    # Edit: frame origins checked; disabling the platform refuses its launches.
    page = f"/admin/platforms/{platform.id}"
    edit = {"name": "Moodle", "issuer": lms.issuer, "frame_origins": "not an origin"}
    assert post(client, page, edit, page).status_code == 400
    edit["frame_origins"] = "https://moodle.example.org\nhttps://apps.moodle.example.org"
    assert post(client, page, edit, page).status_code == 303  # no "enabled": disabled
    with app.app_context():
        platform = db.session.get(Platform, platform.id)
        assert not platform.enabled and len(platform.frame_origins) == 2
    refused = https_client(app).post(
        "/lti/login",
        data={"iss": lms.issuer, "client_id": lms.client_id, "login_hint": "s1"},
    )
    assert refused.status_code == 403 and "disabled" in refused.get_data(as_text=True)

    # A second client id, then another deployment; the registration's URLs edited.
    added = post(
        client,
        f"/admin/platforms/{platform.id}/registrations",
        {
            "client_id": "Second",
            "auth_login_url": lms.auth_url,
            "auth_token_url": lms.issuer + "/token",
            "jwks_url": lms.issuer + "/jwks",
            "deployment_ids": "7",
        },
        page,
    )
    assert added.status_code == 303
    with app.app_context():
        second = db.session.scalar(
            select(LtiRegistration).where(LtiRegistration.client_id == "Second")
        )
        assert second.issuer == lms.issuer
    more = post(client, f"/admin/registrations/{second.id}/deployments", {"deployment_ids": "8"})
    assert more.status_code == 303
    same = post(client, f"/admin/registrations/{second.id}/deployments", {"deployment_ids": "8"})
    assert same.status_code == 400
    urls = {
        "auth_login_url": "https://moodle.example.org/auth2",
        "auth_token_url": "ftp://nope",
        "jwks_url": lms.issuer + "/jwks",
    }
    assert post(client, f"/admin/registrations/{second.id}", urls, page).status_code == 400
    urls["auth_token_url"] = "https://moodle.example.org/token2"
    assert post(client, f"/admin/registrations/{second.id}", urls, page).status_code == 303
    with app.app_context():
        second = db.session.get(LtiRegistration, second.id)
        assert second.auth_token_url.endswith("/token2")
        assert sorted(d.deployment_id for d in second.deployments) == ["7", "8"]
    taken = post(client, f"/admin/registrations/{second.id}", {**urls, "client_id": "AbC"}, page)
    assert taken.status_code == 400 and "already registered" in taken.get_data(as_text=True)
    renamed = post(client, f"/admin/registrations/{second.id}", {**urls, "client_id": "Third"})
    assert renamed.status_code == 303
    with app.app_context():
        assert db.session.get(LtiRegistration, second.id).client_id == "Third"


def test_keys_rotate_and_retire(app: Flask) -> None:
    client = admin_client(app)
    first = client.get("/lti/jwks").get_json()["keys"][0]["kid"]
    assert post(client, "/admin/keys/rotate", page="/admin/keys").status_code == 303
    kids = [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
    assert len(kids) == 2 and first in kids
    page = client.get("/admin/keys").get_data(as_text=True)
    ids = re.findall(r'action="/admin/keys/(\d+)/retire"', page)
    assert len(ids) == 1  # only the old, non-active key can be retired
    assert post(client, f"/admin/keys/{ids[0]}/retire", page="/admin/keys").status_code == 303
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] != [first]
    assert first not in [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
    active = str(int(ids[0]) + 1)
    refused = post(client, f"/admin/keys/{active}/retire", page="/admin/keys")
    assert refused.status_code == 400 and "rotate first" in refused.get_data(as_text=True)


def test_data_sources_add_edit_and_test(app: Flask, platform: FakePlatform, tmp_path: Path) -> None:
    client = admin_client(app)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "tracking.log").write_text("{}\n")
    base = {"platform": str(platform_id), "kind": "log_folder"}
    missing = post(client, "/admin/sources", {**base, "location": str(tmp_path / "nope")})
    assert missing.status_code == 400 and "does not exist" in missing.get_data(as_text=True)
    relative = post(client, "/admin/sources", {**base, "location": "logs"})
    assert relative.status_code == 400 and "not an absolute path" in relative.get_data(as_text=True)
    assert post(client, "/admin/sources", {**base, "location": str(logs)}).status_code == 303

    token = "7~canvas-api-token-that-must-stay-secret"
    canvas = {"platform": str(platform_id), "kind": "canvas", "location": "https://127.0.0.1:9"}
    no_token = post(client, "/admin/sources", canvas)
    assert no_token.status_code == 400 and "API token: required" in no_token.get_data(as_text=True)
    assert post(client, "/admin/sources", {**canvas, "secret": token}).status_code == 303
    twice = post(client, "/admin/sources", {**canvas, "secret": token})
    assert twice.status_code == 400 and "already has a Canvas API" in twice.get_data(as_text=True)
    openedx = {"platform": str(platform_id), "kind": "openedx", "location": "https://lms.test"}
    no_client = post(client, "/admin/sources", {**openedx, "secret": "s"})
    assert no_client.status_code == 400 and "Client id" in no_client.get_data(as_text=True)

    with app.app_context():
        sources = {s.kind: s for s in db.session.scalars(select(DataSource))}
        assert secret_store.decrypt(sources["canvas"].secret_encrypted) == token
        metadata = MetaData()
        metadata.reflect(bind=db.engine)
        for table in metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                assert token not in json.dumps([str(v) for v in row]), table.name
        folder_id, canvas_id = sources["log_folder"].id, sources["canvas"].id
    listing = client.get("/admin/sources").get_data(as_text=True)
    assert token not in listing and str(logs) in listing

    tested = post(client, f"/admin/sources/{folder_id}/test", page="/admin/sources")
    assert tested.status_code == 200
    assert "is readable: 1 file<" in tested.get_data(as_text=True)
    tested = post(client, f"/admin/sources/{canvas_id}/test", page="/admin/sources")
    with app.app_context():
        check = db.session.get(DataSource, canvas_id).last_check
    # Nothing listens on port 9: the Canvas check fails (or is not built yet), and says so.
    assert check.startswith("Failed: ") and len(check) > len("Failed: ")
    assert token not in tested.get_data(as_text=True)

    # Edit: an empty secret keeps the stored one (same base URL); disabling is kept.
    edit = {"location": "https://127.0.0.1:9/", "secret": ""}
    assert post(client, f"/admin/sources/{canvas_id}", edit).status_code == 303
    with app.app_context():
        source = db.session.get(DataSource, canvas_id)
        assert source.location == "https://127.0.0.1:9" and not source.enabled
        assert secret_store.decrypt(source.secret_encrypted) == token
    # A new base URL without the token clears it: it was entered for the other host.
    edit = {"location": "https://canvas.example.edu/", "secret": ""}
    moved = post(client, f"/admin/sources/{canvas_id}", edit)
    assert moved.status_code == 200 and "was cleared" in moved.get_data(as_text=True)
    with app.app_context():
        source = db.session.get(DataSource, canvas_id)
        assert source.location == "https://canvas.example.edu" and not source.enabled
        assert source.secret_encrypted is None
    bad = post(client, f"/admin/sources/{canvas_id}", {"location": "canvas", "enabled": "on"})
    assert bad.status_code == 400 and "Base URL" in bad.get_data(as_text=True)


def test_tokens_made_once_and_revoked(app: Flask, platform: FakePlatform) -> None:
    client = admin_client(app)
    made = post(client, "/admin/tokens", {"name": "lab", "scope": "events:write", "course": ""})
    assert made.status_code == 201
    token = re.search(r"(ltk_[0-9a-f]+_[A-Za-z0-9_-]+)", made.get_data(as_text=True)).group(1)
    sent = client.post(
        "/api/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        json={"user": "u", "t": 1767261600000, "type": "log", "exp": "x", "course": "c1"},
    )
    # accepted as a token (not 401); "c1" is no course of this tool, and a token without a
    # platform binding creates none
    assert sent.status_code == 404 and "no course 'c1'" in sent.json["error"]
    assert token not in client.get("/admin/tokens").get_data(as_text=True)  # shown once only
    same = post(client, "/admin/tokens", {"name": "lab", "scope": "events:write", "course": ""})
    assert same.status_code == 400 and "exists" in same.get_data(as_text=True)
    with app.app_context():
        row_id = db.session.scalar(select(ApiToken.id))
    assert post(client, f"/admin/tokens/{row_id}/revoke").status_code == 303
    refused = client.post(
        "/api/v1/events", headers={"Authorization": f"Bearer {token}"}, json={"user": "u"}
    )
    assert refused.status_code == 401


def test_platform_bound_tokens_from_the_admin_area(app: Flask, platform: FakePlatform) -> None:
    client = admin_client(app)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
    form = {"name": "erb", "scope": "events:write", "course": "", "platform": str(platform_id)}
    made = post(client, "/admin/tokens", {**form, "may_create_courses": "on"})
    assert made.status_code == 201
    html = made.get_data(as_text=True)
    assert f"every course of {platform.name}; may create courses there" in html
    token = re.search(r"(ltk_[0-9a-f]+_[A-Za-z0-9_-]+)", html).group(1)
    sent = client.post(
        "/api/v1/events",
        headers={"Authorization": f"Bearer {token}"},
        json={"user": "u", "t": 1767261600000, "type": "log", "exp": "x", "course": "new-1"},
    )
    assert sent.status_code in (200, 202), sent.get_data(as_text=True)
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.lms_course_id == "new-1"))
        assert course is not None and course.platform_id == platform_id
    reader = post(
        client,
        "/admin/tokens",
        {**form, "name": "r", "scope": "reports:read", "may_create_courses": "on"},
    )
    assert reader.status_code == 400 and "only an events:write token" in reader.get_data(
        as_text=True
    )


def test_a_reports_token_for_all_platforms_is_asked_for_by_name(
    app: Flask, platform: FakePlatform
) -> None:
    client = admin_client(app)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
    reader = {"name": "bi", "scope": "reports:read", "course": ""}
    bare = post(client, "/admin/tokens", reader)
    assert bare.status_code == 400 and "learners&#39; names and e-mails" in bare.get_data(
        as_text=True
    )
    events = post(
        client, "/admin/tokens", {**reader, "scope": "events:write", "all_platforms": "on"}
    )
    assert events.status_code == 400 and "only a reports:read token" in events.get_data(
        as_text=True
    )
    bound = post(
        client, "/admin/tokens", {**reader, "platform": str(platform_id), "all_platforms": "on"}
    )
    assert bound.status_code == 400 and "no course and no platform" in bound.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ApiToken.id)) is None
    made = post(client, "/admin/tokens", {**reader, "all_platforms": "on"})
    assert made.status_code == 201
    assert "all platforms</strong>: reads every platform" in made.get_data(as_text=True)
    # An events token bound to nothing is what it was.
    writer = post(client, "/admin/tokens", {"name": "lab", "scope": "events:write", "course": ""})
    assert writer.status_code == 201 and "every existing course" in writer.get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(
            select(AdminAudit.action, AdminAudit.target, AdminAudit.details)
            .where(AdminAudit.action.like("token_%"))
            .order_by(AdminAudit.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("token_created", "token bi", {"scope": "reports:read", "all_platforms": True}),
        ("token_created", "token lab", {"scope": "events:write", "all_platforms": False}),
    ]


def test_sync_health_and_access_log(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    launched = platform.launch(
        https_client(app),
        roles=LEARNER,
        **{
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": platform.issuer + "/memberships",
                "service_versions": ["2.0"],
            }
        },
    )
    assert launched.status_code == 303
    with app.app_context():
        course = db.session.scalar(select(Course))
        db.session.add(
            SyncRun(course_id=course.id, source="nrps", status="failed", error="HTTP 401 refused")
        )
        for n in range(105):
            db.session.add(
                AccessLog(
                    course_id=course.id,
                    viewer_label=f"Teacher {n}",
                    action="contact_details",
                    subjects=1,
                )
            )
        db.session.commit()
        course_id = course.id
    add_admin(app)
    sign_in(client)
    listed = client.get("/admin/courses").get_data(as_text=True)
    assert re.search(
        r"Biology 101</td><td><code>course-ctx-1</code></td>\s*<td>Example LMS</td><td>1</td>",
        listed,
    )
    health = client.get("/admin/sync").get_data(as_text=True)
    assert "HTTP 401 refused" in health and "Biology 101" in health
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC\s*<form", health)  # next slot
    assert "has not run any job yet" in health
    assert post(client, f"/admin/sync/{course_id}/nrps").status_code == 303
    assert post(client, f"/admin/sync/{course_id}/nrps").status_code == 303  # still one run
    assert post(client, f"/admin/sync/{course_id}/moodle").status_code == 404
    assert post(client, f"/admin/sync/{course_id + 1}/nrps").status_code == 404
    with app.app_context():
        queued = db.session.scalars(select(SyncRun).where(SyncRun.status == "queued")).all()
        assert [(r.course_id, r.source, r.trigger) for r in queued] == [(course_id, "nrps", "page")]
    assert "queued: the scheduler picks it up" in client.get("/admin/sync").get_data(as_text=True)
    first = client.get("/admin/access-log").get_data(as_text=True)
    assert "Teacher 104" in first and "Teacher 4<" not in first and "Older" in first
    second = client.get("/admin/access-log?page=2").get_data(as_text=True)
    assert "Teacher 4<" in second and "Teacher 104" not in second and "Newer" in second
    with app.app_context():
        assert db.session.scalar(select(LtiDeployment.admin_launch_enabled)) is False


def test_refused_launches_are_listed_with_their_reason(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    def hostile(body: dict[str, object]) -> None:
        body.pop("sub")
        body["name"] = "<script>alert(1)</script>"

    refused = platform.launch(https_client(app), mutate=hostile)
    assert refused.status_code == 400
    add_admin(app)
    sign_in(client)
    page = client.get("/admin/launch-errors").get_data(as_text=True)
    assert "Example LMS" in page and "claims received" in page
    assert "alert(1)" in page and "<script>alert" not in page  # shown, escaped


def test_overlong_input_is_refused_in_words_never_a_500(app: Flask, platform: FakePlatform) -> None:
    client = admin_client(app)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
        registration_id = db.session.scalar(select(LtiRegistration.id))
    long_url = "https://lms.example.edu/" + "a" * 1000
    cases = [
        ("/admin/platforms/new", {"name": "n" * 201}, "Name: at most 200 characters"),
        (f"/admin/platforms/{platform_id}", {"issuer": long_url}, "Issuer: at most 500"),
        (
            f"/admin/platforms/{platform_id}/registrations",
            {"client_id": "c" * 256},
            "Client id: at most 255",
        ),
        (f"/admin/registrations/{registration_id}", {"auth_login_url": long_url}, "at most 1000"),
        (
            f"/admin/registrations/{registration_id}/deployments",
            {"deployment_ids": "d" * 256},
            "at most 255 characters each",
        ),
        (
            "/admin/sources",
            {"platform": str(platform_id), "kind": "canvas", "location": long_url * 2},
            "at most 2000",
        ),
        ("/admin/tokens", {"name": "t" * 201, "scope": "events:write"}, "at most 200"),
    ]
    for url, data, message in cases:
        answer = post(client, url, data)
        assert answer.status_code == 400, url
        assert message in answer.get_data(as_text=True), url


def test_two_sources_cannot_share_a_place(
    app: Flask, platform: FakePlatform, tmp_path: Path
) -> None:
    client = admin_client(app)
    with app.app_context():
        platform_id = db.session.scalar(select(Platform.id))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        added = post(
            client,
            "/admin/sources",
            {"platform": str(platform_id), "kind": "log_folder", "location": str(tmp_path / name)},
        )
        assert added.status_code == 303
    with app.app_context():
        second = db.session.scalar(select(DataSource.id).order_by(DataSource.id.desc()))
    clash = post(client, f"/admin/sources/{second}", {"location": str(tmp_path / "a")})
    assert clash.status_code == 400 and "another source" in clash.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(DataSource, second).location.endswith("/b")


def test_renaming_a_client_id_keeps_the_courses_roster_service(
    app: Flask, platform: FakePlatform
) -> None:
    nrps = {
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": platform.issuer + "/memberships",
            "service_versions": ["2.0"],
        }
    }
    assert platform.launch(https_client(app), **nrps).status_code == 303
    client = admin_client(app)
    with app.app_context():
        registration = db.session.scalar(select(LtiRegistration))
        assert db.session.scalar(select(Course.nrps_client_id)) == "client-1"
        fields = {
            "client_id": "client-9",
            "auth_login_url": registration.auth_login_url,
            "auth_token_url": registration.auth_token_url,
        }
    assert post(client, f"/admin/registrations/{registration.id}", fields).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Course.nrps_client_id)) == "client-9"
        assert db.session.scalar(select(LtiRegistration.jwks)) is not None  # pasted set kept
