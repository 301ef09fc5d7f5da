"""Pseudo-localisation of the admin area: every page of an administrator of the whole tool,
with a platform, its course, data source, token, failed sync, access-log entry and refused
launch, is marked; the names, addresses, codes and recorded texts in it are data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from flask import Flask

from lti_tool.i18n import text
from lti_tool.i18n.catalogs import PSEUDO_OPEN, pseudo_translations
from tests.helpers.admin import ROOT, admin_client, estate
from tests.helpers.client import https_client
from tests.helpers.platform import FakePlatform
from tests.helpers.pseudo import unmarked

PAGES = (
    "/admin/",
    "/admin/platforms",
    "/admin/platforms/new",
    "/admin/courses",
    "/admin/keys",
    "/admin/sources",
    "/admin/tokens",
    "/admin/sync",
    "/admin/access-log",
    "/admin/audit",
    "/admin/launch-errors",
)


@pytest.fixture
def pseudo() -> Iterator[None]:
    with text.using(pseudo_translations()):
        yield


def _data(html: str, platform: FakePlatform) -> list[str]:
    """What the admin pages show as recorded: names, addresses, ids, codes."""
    found = [
        "Course Analytics",
        ROOT,
        platform.name,
        platform.issuer,
        platform.client_id,
        "Course x",
        "lab-x",
        "viewer-x",
        "refused-x",
        "boom-x",
        "contact details",
        "events:write",
        "reports:read",
        "nrps",
        "failed",
        "launch",
        "Canvas",
        "Open edX",
        "Moodle",
        "UTC",
        '{"keys": [...]}',
    ]
    # The claims received (JSON); the audit log's recorded actors and targets ("token lab-x").
    found += [unescape(c) for c in re.findall(r"<pre>(.*?)</pre>", html, re.S)]
    if 'action="/admin/audit"' in html:
        found += [unescape(c) for c in re.findall(r"<td>([^<]*)</td>", html)]
    # Codes and addresses printed as code, and the values of the form's fields.
    found += [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<code[^>]*>(.*?)</code>", html, re.S)]
    found += re.findall(r"https?://[^\s<\"']+", html)
    found += re.findall(r"<option value=\"[^\"]*\"[^>]*>([^<]*)</option>", html)
    return found


@pytest.mark.parametrize("path", PAGES)
def test_every_admin_page_is_all_marked(
    app: Flask, platform: FakePlatform, pseudo: None, path: str
) -> None:
    client = admin_client(app)
    ids = estate(app, platform.name, "x")
    for url in (path, f"/admin/platforms/{ids['platform']}", f"/admin/sources/{ids['source']}"):
        page = client.get(url)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, (url, html[:300])
        assert PSEUDO_OPEN in html
        left = unmarked(html, _data(html, platform))
        assert left == [], (url, left)


def test_the_sign_in_page_is_all_marked(app: Flask, pseudo: None) -> None:
    html = https_client(app).get("/admin/login").get_data(as_text=True)
    assert unmarked(html, ["Course Analytics"]) == []
