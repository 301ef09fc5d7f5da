"""Approving a platform that registered itself, in the admin area."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import AdminAudit, Platform
from tests.helpers.admin import add_admin, csrf_of, deployment_row, post, sign_in
from tests.helpers.client import https_client
from tests.helpers.platform import FakePlatform


def pending_platform(app: Flask) -> tuple[FakePlatform, int]:
    fake = FakePlatform(issuer="https://moodle.college.test", name="moodle moodle.college.test")
    fake.register(app)
    with app.app_context():
        row = db.session.scalar(select(Platform))
        row.approved, row.registered_by = False, "dynamic"
        db.session.commit()
        return fake, row.id


def test_a_global_administrator_approves_a_pending_platform(app: Flask) -> None:
    fake, platform_id = pending_platform(app)
    add_admin(app)
    client = https_client(app)
    assert sign_in(client).status_code == 303
    listing = client.get("/admin/platforms").get_data(as_text=True)
    assert "pending approval" in listing
    page = client.get(f"/admin/platforms/{platform_id}").get_data(as_text=True)
    assert "Waiting for approval" in page and f"/admin/platforms/{platform_id}/approve" in page
    login = {"iss": fake.issuer, "login_hint": "u", "client_id": fake.client_id}
    assert https_client(app).post("/lti/login", data=login).status_code == 403
    # Without the form's CSRF token nothing changes.
    assert client.post(f"/admin/platforms/{platform_id}/approve").status_code == 400
    done = post(
        client, f"/admin/platforms/{platform_id}/approve", page=f"/admin/platforms/{platform_id}"
    )
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Platform, platform_id).approved
        [row] = db.session.scalars(
            select(AdminAudit).where(AdminAudit.action == "platform_approved")
        )
        assert (row.platform_id, row.actor) == (platform_id, "root@example.edu")
    page = client.get(f"/admin/platforms/{platform_id}").get_data(as_text=True)
    assert "Waiting for approval" not in page
    assert "pending approval" not in client.get("/admin/platforms").get_data(as_text=True)
    assert fake.launch(https_client(app)).status_code == 303


def test_a_deployment_administrator_cannot_approve(app: Flask) -> None:
    _, platform_id = pending_platform(app)
    add_admin(app, "dep@example.edu", deployment=deployment_row(app, "moodle moodle.college.test"))
    client = https_client(app)
    assert sign_in(client, "dep@example.edu").status_code == 303
    page = client.get(f"/admin/platforms/{platform_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Waiting for approval" in html
    assert "/approve" not in html  # no button
    token = csrf_of(client.get("/admin/").get_data(as_text=True))
    refused = client.post(f"/admin/platforms/{platform_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    with app.app_context():
        assert not db.session.get(Platform, platform_id).approved
