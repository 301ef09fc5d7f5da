"""Take the README's screenshots from the demo course, through the development LMS's real launch.

    .venv/bin/python scripts/screenshots.py [--out docs]

Needs what `./scripts/test` installs: the dev lock (`pip install --require-hashes -r
requirements-dev.txt`, which brings Playwright for Python and requests) and Debian's chromium
(`apt-get install chromium`); Playwright drives /usr/bin/chromium and downloads no browser.

Builds a throwaway SQLite database with `flask db upgrade` and `flask demo load`, serves the tool
with `flask run`, launches it from the development LMS in Debian's chromium (as the instructor,
then as the student), opens each page top-level with the launch's session token, and writes
docs/screenshot-{overview,learners,learner,videos,student}.png at 1000 px wide (an LMS's
content frame) and docs/screenshot-learners-phone.png at 390 px (a phone).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launched_url(page: Page, base: str, user: str) -> str:
    """Launch from the development LMS; return the tool page the launch landed on."""
    page.goto(f"{base}/dev/platform/?as={user}")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=30_000)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    return frame.url


def shoot(page: Page, url: str, path: Path) -> None:
    """Open a page, wait for its charts and save a full-page screenshot."""
    page.goto(url)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=30_000,
    )
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> None:
    """Start the tool with the demo, launch as staff and as a learner, save the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lti-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FLASK_APP": "lti_tool",
        "LTI_TOOL_CONFIG": "development",
        "DATABASE_URL": f"sqlite:///{work / 'demo.sqlite3'}",
        "LTI_TOOL_INSTANCE_PATH": str(work / "instance"),
        "TOOL_BASE_URL": base,
    }
    flask = [sys.executable, "-m", "flask"]
    for args in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([*flask, *args], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    server = subprocess.Popen(  # noqa: S603
        [*flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                if requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.25)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            # 1000 px: the usual width of an LMS's content frame; 390 px: a phone.
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            staff = launched_url(page, base, "instructor")
            course, _, query = staff.partition("?")
            course = course.rstrip("/")
            shoot(page, staff, out / "screenshot-overview.png")
            shoot(page, f"{course}/learners?{query}", out / "screenshot-learners.png")
            learner = page.locator("#table-learners tbody a[href*='/learners/']").first
            shoot(page, base + str(learner.get_attribute("href")), out / "screenshot-learner.png")
            shoot(page, f"{course}/videos?{query}", out / "screenshot-videos.png")
            page.set_viewport_size({"width": 390, "height": 844})
            shoot(page, f"{course}/learners?{query}", out / "screenshot-learners-phone.png")
            page.set_viewport_size({"width": 1000, "height": 900})
            student = launched_url(page, base, "student")
            shoot(page, student, out / "screenshot-student.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
