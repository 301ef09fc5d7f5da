"""Open edX tracking logs by hand: one classic line (`event`), a time some days ago
(`days_ago`), a log file (`write`), a class's log (`class_log`), the log's course
(`log_course`), and `flask ingest tracking-logs` and `flask report` as the tests run them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course
from lti_tool.models.types import utcnow

COURSE = "course-v1:edX+DemoX+2026"
VIDEO = "i4x-edX-DemoX-video-0b9e39477cdb4b3a8e5b9e5f2c2e0c3f"
VIDEO_ID = "0b9e39477cdb4b3a8e5b9e5f2c2e0c3f"


def days_ago(days: int, second: int) -> str:
    """A tracking-log time `days` days before today (UTC), `second` seconds into the day:
    recent days fall in the "7 days" window and the last complete week."""
    day = (utcnow() - timedelta(days=days)).date()
    return f"{day.isoformat()} {second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}"


def log_course() -> Course:
    """The course of these logs (COURSE), as an ingest stored it (in an app context)."""
    found = db.session.scalar(select(Course).where(Course.lms_course_id == COURSE))
    assert found is not None
    return found


def at(stamp: str) -> str:
    """ISO time as tracking logs write it."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).isoformat()


def event(
    stamp: str,
    name: str = "/courses/x/courseware",
    user: int | None = 7,
    username: str = "learner7",
    source: str = "server",
    payload: Any = None,
    course: str = COURSE,
) -> str:
    """One classic tracking-log line."""
    body = payload if payload is not None else {}
    if source == "browser" and isinstance(body, dict):
        body = json.dumps(body)  # browser events carry the payload as a JSON string
    return json.dumps(
        {
            "username": username,
            "event_type": name,
            "event_source": source,
            "time": at(stamp),
            "event": body,
            "context": {"course_id": course, "user_id": user, "org_id": "edX", "path": "/x"},
            "page": None,
        }
    )


def write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def ingest(runner: FlaskCliRunner, *paths: Path | str) -> dict[str, Any]:
    result = runner.invoke(args=["ingest", "tracking-logs", *map(str, paths), "--json"])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.output)
    data["exit_code"] = result.exit_code
    return data


def report(runner: FlaskCliRunner, name: str, *extra: str) -> list[dict[str, Any]]:
    result = runner.invoke(args=["report", name, "--course", COURSE, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def class_log(tmp_path: Path, learners: int) -> Path:
    """Learner n works 10 * n minutes on Monday 2026-03-02 (two events n*10 min apart)."""
    lines = []
    for n in range(1, learners + 1):
        lines.append(event("2026-03-02 09:00:00", user=n, username=f"peer{n}"))
        lines.append(event(f"2026-03-02 09:{n * 2:02d}:00", user=n, username=f"peer{n}"))
    return write(tmp_path / "class.log", lines)


def with_ip(line: str, ip: str, where: str = "top") -> str:
    """A tracking-log line with an `ip`: at the top level as tracking.log writes it, or in the
    context (`where="context"`) as the processed eventtracking shape carries it."""
    data = json.loads(line)
    if where == "context":
        data["context"]["ip"] = ip
    else:
        data["ip"] = ip
    return json.dumps(data)
