"""Canvas API sync (being built under issue 4; until then a course has no Canvas source)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.models import Course
from lti_tool.sync.nrps import SyncError


def courses_to_sync(session: Session) -> list[int]:
    """The courses the scheduler syncs from Canvas: none until the source is built."""
    return []


def sync_course(
    session: Session,
    course: Course,
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = (),
) -> tuple[dict[str, Any], int]:
    """Not built yet: fails the run saying so."""
    raise SyncError("the Canvas source is not available yet")
