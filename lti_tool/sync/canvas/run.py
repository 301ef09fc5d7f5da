"""One course's Canvas run: full or incremental, fetch everything, then write it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from lti_tool.config import setting
from lti_tool.i18n.text import N_
from lti_tool.models import Assignment, Course, Enrollment, PersonIdentity, Submission, SyncRun
from lti_tool.models.sync import SUCCEEDED, last_succeeded
from lti_tool.models.types import DbSession, utcnow
from lti_tool.sync.canvas.fetch import fetch
from lti_tool.sync.canvas.fetched import Fetched
from lti_tool.sync.canvas.source import KIND, _token, client_for, source_for
from lti_tool.sync.canvas.write import Writer
from lti_tool.sync.errors import SyncError

# The package's name, as before the split: log lines keep their logger (the JSON logs show it).
log = logging.getLogger(__package__)

#: Last activity this long before the last run's start still counts as "since the last run"
#: (Canvas's clock and ours differ, and its timestamps are whole seconds).
CLOCK_SLACK = timedelta(minutes=2)
#: Why the learners table has no e-mail addresses when Canvas leaves the `email` key out.
EMAILS_HIDDEN = (
    "Canvas did not share e-mail addresses with the tool's API token: its user lacks the "
    'Canvas permission "Users - view primary email address" (ask your Canvas administrator '
    "to grant it to the token's user); the learners table shows no e-mail for Canvas learners"
)


def _last_full_start(session: DbSession, course_id: int) -> datetime | None:
    started: datetime | None
    for started, counts in session.execute(
        select(SyncRun.started_at, SyncRun.counts)
        .where(
            SyncRun.course_id == course_id,
            SyncRun.source == KIND,
            SyncRun.status == SUCCEEDED,
        )
        .order_by(SyncRun.id.desc())
        .limit(100)
    ):
        if isinstance(counts, dict) and counts.get("mode") == "full":
            return started
    return None


def sync_course(
    session: DbSession,
    course: Course,
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = (1.0, 4.0),
) -> tuple[dict[str, Any], int]:
    """Fetch the course from Canvas, then write it (uncommitted); returns (counts, requests)."""
    source = source_for(session, course)
    token = _token(source)
    canvas_id = (course.lms_course_id or "").strip()
    if not canvas_id:
        raise SyncError(
            N_(
                "course %(id)s has no Canvas course id: launch the tool once from the Canvas "
                "course (the launch's canvas_course_id custom field gives it)"
            ),
            id=course.id,
        )
    last = last_succeeded(session, course.id, KIND)
    since = last.started_at - CLOCK_SLACK if last and last.started_at else None
    full_every = timedelta(hours=float(setting("CANVAS_FULL_SYNC_HOURS", "24")))
    last_full = _last_full_start(session, course.id)
    full = since is None or last_full is None or utcnow() - last_full >= full_every
    known = set(
        session.scalars(
            select(PersonIdentity.value)
            .join(Enrollment, Enrollment.person_id == PersonIdentity.person_id)
            .where(
                PersonIdentity.platform_id == course.platform_id,
                PersonIdentity.kind == "canvas_user_id",
                Enrollment.course_id == course.id,
            )
        )
    )
    learner_dates_passed: list[str] = []
    if not full and since is not None:
        # Learners' own dates (cached_due_date) cover the overrides Canvas does not list (25
        # or more) and individual ones.
        learner_dates_passed = list(
            session.scalars(
                select(Assignment.lms_assignment_id)
                .join(Submission, Submission.assignment_id == Assignment.id)
                .where(
                    Assignment.course_id == course.id,
                    Submission.due_at > since,
                    Submission.due_at <= utcnow(),
                )
                .distinct()
            )
        )
    client = client_for(
        source, token, timeout=timeout, retry_delays=retry_delays, should_stop=should_stop
    )
    # No transaction stays open while Canvas answers.
    session.commit()
    data: Fetched | None = None
    try:
        data = fetch(
            client,
            canvas_id,
            full=full,
            since=since,
            known_users=known,
            learner_dates_passed=learner_dates_passed,
        )
    except SyncError as exc:
        exc.requests_made = client.requests_made
        exc.counts = {"throttled": client.throttle_waits, "retries": client.retries}
        raise
    finally:
        client.close()
    try:
        course = session.get(Course, course.id) or course
        counts = Writer(session, course, data).run()
    except SyncError as exc:
        exc.requests_made = client.requests_made
        raise
    finally:
        data.close()
    counts.update(
        {
            "mode": "full" if full else "incremental",
            "active_learners": len(data.active),
            "pages": dict(data.pages),
            "throttled": client.throttle_waits,
            "slowed": client.slowdowns,
            "retries": client.retries,
        }
    )
    hidden = data.emails_hidden
    if hidden is None and last is not None and isinstance(last.counts, dict):
        # A run that read no users knows no better than the last one: carried forward, so the
        # latest run always says (the learners page reads it).
        hidden = last.counts.get("emails_hidden")
    if hidden is not None:
        counts["emails_hidden"] = bool(hidden)
    if hidden and "users" not in data.skipped:  # else its own warning already says why
        data.warnings.append(EMAILS_HIDDEN)
    if data.warnings:
        counts["warnings"] = data.warnings
    log.info(
        "canvas sync of course %s: %s, %s requests, %s rows written",
        course.id,
        counts["mode"],
        client.requests_made,
        counts.get("rows_written", 0),
    )
    return counts, client.requests_made
