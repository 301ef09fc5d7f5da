"""Explanations written by shared modules (platforms.PlatformError) shown on pages in the
page's language, with their values; the CLI keeps them English."""

from __future__ import annotations

import json
from html import unescape

from flask import Flask
from flask.testing import FlaskCliRunner

from tests.helpers.admin import admin_client, post
from tests.helpers.platform import FakePlatform


def test_a_platforms_form_errors_in_norwegian_and_the_cli_in_english(
    app: Flask, runner: FlaskCliRunner
) -> None:
    client = admin_client(app)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nb"
    lms = FakePlatform(issuer="https://moodle.example.org", client_id="AbC", name="Moodle")
    form = {
        "name": "Moodle",
        "issuer": "moodle.example.org",
        "client_id": lms.client_id,
        "auth_login_url": lms.auth_url,
        "auth_token_url": lms.issuer + "/token",
        "jwks": json.dumps({"keys": [lms.jwk]}),
        "deployment_ids": "3\n",
        "frame_origins": "https://moodle.example.org",
    }
    bad = post(client, "/admin/platforms/new", form, "/admin/platforms/new")
    text = unescape(bad.get_data(as_text=True))
    assert bad.status_code == 400
    assert "'moodle.example.org' er ikke en http(s)-URL" in text and "is not an" not in text
    origin = post(
        client,
        "/admin/platforms/new",
        {**form, "issuer": lms.issuer, "frame_origins": "https://x.example/path"},
    )
    text = unescape(origin.get_data(as_text=True))
    assert "'https://x.example/path' er ikke en opprinnelse som https://canvas.example.edu" in text
    # The same check from the CLI: English (tests/cli/test_cli.py reads it there too).
    cli = runner.invoke(
        args=[
            *("platform", "add", "--name", "M", "--issuer", "not a url", "--client-id", "c"),
            *("--auth-login-url", "https://x.example/a", "--auth-token-url", "https://x.example/t"),
            *("--jwks-url", "https://x.example/k", "--deployment-id", "d"),
        ]
    )
    assert "'not a url' is not an http(s) URL" in cli.output
