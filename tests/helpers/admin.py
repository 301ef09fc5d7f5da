"""The admin area's helpers: an administrator, signing in, posting forms with the CSRF token,
and a platform's estate (a course, a source, a token, a failed run, a log entry, a refusal)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.admin.auth import hash_password
from lti_tool.api.tokens import create_token
from lti_tool.extensions import db
from lti_tool.models import (
    AccessLog,
    AdminUser,
    Course,
    CourseDeployment,
    DataSource,
    LaunchError,
    LtiDeployment,
    LtiRegistration,
    Platform,
    SyncRun,
)
from tests.helpers.client import https_client

PASSWORD = "correct horse battery staple"
ROOT = "root@example.edu"


def add_admin(
    app: Flask, email: str = ROOT, deployment: int | None = None, password: str = PASSWORD
) -> None:
    """An administrator row, hashed as `flask admin create` does."""
    with app.app_context():
        db.session.add(
            AdminUser(email=email, password_hash=hash_password(password), deployment_id=deployment)
        )
        db.session.commit()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(client: FlaskClient, email: str = ROOT, password: str = PASSWORD) -> Any:
    page = client.get("/admin/login")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password}
    )


def post(client: FlaskClient, url: str, data: dict[str, str] | None = None, page: str = "") -> Any:
    """Post an admin form with the session's CSRF token, read from an admin page."""
    html = client.get(page or "/admin/").get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_of(html), **(data or {})})


def deployment_row(app: Flask, platform_name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(LtiDeployment.id)
            .join(LtiRegistration, LtiRegistration.id == LtiDeployment.registration_id)
            .join(Platform, Platform.id == LtiRegistration.platform_id)
            .where(Platform.name == platform_name)
        )


def admin_client(app: Flask) -> FlaskClient:
    """A client signed in as the administrator of the whole tool (added first)."""
    add_admin(app)
    client = https_client(app)
    assert sign_in(client).status_code == 303
    return client


def estate(app: Flask, name: str, tag: str) -> dict[str, int]:
    """A platform's course (launched through its first deployment), source, token, failed sync
    run, access-log entry and refused launch."""
    with app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.name == name))
        course = Course(platform_id=platform.id, lti_context_id=f"ctx-{tag}", title=f"Course {tag}")
        db.session.add(course)
        db.session.flush()
        deployment = platform.registrations[0].deployments[0]
        db.session.add(CourseDeployment(course_id=course.id, deployment_id=deployment.id))
        source = DataSource(
            platform_id=platform.id, kind="canvas", location=f"https://{tag}.instructure.test"
        )
        db.session.add(source)
        token = create_token(db.session, f"lab-{tag}", "events:write", course).row
        db.session.add(
            SyncRun(course_id=course.id, source="nrps", status="failed", error=f"boom-{tag}")
        )
        db.session.add(
            AccessLog(course_id=course.id, viewer_label=f"viewer-{tag}", action="contact_details")
        )
        body = {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": deployment.deployment_id}
        db.session.add(
            LaunchError(
                platform_id=platform.id,
                client_id=platform.registrations[0].client_id,
                stage="launch",
                status_code=400,
                reason=f"refused-{tag}",
                claims={"header": {}, "body": body},
            )
        )
        db.session.commit()
        return {
            "platform": platform.id,
            "course": course.id,
            "source": source.id,
            "token": token.id,
        }
