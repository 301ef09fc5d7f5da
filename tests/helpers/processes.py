"""Real processes for the tests and benchmarks: a free port, gunicorn, waiting until ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], log: IO[str], extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """`gunicorn wsgi:app` from the repository (gunicorn.conf.py: PORT, WEB_CONCURRENCY)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", *extra],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(base: str, log_path: Path, tries: int = 240) -> None:
    """Wait until GET /readyz answers 200; fail with the server's log otherwise."""
    for _ in range(tries):
        try:
            if requests.get(base + "/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise AssertionError(f"the server never became ready:\n{log_path.read_text()}")


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m flask …` from the repository, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(database: str, folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a tool process (gunicorn, the scheduler, a CLI command) in the
    production configuration on `database`, its instance folder in `folder`, with `settings`."""
    return {
        **os.environ,
        "FLASK_APP": "lti_tool",
        "LTI_TOOL_CONFIG": "production",
        "DATABASE_URL": database,
        "SECRET_KEY": "test-process-secret",
        "TOOL_BASE_URL": "https://tool.test",
        "LTI_TOOL_INSTANCE_PATH": str(folder / "instance"),
        **settings,
    }
