"""LTI Platform Storage, server side: a login with `lti_storage_target`, a launch without cookies.

The browser side (postMessages with an LMS page, Set-Cookie stripped) is in
tests/browser/test_platform_storage_browser.py.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Enrollment
from tests.helpers.platform import LEARNER, TOOL, FakePlatform


def storage_login(client: FlaskClient, platform: FakePlatform, sub: str = "s1") -> dict[str, str]:
    """The login page for a platform-storage login: its data attributes."""
    response = client.post(
        "/lti/login",
        data={
            "iss": platform.issuer,
            "login_hint": sub,
            "target_link_uri": TOOL + "/lti/launch",
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
            "lti_storage_target": "_parent",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    found = {k: html_lib.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', html)}
    assert "lti_storage.js" in html and "cookie_check.js" in html
    return found


def auth_request(page: dict[str, str]) -> dict[str, str]:
    """The OIDC auth request the login page goes on to."""
    query = urlsplit(page["auth-url"]).query
    return {k: v[0] for k, v in parse_qs(query).items()}


def launch_without_cookies(
    app: Flask, platform: FakePlatform, page: dict[str, str], sub: str = "s1", **form: str
) -> Any:
    """The launch post from the LMS, as a browser that kept none of the tool's cookies."""
    from urllib.parse import parse_qs, urlsplit

    auth = {
        k: v[0] for k, v in parse_qs(urlsplit(page["auth-url"].replace("&amp;", "&")).query).items()
    }
    body = platform.claims(auth["nonce"], roles=LEARNER, sub=sub)
    fresh = app.test_client()  # no cookie jar from the login
    data = {"id_token": platform.sign(body), "state": auth["state"], **form}
    return fresh, data, fresh.post("/lti/launch", data=data)


def test_login_offers_platform_storage_with_the_state_and_its_origin(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    page = storage_login(client, platform)
    assert page["storage-target"] == "_parent"
    assert page["storage-origin"] == "https://lms.example.edu"  # the OIDC auth endpoint's
    assert page["state"].startswith("state-")
    assert page["key"] == "lti1p3_" + page["state"]
    assert auth_request(page)["state"] == page["state"]
    # The new-window fallback restarts the login without platform storage.
    assert "lti_storage_target" not in page["new-window-url"]


def test_a_launch_without_cookies_asks_the_lms_then_succeeds_with_the_state_it_kept(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    page = storage_login(client, platform)
    fresh, data, first = launch_without_cookies(app, platform, page)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert 'id="lti-storage-launch"' in html and "storage_launch.js" in html
    assert f'data-key="lti1p3_{page["state"]}"' in html
    second = fresh.post(
        "/lti/launch",
        data={**data, "lti_storage_state": page["state"]},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert second.status_code == 303, second.get_data(as_text=True)
    assert "/courses/1/me?t=" in second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(Enrollment.course_role)) == "learner"
    # The proof is good once: the same post again is refused (the nonce is spent too).
    again = fresh.post(
        "/lti/launch",
        data={**data, "lti_storage_state": page["state"]},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert again.status_code in (400, 401)


def test_a_state_the_lms_did_not_keep_is_refused(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    page = storage_login(client, platform)
    fresh, data, _ = launch_without_cookies(app, platform, page)
    refused = fresh.post(
        "/lti/launch",
        data={**data, "lti_storage_state": "state-forged"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert refused.status_code == 401
    assert "did not confirm this launch" in refused.get_data(as_text=True)


def test_a_cross_site_post_claiming_the_state_is_refused(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    # An attacker knows the state of a login they started; they cannot post it from our page.
    page = storage_login(client, platform)
    fresh, data, _ = launch_without_cookies(app, platform, page)
    refused = fresh.post(
        "/lti/launch",
        data={**data, "lti_storage_state": page["state"]},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Enrollment.id)) is None


def test_an_ordinary_launch_with_cookies_ignores_platform_storage(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    page = storage_login(client, platform)
    from urllib.parse import parse_qs, urlsplit

    auth = {
        k: v[0] for k, v in parse_qs(urlsplit(page["auth-url"].replace("&amp;", "&")).query).items()
    }
    body = platform.claims(auth["nonce"], roles=LEARNER, sub="s1")
    response = client.post(  # the client kept the login's cookies
        "/lti/launch", data={"id_token": platform.sign(body), "state": auth["state"]}
    )
    assert response.status_code == 303
