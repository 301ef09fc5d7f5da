"""The browser tests' LMS and tool: two https sites, the real LTI flow between them.

The LMS is a small Flask app on https://lms.test:<port> that signs launches with
`lti_tool.dev.platform.DevPlatform`; the tool runs on https://tool.test:<port>, registered with
the LMS directly in its database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, abort, render_template_string, request
from playwright.sync_api import Browser, Frame, Locator, Page
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.dev.demo import dev_people, load_demo
from lti_tool.dev.demo_activity import load_demo_activity
from lti_tool.dev.platform import DEMO_CONTEXT, DEV_USERS, DevPlatform
from lti_tool.extensions import db
from lti_tool.lti.keys import generate_private_key_pem
from lti_tool.models import Course, LtiDeployment, LtiRegistration, Platform
from tests.helpers.browser import LMS_HOST, TOOL_HOST, ServerFactory

CLIENT_ID = "browser-test-client"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))

COURSE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LMS course</title>
<link rel="icon" href="data:,"></head>
<body><h1>{{ title }}</h1>
{% if storage %}<script>
// The LMS side of LTI Platform Storage: answer the tool frame's postMessages.
window.__seen = [];
var kept = {};
window.addEventListener("message", function (event) {
  var m = event.data;
  if (!m || typeof m !== "object" || !m.subject) { return; }
  // lti.frameResize (every page's height) is not a storage message: the frame keeps its size.
  if (m.subject === "lti.frameResize") { return; }
  window.__seen.push(m.subject);
  {% if storage == "silent" %}return;{% endif %}
  var reply = {subject: m.subject + ".response", message_id: m.message_id};
  if (m.subject === "lti.capabilities") {
    reply.supported_messages = [
      {subject: "lti.capabilities"}, {subject: "lti.put_data"}, {subject: "lti.get_data"}];
  } else if (m.subject === "lti.put_data") {
    kept[event.origin + " " + m.key] = m.value;
    reply.key = m.key; reply.value = m.value;
  } else if (m.subject === "lti.get_data") {
    reply.key = m.key; reply.value = kept[event.origin + " " + m.key];
  } else { return; }
  event.source.postMessage(reply, event.origin);
});
</script>{% endif %}
<iframe title="Course analytics" width="{{ width }}" height="{{ height }}" src="{{ src }}"></iframe>
</body></html>"""

AUTOPOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head>
<body><form method="post" action="{{ action }}">
{% for name, value in fields.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}</form>
<script>document.forms[0].submit()</script></body></html>"""


def make_lms(platform: DevPlatform, tool_origin: str) -> Flask:
    """A minimal LMS: a course page framing the tool and an OIDC authorization endpoint."""
    lms = Flask("fake_lms")
    login_url = tool_origin + "/lti/login"
    launch_url = tool_origin + "/lti/launch"

    @lms.get("/course")
    def course() -> str:
        user = request.args.get("as", "instructor")
        if user not in platform.users:
            abort(404)
        src = platform.login_url(login_url, launch_url, user)
        storage = request.args.get("storage")  # "answer" | "silent": offer platform storage
        if storage:
            src += "&lti_storage_target=_parent"
        width = request.args.get("width", "1000", type=int)
        height = request.args.get("height", "700", type=int)
        return render_template_string(
            COURSE_PAGE,
            title=platform.context["title"],
            src=src,
            width=width,
            height=height,
            storage=storage,
        )

    @lms.get("/auth")
    def auth() -> str:
        try:
            fields = platform.authorize(request.args, launch_url)
        except ValueError as exc:
            abort(400, description=str(exc))
        return render_template_string(AUTOPOST_PAGE, action=launch_url, fields=fields)

    return lms


@dataclass
class Stack:
    """The tool and the LMS, both served over https, and what their servers received."""

    tool: Flask
    tool_origin: str
    lms_origin: str
    platform: DevPlatform
    servers: ServerFactory

    def course_id(self) -> int | None:
        """The tool's id for the LMS course, once a launch has created it."""
        with self.tool.app_context():
            found = db.session.scalar(
                select(Course.id).where(Course.lti_context_id == self.platform.context["id"])
            )
            db.session.remove()
            return found

    def speak(self, locales: dict[str, str]) -> None:
        """The LMS's instructor and student again per language (`instructor-es` launches the
        same person, same sub, with `locales["es"]`)."""
        for short, locale in locales.items():
            for user in ("instructor", "student"):
                self.platform.users[f"{user}-{short}"] = {**DEV_USERS[user], "locale": locale}


@contextmanager
def running_stack(
    https_servers: ServerFactory,
    folder: Path,
    platform_options: dict[str, Any] | None = None,
    prepare: Callable[[Flask, Platform], None] | None = None,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[Stack]:
    """Start the tool and the LMS, and register the LMS with the tool directly in its database.

    `prepare(tool, platform_row)` runs in the tool's app context before it serves (seed data,
    extra test-only routes); `wrap(wsgi_app)` may put a middleware in front of the tool.
    """
    tool_server = https_servers.start(TOOL_HOST)
    lms_server = https_servers.start(LMS_HOST)
    platform = DevPlatform(
        private_key_pem=generate_private_key_pem(),
        issuer=f"https://{LMS_HOST}",
        client_id=CLIENT_ID,
        **(platform_options or {}),
    )
    database = folder / "tool.sqlite3"
    tool = create_app(
        {
            "CONFIG_NAME": "testing",
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(database),
            "TOOL_BASE_URL": tool_server.origin,
        }
    )
    tool.instance_path = str(database.parent / "instance")
    with tool.app_context():
        db.create_all()
        row = Platform(name="Browser-test LMS", issuer=platform.issuer)
        row.frame_origins = [lms_server.origin]
        db.session.add(row)
        db.session.flush()
        registration = LtiRegistration(
            platform_id=row.id,
            issuer=platform.issuer,
            client_id=platform.client_id,
            auth_login_url=lms_server.origin + "/auth",
            auth_token_url=lms_server.origin + "/token",
            jwks={"keys": [platform.jwk]},
        )
        db.session.add(registration)
        db.session.flush()
        db.session.add(
            LtiDeployment(registration_id=registration.id, deployment_id=platform.deployment_id)
        )
        db.session.commit()
        if prepare is not None:
            prepare(tool, row)
        db.session.remove()
    tool_server.serve(wrap(tool) if wrap is not None else tool)
    lms_server.serve(make_lms(platform, tool_server.origin))
    try:
        yield Stack(tool, tool_server.origin, lms_server.origin, platform, https_servers)
    finally:
        with tool.app_context():
            db.session.remove()
            db.engine.dispose()


def demo_stack(https_servers: ServerFactory, folder: Path) -> AbstractContextManager[Stack]:
    """The tool and the LMS, the tool holding the demo course (see load_demo_course)."""
    return running_stack(https_servers, folder, {"context": DEMO_CONTEXT}, load_demo_course)


def load_demo_course(tool: Flask, row: Platform) -> None:
    """A running_stack `prepare`: the demo course as `flask demo load` loads it (people with
    the LMS's own users, Canvas-like grades and modules, six weeks of activity)."""
    course = load_demo(row, DEMO_CONTEXT, extra_people=dev_people())
    load_demo_activity(db.session, row, course)


def launch_in_frame(page: Page, stack: Stack, user: str, width: int, timeout_ms: int) -> Frame:
    """Launch as `user` in an LMS frame `width` px wide; the tool's frame, its first page up."""
    page.set_viewport_size({"width": width + 40, "height": 900})
    page.goto(f"{stack.lms_origin}/course?as={user}&width={width}&height=800")
    page.frame_locator("iframe").locator("#course-title, h1").first.wait_for(timeout=timeout_ms)
    return page.frames[1]


def nav_link(frame: Frame, name: str) -> Locator:
    """The course navigation's link named `name`, "More" opened first when it is inside."""
    nav = frame.locator("nav.course-tabs")
    more = nav.locator("details")
    if more.count() and more.get_attribute("open") is None:
        if more.get_by_role("link", name=name, exact=True, include_hidden=True).count():
            more.locator("summary").click()
    return nav.get_by_role("link", name=name, exact=True)


@contextmanager
def new_page(
    browser: Browser, accept: str | None = None, bypass_csp: bool = True
) -> Iterator[Page]:
    """A page in a browser context of its own (closed after), asking for the `accept`
    languages when given; the CSP is bypassed (for the tests' own scripts) unless told not."""
    headers = {"Accept-Language": accept} if accept else None
    context = browser.new_context(
        ignore_https_errors=True, bypass_csp=bypass_csp, extra_http_headers=headers
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Keep a screenshot of the page as `name`.png in the screenshots folder (CI's artifacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
