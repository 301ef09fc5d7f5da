"""Who may frame which page: a course's own platform on its pages, approved platforms elsewhere."""

from __future__ import annotations

import re

import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Platform
from tests.helpers.platform import CLAIM, INSTRUCTOR, FakePlatform
from tests.helpers.registration import CONFIG_PATH, fake_lms, start

MINE = "https://lms.example.edu"
OTHER = "https://other.example.edu"
PENDING = "https://pending.example.edu"
OFF = "https://off.example.edu"


def ancestors(response: object) -> set[str]:
    """The sources of the response's frame-ancestors directive."""
    csp = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    match = re.search(r"frame-ancestors ([^;]+)", csp)
    assert match, csp
    return set(match.group(1).split())


def estate(app: Flask) -> tuple[FakePlatform, FakePlatform, FakePlatform]:
    """Two approved platforms, one pending (registered itself), one disabled."""
    mine = FakePlatform()
    other = FakePlatform(
        issuer=OTHER,
        client_id="client-2",
        name="Other LMS",
        key_file="other_platform_key.pem",
        frame_origins=(OTHER,),
    )
    pending = FakePlatform(
        issuer=PENDING, client_id="client-3", name="Pending LMS", frame_origins=(PENDING,)
    )
    off = FakePlatform(issuer=OFF, client_id="client-4", name="Off LMS", frame_origins=(OFF,))
    for fake in (mine, other, pending, off):
        fake.register(app)
    with app.app_context():
        row = db.session.scalar(select(Platform).where(Platform.name == "Pending LMS"))
        row.approved, row.registered_by = False, "dynamic"
        db.session.scalar(select(Platform).where(Platform.name == "Off LMS")).enabled = False
        db.session.commit()
    return mine, other, pending


def course_url(fake: FakePlatform, client: FlaskClient, context: str) -> str:
    launched = fake.launch(client, roles=INSTRUCTOR, **{CLAIM + "context": {"id": context}})
    assert launched.status_code == 303, launched.get_data(as_text=True)
    return str(launched.headers["Location"])


def test_a_course_page_is_framed_by_its_own_platform_only(app: Flask, client: FlaskClient) -> None:
    mine, other, _ = estate(app)
    mine_url, other_url = course_url(mine, client, "c-1"), course_url(other, client, "c-2")
    assert ancestors(client.get(mine_url)) == {"'self'", MINE}
    assert ancestors(client.get(other_url)) == {"'self'", OTHER}
    # Refused pages of a course too (no session here): still only its platform.
    stranger = app.test_client()
    refused = stranger.get(mine_url.split("?")[0], base_url="https://tool.test")
    assert refused.status_code == 403
    assert ancestors(refused) == {"'self'", MINE}
    assert ancestors(stranger.get("/courses/999/", base_url="https://tool.test")) == {"'self'"}


def test_pages_outside_a_course_are_framed_by_approved_platforms_only(
    app: Flask, client: FlaskClient
) -> None:
    mine, _, pending = estate(app)
    approved = {"'self'", MINE, OTHER}
    assert ancestors(client.get("/privacy")) == approved
    assert ancestors(client.get("/")) == approved
    # The login page inside the LMS frame (cookie check) of an approved platform.
    login = client.post(
        "/lti/login",
        data={"iss": MINE, "login_hint": "u", "client_id": mine.client_id},
        headers={"Sec-Fetch-Dest": "iframe"},
    )
    assert login.status_code == 200 and ancestors(login) == approved
    # The pending platform's refused login: not framed by it either.
    refused = client.post(
        "/lti/login", data={"iss": PENDING, "login_hint": "u", "client_id": pending.client_id}
    )
    assert refused.status_code == 403 and ancestors(refused) == approved
    # Once approved, its origins join the pages outside a course.
    with app.app_context():
        db.session.scalar(select(Platform).where(Platform.name == "Pending LMS")).approved = True
        db.session.commit()
    assert ancestors(client.get("/privacy")) == approved | {PENDING}


@responses.activate
def test_the_registration_page_is_framed_by_the_registering_lms(
    app: Flask, client: FlaskClient
) -> None:
    base = "https://moodle.college.test"
    fake_lms(base, "moodle", "AbCdEf123", "7")
    page = start(client, base)
    assert page.status_code == 200
    assert ancestors(page) == {"'self'", base}  # Canvas shows this page in its own iframe
    # The platform it made is pending: its origin frames nothing else.
    assert ancestors(client.get("/privacy")) == {"'self'"}
    refused = client.get(
        "/lti/register",
        query_string={"openid_configuration": "javascript:alert(1)//" + CONFIG_PATH},
    )
    assert refused.status_code == 400 and ancestors(refused) == {"'self'"}
