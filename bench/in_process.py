"""What the in-process benches share: the app on a database `bench/dashboard.py --keep DIR`
built, and the course's first staff member there (not a bench of its own)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Production settings with throwaway secrets: the benches read a database built for them.
BENCH_ENVIRONMENT = {
    "LTI_TOOL_CONFIG": "production",
    "SECRET_KEY": "bench-secret",
    "TOOL_BASE_URL": "https://tool.test",
    "DATA_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktbm90LXNlY3JldC0wMDAwMDA=",
    "LOG_LEVEL": "WARNING",
}


def bench_app(database: str) -> Any:
    """The tool's app (production configuration) on a SQLite file or a database URL."""
    url = database if "://" in database else f"sqlite:///{database}"
    os.environ.update({"DATABASE_URL": url, **BENCH_ENVIRONMENT})
    sys.path.insert(0, str(REPO))
    from lti_tool import create_app

    return create_app()


def first_staff() -> tuple[int, Any]:
    """The first staff enrollment's person id and course (in an app context)."""
    from sqlalchemy import select

    from lti_tool.extensions import db
    from lti_tool.models import Course, Enrollment

    staff = db.session.execute(
        select(Enrollment.person_id, Enrollment.course_id).where(Enrollment.course_role == "staff")
    ).first()
    if staff is None:
        raise SystemExit("no staff enrollment: run bench/dashboard.py --keep DIR first")
    person_id, course_id = staff
    course = db.session.get(Course, course_id)
    assert course is not None
    return person_id, course
