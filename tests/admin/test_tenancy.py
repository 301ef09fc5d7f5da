"""Tenancy in the admin area: an administrator of one deployment sees and acts on the courses
launched through that deployment, and nothing platform-wide (issue 13, items 1 and 3).

The cast: two deployments of one platform (mine and a sibling, same client id), a course launched
through both, a course of my platform known only from logs, a second platform whose client id
and deployment id read exactly like mine, and a platform that registered itself. Every course
has a failed sync, an access-log entry, tokens and a refused launch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool import audit, platforms
from lti_tool.api.tokens import create_token
from lti_tool.extensions import db
from lti_tool.models import (
    AccessLog,
    AdminAudit,
    ApiToken,
    Course,
    DataSource,
    LaunchError,
    LtiDeployment,
    LtiRegistration,
    Platform,
    SyncRun,
    ToolKey,
)
from tests.helpers.admin import add_admin, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, INSTITUTION, LEARNER, MEMBERSHIP, FakePlatform

ADMIN_INSTRUCTOR = [INSTITUTION + "Administrator", MEMBERSHIP + "Instructor"]
MINE, BOTH = "qmine", "qboth"
#: Courses a deployment administrator of deployment-1 must never reach, by tag.
FOREIGN = ("qsib", "qoth", "qdyn", "qlogs")
#: Platform-wide objects: their names and places must not show on its pages either.
PLATFORM_WIDE = ("qplatwide", "qevery", "qall", "qsource", "qfolder", "qlogin", "qkeyaudit")
#: What of the other deployments and platforms must not show on its pages.
ELSEWHERE = ("deployment-2", "qoth.example.edu", "qdyn.example.org", "Qoth LMS", "Qdyn Moodle")


def _launch(lms: FakePlatform, app: Flask, tag: str, deployment: str, refused: bool = False) -> Any:
    """A launch of course ctx-<tag> through a deployment; refused (no sub) when asked."""

    def change(body: dict[str, Any]) -> None:
        body[CLAIM + "deployment_id"] = deployment
        if refused:
            body.pop("sub")

    context = {"id": f"ctx-{tag}", "title": ("Refused " if refused else "Course ") + tag}
    response = lms.launch(
        https_client(app),
        roles=LEARNER,
        sub=f"learner-{tag}",
        mutate=change,
        **{CLAIM + "context": context},
    )
    assert response.status_code == (400 if refused else 303), response.get_data(as_text=True)
    return response


def _cast(app: Flask, platform: FakePlatform, tmp_path: Path) -> dict[str, Any]:
    """Platforms, deployments, courses (by tag) and their sync runs, logs, tokens, errors."""
    with app.app_context():
        registration = db.session.scalar(select(LtiRegistration))
        assert registration is not None
        platforms.add_deployments(db.session, registration, ["deployment-2"])
        db.session.commit()
        registration_id = registration.id
    # Same client id and deployment id as mine, on another issuer: only the platform differs.
    other = FakePlatform(
        issuer="https://qoth.example.edu", name="Qoth LMS", key_file="other_platform_key.pem"
    )
    other.register(app)
    dynamic = FakePlatform(issuer="https://qdyn.example.org", client_id="dyn-1", name="Qdyn Moodle")
    dynamic.register(app)
    with app.app_context():
        row = db.session.scalar(select(Platform).where(Platform.name == dynamic.name))
        assert row is not None
        row.registered_by, row.lms = "dynamic", "moodle"
        db.session.commit()

    for lms, tag, deployment in (
        (platform, MINE, "deployment-1"),
        (platform, BOTH, "deployment-1"),
        (platform, BOTH, "deployment-2"),  # placed through both deployments: mine too
        (platform, "qsib", "deployment-2"),
        (other, "qoth", "deployment-1"),
        (dynamic, "qdyn", "deployment-1"),
    ):
        _launch(lms, app, tag, deployment)
    for lms, tag, deployment in (
        (platform, MINE, "deployment-1"),
        (platform, "qsib", "deployment-2"),
        (other, "qoth", "deployment-1"),
        (dynamic, "qdyn", "deployment-1"),
    ):
        _launch(lms, app, tag, deployment, refused=True)

    folder = tmp_path / "qfolder"
    folder.mkdir()
    with app.app_context():
        mine = db.session.scalar(select(Platform).where(Platform.name == platform.name))
        assert mine is not None
        # Known from tracking logs only: no launch, so no deployment says it is theirs.
        db.session.add(Course(platform_id=mine.id, lms_course_id="ctx-qlogs", title="Course qlogs"))
        db.session.flush()
        ids = {
            c.title.split()[-1]: c.id
            for c in db.session.scalars(select(Course))
            if c.title.startswith("Course ")
        }
        assert set(ids) == {MINE, BOTH, *FOREIGN}
        tokens = {}
        for tag, course_id in ids.items():
            course = db.session.get(Course, course_id)
            db.session.add(
                SyncRun(course_id=course_id, source="nrps", status="failed", error=f"boom-{tag}")
            )
            db.session.add(
                AccessLog(course_id=course_id, viewer_label=f"viewer-{tag}", action="contact")
            )
            audit.record(db.session, "sync_requested", f"audited-{tag}", course_id=course_id)
            tokens[tag] = create_token(db.session, f"events-{tag}", "events:write", course).row
            create_token(db.session, f"reports-{tag}", "reports:read", course)
        tokens["qplatwide"] = create_token(
            db.session, "qplatwide", "events:write", platform=mine, may_create_courses=True
        ).row
        tokens["qevery"] = create_token(db.session, "qevery", "events:write").row
        audit.record(db.session, "key_rotated", "qkeyaudit")  # the whole tool's business
        tokens["qall"] = create_token(db.session, "qall", "reports:read", all_platforms=True).row
        source = DataSource(
            platform_id=mine.id, kind="canvas", location="https://qsource.instructure.test"
        )
        db.session.add(source)
        platforms.add_log_folder(db.session, mine, str(folder), roots=str(tmp_path))
        # A refused login names no id_token, hence no deployment we could trust.
        db.session.add(
            LaunchError(
                platform_id=mine.id,
                client_id="client-1",
                stage="login",
                status_code=400,
                reason="qlogin",
            )
        )
        mine_dep = db.session.scalar(
            select(LtiDeployment).where(
                LtiDeployment.registration_id == registration_id,
                LtiDeployment.deployment_id == "deployment-1",
            )
        )
        assert mine_dep is not None
        mine_dep.admin_launch_enabled = True
        db.session.commit()
        return {
            "courses": ids,
            "tokens": {tag: row.id for tag, row in tokens.items()},
            "platform": mine.id,
            "other_platforms": [
                p.id for p in db.session.scalars(select(Platform).where(Platform.id != mine.id))
            ],
            "registration": registration_id,
            "deployment": mine_dep.id,
            "sibling": db.session.scalar(
                select(LtiDeployment.id).where(LtiDeployment.deployment_id == "deployment-2")
            ),
            "source": source.id,
            "key": db.session.scalar(select(func.min(ToolKey.id))) or 1,
        }


def _by_launch(app: Flask, platform: FakePlatform) -> FlaskClient:
    """An LMS administrator's session, entered by the Administration link of a launch."""
    launched = platform.launch(
        https_client(app),
        roles=ADMIN_INSTRUCTOR,
        sub="dean",
        **{CLAIM + "context": {"id": f"ctx-{MINE}", "title": f"Course {MINE}"}},
    )
    assert launched.status_code == 200, launched.get_data(as_text=True)
    link = re.search(r'href="(/admin/enter\?ticket=[^"]+)"', launched.get_data(as_text=True))
    assert link, launched.get_data(as_text=True)
    window = https_client(app)
    assert window.get(link.group(1).replace("&amp;", "&")).status_code == 303
    return window


def _state(app: Flask) -> dict[str, Any]:
    """What a refused action must leave as it was."""
    with app.app_context():
        return {
            "tokens": sorted(
                (t.id, t.revoked_at is None) for t in db.session.scalars(select(ApiToken))
            ),
            "queued": sorted(
                db.session.scalars(select(SyncRun.course_id).where(SyncRun.status == "queued"))
            ),
            "sources": sorted(
                (s.id, s.location, s.enabled, s.last_check)
                for s in db.session.scalars(select(DataSource))
            ),
            "deployments": sorted(
                (d.id, d.deployment_id, d.enabled, d.admin_launch_enabled)
                for d in db.session.scalars(select(LtiDeployment))
            ),
            "registrations": sorted(
                (r.id, r.client_id) for r in db.session.scalars(select(LtiRegistration))
            ),
            "platforms": sorted((p.id, p.name) for p in db.session.scalars(select(Platform))),
            "keys": sorted(
                (k.id, k.active, k.retired_at) for k in db.session.scalars(select(ToolKey))
            ),
        }


def _check_deployment_admin(
    app: Flask, client: FlaskClient, cast: dict[str, Any], who: str
) -> set[str]:
    """Every admin page and action as deployment-1's administrator; returns the endpoints."""
    adapter = app.url_map.bind("tool.test")
    reached: set[str] = set()

    def endpoint(method: str, url: str) -> None:
        reached.add(adapter.match(url.split("?")[0], method=method)[0])

    courses, tokens = cast["courses"], cast["tokens"]
    pages = {
        url: client.get(url)
        for url in (
            "/admin/",
            "/admin/platforms",
            f"/admin/platforms/{cast['platform']}",
            "/admin/courses",
            "/admin/sync",
            "/admin/access-log",
            "/admin/launch-errors",
            "/admin/tokens",
            "/admin/audit",
        )
    }
    for url, page in pages.items():
        endpoint("GET", url)
        assert page.status_code == 200, (who, url)
        text = page.get_data(as_text=True)
        for secret in (*FOREIGN, *PLATFORM_WIDE, *ELSEWHERE):
            assert secret not in text, (who, url, secret)
    text = {url: page.get_data(as_text=True) for url, page in pages.items()}
    for tag in (MINE, BOTH):
        assert f"Course {tag}" in text["/admin/courses"], who
        assert f"boom-{tag}" in text["/admin/sync"], who
        assert f"viewer-{tag}" in text["/admin/access-log"], who
        assert f"events-{tag}" in text["/admin/tokens"], who
        assert f"reports-{tag}" in text["/admin/tokens"], who
        assert f"audited-{tag}" in text["/admin/audit"], who
    assert f"Refused {MINE}" in text["/admin/launch-errors"], who
    assert "deployment-1" in text[f"/admin/platforms/{cast['platform']}"], who
    assert "Data sources" not in text["/admin/"], who  # neither the card nor the tab

    # Its own courses: Sync now, a token for the course, and revoking that token.
    own = courses[MINE]
    assert post(client, f"/admin/sync/{own}/nrps").status_code == 303, who
    endpoint("POST", f"/admin/sync/{own}/nrps")
    assert post(client, f"/admin/courses/{own}/sessions/revoke").status_code == 303, who
    endpoint("POST", f"/admin/courses/{own}/sessions/revoke")
    made = post(
        client, "/admin/tokens", {"name": f"new-{who}", "scope": "reports:read", "course": str(own)}
    )
    assert made.status_code == 201 and "ltk_" in made.get_data(as_text=True), who
    endpoint("POST", "/admin/tokens")
    with app.app_context():
        new_id = db.session.scalar(select(ApiToken.id).where(ApiToken.name == f"new-{who}"))
        created = db.session.scalar(
            select(AdminAudit).where(AdminAudit.target == f"token new-{who}")
        )
        assert created is not None and created.action == "token_created"
        assert created.course_id == own and created.platform_id == cast["platform"]
    assert post(client, f"/admin/tokens/{new_id}/revoke").status_code == 303, who
    endpoint("POST", f"/admin/tokens/{new_id}/revoke")
    with app.app_context():
        assert db.session.get(ApiToken, new_id).revoked_at is not None
        assert (
            db.session.scalar(
                select(AdminAudit.action).where(
                    AdminAudit.target == f"token new-{who}", AdminAudit.id != created.id
                )
            )
            == "token_revoked"
        )

    before = _state(app)
    # Other deployments' courses, and courses known only from logs: unknown here (404).
    for tag in FOREIGN:
        course = courses[tag]
        assert post(client, f"/admin/sync/{course}/nrps").status_code == 404, (who, tag)
        revoke = post(client, f"/admin/courses/{course}/sessions/revoke")
        assert revoke.status_code == 404, (who, tag)
        assert post(client, f"/admin/tokens/{tokens[tag]}/revoke").status_code == 404, (who, tag)
        form = {"name": f"x-{tag}", "scope": "events:write", "course": str(course)}
        assert post(client, "/admin/tokens", form).status_code == 404, (who, tag)
        filtered = client.get(f"/admin/access-log?course={course}").get_data(as_text=True)
        assert f"viewer-{tag}" not in filtered, (who, tag)
    for platform_id in cast["other_platforms"]:
        assert client.get(f"/admin/platforms/{platform_id}").status_code == 404, who
    # Platform-wide tokens: not listed, not revocable, not made.
    for tag in ("qplatwide", "qevery", "qall"):
        assert post(client, f"/admin/tokens/{tokens[tag]}/revoke").status_code == 404, (who, tag)
    wide = {
        "platform": {"course": "", "platform": str(cast["platform"]), "scope": "events:write"},
        "every course": {"course": "", "scope": "events:write"},
        "all platforms": {"course": "", "scope": "reports:read", "all_platforms": "on"},
        "all platforms, with a course": {
            "course": str(own),
            "scope": "reports:read",
            "all_platforms": "on",
        },
    }
    for what, form in wide.items():
        refused = post(client, "/admin/tokens", {"name": "wide", **form})
        assert refused.status_code == 403, (who, what)

    # Data sources, log folders, keys, registrations, deployments, platforms: 403.
    forbidden = [
        ("GET", "/admin/sources", {}),
        ("POST", "/admin/sources", {"platform": str(cast["platform"]), "kind": "log_folder"}),
        ("GET", f"/admin/sources/{cast['source']}", {}),
        ("POST", f"/admin/sources/{cast['source']}", {"location": "https://x.test"}),
        ("POST", f"/admin/sources/{cast['source']}/test", {}),
        ("GET", "/admin/keys", {}),
        ("POST", "/admin/keys/rotate", {}),
        ("POST", f"/admin/keys/{cast['key']}/retire", {}),
        ("GET", "/admin/platforms/new", {}),
        ("POST", "/admin/platforms/new", {"name": "x"}),
        ("POST", f"/admin/platforms/{cast['platform']}", {"name": "x"}),
        ("POST", f"/admin/platforms/{cast['platform']}/approve", {}),
        ("POST", f"/admin/platforms/{cast['platform']}/registrations", {"client_id": "x"}),
        ("POST", f"/admin/registrations/{cast['registration']}", {"client_id": "x"}),
        (
            "POST",
            f"/admin/registrations/{cast['registration']}/deployments",
            {"deployment_ids": "9"},
        ),
        ("POST", f"/admin/deployments/{cast['deployment']}", {"enabled": "on"}),
        ("POST", f"/admin/deployments/{cast['sibling']}", {"admin_launch_enabled": "on"}),
        ("POST", f"/admin/courses/{courses['qlogs']}/attach", {"platform": str(cast["platform"])}),
    ]
    for method, url, form in forbidden:
        response = client.get(url) if method == "GET" else post(client, url, form)
        assert response.status_code == 403, (who, method, url)
        endpoint(method, url)
    assert _state(app) == before, who
    return reached


def test_a_deployment_administrator_reaches_only_its_own_courses(
    app: Flask, client: FlaskClient, platform: FakePlatform, tmp_path: Path
) -> None:
    cast = _cast(app, platform, tmp_path)
    add_admin(app, "dep@example.edu", deployment=cast["deployment"])
    assert sign_in(client, "dep@example.edu").status_code == 303
    reached = _check_deployment_admin(app, client, cast, "password")
    # An LMS administrator who came in by launch is an administrator of that deployment too.
    reached |= _check_deployment_admin(app, _by_launch(app, platform), cast, "launch")

    # Every page and action of the admin area was tried (a new one must be added above).
    open_to_all = {"admin.login", "admin.logout", "admin.enter"}
    every = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert every - open_to_all - reached == set()

    # The administrator of the self-registered platform's deployment sees its course alone.
    with app.app_context():
        dynamic = db.session.scalar(
            select(LtiDeployment.id)
            .join(LtiRegistration, LtiRegistration.id == LtiDeployment.registration_id)
            .where(LtiRegistration.client_id == "dyn-1")
        )
    add_admin(app, "moodle@example.edu", deployment=dynamic)
    moodle = https_client(app)
    assert sign_in(moodle, "moodle@example.edu").status_code == 303
    listed = moodle.get("/admin/courses").get_data(as_text=True)
    assert "Course qdyn" in listed and MINE not in listed and "qoth" not in listed
    assert "Refused qdyn" in moodle.get("/admin/launch-errors").get_data(as_text=True)

    # The whole tool's administrator sees every course, error and token.
    add_admin(app)
    root = https_client(app)
    assert sign_in(root).status_code == 303
    for url, shown in (
        ("/admin/courses", [f"Course {t}" for t in (MINE, BOTH, *FOREIGN)]),
        ("/admin/launch-errors", ["Refused qsib", "Refused qoth", "Refused qdyn", "qlogin"]),
        ("/admin/tokens", ["qplatwide", "qevery", "qall", "events-qlogs"]),
        ("/admin/sources", ["qsource", "qfolder"]),
        ("/admin/access-log", [f"viewer-{t}" for t in FOREIGN]),
    ):
        text = root.get(url).get_data(as_text=True)
        for value in shown:
            assert value in text, (url, value)
