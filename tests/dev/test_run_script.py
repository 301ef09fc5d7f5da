"""The README's run command starts the tool with demo data, and the development LMS launches it."""

from __future__ import annotations

import html
import os
import re
import subprocess
import time
from pathlib import Path

import requests

from tests.helpers.processes import ROOT, free_port


def test_run_script_serves_demo_course_through_real_launch(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "run.sqlite3"),
    }
    env.pop("TEST_DATABASE_URL", None)
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run")], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            raise AssertionError((tmp_path / "run.log").read_text())
        assert f"Open {base}/dev/platform/" in (tmp_path / "run.log").read_text()
        browser = requests.Session()
        for who, landing in (("instructor", "Course staff"), ("student", "My progress")):
            lms = browser.get(f"{base}/dev/platform/?as={who}", timeout=30)
            login = html.unescape(re.search(r'<iframe[^>]*src="([^"]+)"', lms.text)[1])
            form = browser.get(base + login, timeout=30)  # login -> platform auth -> form post
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
            action = re.search(r'action="([^"]+)"', form.text)[1]
            page = browser.post(action, data=fields, timeout=30)
            assert page.status_code == 200, page.text
            assert "Demo: Introduction to Data Science" in page.text and landing in page.text
            if who == "instructor":
                learners = int(re.search(r'id="count-learners">(\d+)<', page.text)[1])
                assert learners >= 20  # the demo class
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    access_log = (tmp_path / "run.log").read_text()
    assert '"GET /courses/' in access_log  # requests are logged ...
    assert "?t=" not in access_log and "id_token" not in access_log  # ... without their tokens
