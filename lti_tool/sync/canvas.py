"""Canvas REST API sync: people, enrollments, sections, grades, submissions, modules, analytics.

The platform's `data_source` row (kind "canvas", location = the Canvas base URL) holds an API
token encrypted with DATA_ENCRYPTION_KEY; `flask platform set-canvas` stores it. A course is
synced when its launch gave `lms_course_id` (the `$Canvas.course.id` custom field).

Everything is fetched before anything is written, and written in the caller's transaction, so a
failure at any point leaves the previous data as it was. Lists are read 100 a page, following
`Link: rel="next"` only; per-student payloads (module states, hourly activity) and submissions
are reduced to tuples and spooled to a temporary file as they arrive, so memory stays flat in
the number of students.

A run is *full* the first time and then once every CANVAS_FULL_SYNC_HOURS (24): it re-reads
the bulk lists (users with e-mail, every submission grouped by student, bulk_user_progress,
student_summaries). Other runs are *incremental*: the enrollment list (every page: it carries
activity time, last activity and grades for everyone, and shows drops), the course, sections,
assignments, modules, course activity, submissions submitted or graded since the last run, and
users not seen before. Only learners whose `last_activity_at` is after the last successful run
get per-student calls (module states, hourly activity), plus the student_summaries list when
anybody was active. A due date that passed since the last run re-reads that assignment's
submissions and the summaries (missing and late change without anybody doing anything).

Due dates follow each learner. An assignment's own `due_at` is only the date "as it applies to
the user requesting" (the token's user); each submission's `cached_due_date` is the learner's
own, section, group and individual overrides included, and is kept as `Submission.due_at`. The
assignments list is read with `include[]=all_dates` (the same request) for the course events on
the charts: the date for everyone and one per section override. Scores: `current_score` is the
posted score (what the learner sees); `unposted_current_score` (what the gradebook shows staff)
comes only when the token's user may manage or view all grades, and is kept beside it.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import requests
from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from lti_tool import secrets
from lti_tool.activity.sql import dialect_insert
from lti_tool.models import (
    Assignment,
    Course,
    CourseEvent,
    CourseModule,
    CourseSettings,
    DataSource,
    Enrollment,
    LmsCourseActivityDay,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ModuleProgress,
    PersonIdentity,
    Platform,
    Section,
    SectionMember,
    Submission,
    SyncRun,
)
from lti_tool.models.sync import SUCCEEDED
from lti_tool.models.types import utcnow
from lti_tool.people.linking import Claim, link_people
from lti_tool.people.roles import MEMBERSHIP, TEST_USER, context_role_name, course_role
from lti_tool.sync.errors import SyncError
from lti_tool.sync.http import HttpError, JsonClient, where

log = logging.getLogger(__name__)

KIND = "canvas"
PER_PAGE = 100
USER_AGENT = "lti_tool-canvas"
#: Every enrollment state, so that drops (inactive, completed, deleted) are seen.
ENROLLMENT_STATES = (
    "active",
    "invited",
    "creation_pending",
    "inactive",
    "completed",
    "deleted",
    "rejected",
)
ACTIVE_STATES = frozenset({"active", "invited", "creation_pending"})
LEARNER_TYPES = frozenset({"StudentEnrollment", "StudentViewEnrollment"})
#: Canvas enrollment types as LTI context roles (Canvas TAs are Instructors too).
TYPE_ROLES = {
    "StudentEnrollment": [MEMBERSHIP + "#Learner"],
    "TeacherEnrollment": [MEMBERSHIP + "#Instructor"],
    "TaEnrollment": [MEMBERSHIP + "#Instructor", MEMBERSHIP + "/Instructor#TeachingAssistant"],
    "DesignerEnrollment": [MEMBERSHIP + "#ContentDeveloper"],
    "ObserverEnrollment": [MEMBERSHIP + "#Mentor"],
    "StudentViewEnrollment": [MEMBERSHIP + "#Learner", TEST_USER],
}
#: What a token's user must be allowed to do for each part (Canvas's role permission names).
PERMISSIONS = {
    "course": "Courses - view (the course itself)",
    "enrollments": "Users - view list",
    "users": "Users - view list, and Users - view primary email address",
    "sections": "Users - view list (course sections)",
    "assignments": "Assignments and Quizzes - view",
    "submissions": "Grades - view all grades",
    "modules": "Course Content - view",
    "bulk_progress": "Grades - view all grades (course progress)",
    "activity": "Analytics - view pages",
    "summaries": "Analytics - view pages, and Grades - view all grades",
    "user_activity": "Analytics - view pages",
    "student_modules": "Grades - view all grades (a student's module progress)",
}
#: Last activity this long before the last run's start still counts as "since the last run"
#: (Canvas's clock and ours differ, and its timestamps are whole seconds).
CLOCK_SLACK = timedelta(minutes=2)
#: A learner is "low on budget" under this X-Rate-Limit-Remaining (Canvas's bucket holds 700).
RATE_LOW = 100.0
USER_BATCH = 50
WRITE_BATCH = 5000
#: Why the learners table has no e-mail addresses when Canvas leaves the `email` key out.
EMAILS_HIDDEN = (
    "Canvas did not share e-mail addresses with the tool's API token: its user lacks the "
    'Canvas permission "Users - view primary email address" (ask your Canvas administrator '
    "to grant it to the token's user); the learners table shows no e-mail for Canvas learners"
)


def _setting(name: str, default: str) -> str:
    from flask import has_app_context

    from lti_tool.sync.runs import setting

    if has_app_context():
        return setting(name, default)
    return os.environ.get(name) or default


# --- values --------------------------------------------------------------------------------


def _dt(value: Any) -> datetime | None:
    """A Canvas timestamp as an aware UTC datetime; None when absent or not a timestamp."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    """A Canvas id as text (ids are integers; SIS-style strings are kept as sent)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _str(value, 255)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _all_dates(row: dict[str, Any]) -> AssignmentDates | None:
    """An assignment's `all_dates` (Canvas's AssignmentDate list), or None when it has none.

    With 25 or more overrides Canvas sends `all_dates_count` and no (or an empty) `all_dates`:
    None then too, and the caller says so. The entry with `base: true` is the date of everyone
    without an override; Canvas drops it when every section has one (nobody is left).
    """
    entries = row.get("all_dates")
    if not isinstance(entries, list) or not entries:
        return None
    everyone = course_wide = None
    has_base = has_course = False
    sections: dict[str, tuple[datetime, str]] = {}
    all_due = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        due = _dt(entry.get("due_at"))
        if due is not None:
            all_due.append(due)
        kind = entry.get("set_type")
        if entry.get("base") is True:
            has_base, everyone = True, due
        elif kind == "Course":
            # An override for the whole course: everyone's date when there is no base entry.
            has_course, course_wide = True, due
        elif kind == "CourseSection":
            section_id = _id(entry.get("set_id"))
            if section_id and due is not None:
                title = _str(entry.get("title")) or ""
                # Two overrides of one section should not happen; the later date wins, as
                # Canvas gives a learner the latest of the dates that apply to them.
                if section_id not in sections or due > sections[section_id][0]:
                    sections[section_id] = (due, title)
        # "ADHOC" (some students) and "Group": no course event. They are per learner, and each
        # submission's cached_due_date already carries the date that applies to its learner.
    if not has_base and has_course:
        everyone = course_wide
    return AssignmentDates(
        everyone=everyone,
        sections=[(k, due, title) for k, (due, title) in sorted(sections.items())],
        all_due=all_due,
    )


# --- the data source and its token ---------------------------------------------------------


def source_for(session: Session, course: Course) -> DataSource:
    """The enabled Canvas data source of the course's platform, or a SyncError saying why not."""
    if course.platform_id is None:
        raise SyncError(f"course {course.id} belongs to no platform")
    source = session.scalar(
        select(DataSource)
        .where(DataSource.platform_id == course.platform_id, DataSource.kind == KIND)
        .order_by(DataSource.id)
        .limit(1)
    )
    if source is None:
        raise SyncError(
            "the course's platform has no Canvas API source: store a token with "
            "`flask platform set-canvas --platform NAME --base-url URL --token-file FILE`"
        )
    if not source.enabled:
        raise SyncError("the platform's Canvas API source is disabled")
    return source


def _token(source: DataSource) -> str:
    if not source.secret_encrypted:
        raise SyncError(
            "the Canvas API source has no token (a new base URL clears it): enter it again "
            "(`flask platform set-canvas` or the admin page's Data sources)"
        )
    try:
        return secrets.decrypt(source.secret_encrypted)
    except secrets.SecretsUnavailable as exc:
        raise SyncError(f"the Canvas token cannot be read: {exc}") from None


def _throttled(response: requests.Response) -> bool:
    """429, or Canvas's 403 "Rate Limit Exceeded"."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in (response.text or "").lower()


def client_for(
    source: DataSource,
    token: str,
    *,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = (1.0, 4.0),
    should_stop: Callable[[], bool] | None = None,
) -> JsonClient:
    """A JSON client of the source's Canvas API with Canvas's throttling rules."""
    base = source.location.strip().rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]  # typed with the API path on the admin page
    return JsonClient(
        base + "/api/v1/",
        token,
        timeout=timeout,
        retry_delays=retry_delays,
        should_stop=should_stop,
        throttled=_throttled,
        rate_header="X-Rate-Limit-Remaining",
        rate_low=RATE_LOW,
        rate_pause=float(_setting("CANVAS_RATE_PAUSE", "2")),
        user_agent=USER_AGENT,
    )


def _token_refused(exc: HttpError) -> bool:
    """A 401 for the token itself (invalid, expired, revoked), not for one action."""
    if exc.status != 401:
        return False
    return bool(exc.www_authenticate) or "invalid access token" in exc.body.lower()


def check_connection(source: DataSource, timeout: float = 10) -> tuple[bool, str]:
    """GET /api/v1/users/self with the stored token: whom it belongs to, or why it failed."""
    try:
        token = _token(source)
    except SyncError as exc:
        return False, str(exc)
    client = client_for(source, token, timeout=timeout, retry_delays=())
    try:
        me = client.get_json("users/self")
    except HttpError as exc:
        if _token_refused(exc):
            return False, f"the Canvas token was refused (HTTP 401 from {where(exc.url)})"
        return False, str(exc)
    except SyncError as exc:
        return False, str(exc)
    finally:
        client.close()
    if not isinstance(me, dict) or _id(me.get("id")) is None:
        return False, f"{where(client.url('users/self'))} did not answer a Canvas user"
    name = _str(me.get("name")) or _str(me.get("short_name")) or "(no name)"
    return True, f"the token belongs to {name} (Canvas user {_id(me.get('id'))})"


def courses_to_sync(session: Session) -> list[int]:
    """Courses of enabled platforms with an enabled Canvas source and a Canvas course id."""
    return list(
        session.scalars(
            select(Course.id)
            .join(Platform, Platform.id == Course.platform_id)
            .join(
                DataSource,
                and_(
                    DataSource.platform_id == Platform.id,
                    DataSource.kind == KIND,
                    DataSource.enabled.is_(True),
                ),
            )
            .where(Platform.enabled.is_(True), Course.lms_course_id.is_not(None))
            .distinct()
            .order_by(Course.id)
        )
    )


# --- fetching --------------------------------------------------------------------------------


class Spool:
    """Tuples kept in a temporary file in chunks, read back in the order they were added."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()
        self.count = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        """Append a chunk."""
        if rows:
            pickle.dump(rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.count += len(rows)

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """Every chunk, from the start."""
        self.file.flush()
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)  # noqa: S301 - our own temporary file
            except EOFError:
                return

    def close(self) -> None:
        """Remove the file."""
        self.file.close()


@dataclass
class CanvasUser:
    """One Canvas user of the course, merged from their enrollments and the users list."""

    user_id: str
    name: str | None = None
    sortable_name: str | None = None
    email: str | None = None
    sis_user_id: str | None = None
    login_id: str | None = None
    types: list[tuple[str, str]] = field(default_factory=list)  # (type, state)
    sections: set[str] = field(default_factory=set)
    learner: bool = False
    last_activity_at: datetime | None = None
    activity_seconds: int | None = None
    current_score: float | None = None
    final_score: float | None = None
    unposted_current_score: float | None = None
    unposted_final_score: float | None = None
    current_grade: str | None = None
    final_grade: str | None = None


@dataclass
class AssignmentDates:
    """An assignment's dates from `include[]=all_dates`: for everyone, and per section override.

    Individual (ADHOC) and group overrides are left out: they are per learner, and each
    learner's submission (`cached_due_date`) already carries the date that applies to them.
    """

    everyone: datetime | None
    #: (Canvas section id, due at, the override's title: the section's name)
    sections: list[tuple[str, datetime, str]] = field(default_factory=list)
    #: Every due date the assignment has (overrides of any kind): when one passes, missing and
    #: late change for someone.
    all_due: list[datetime] = field(default_factory=list)


@dataclass
class Fetched:
    """What one run read from Canvas."""

    full: bool
    since: datetime | None
    course: dict[str, Any] = field(default_factory=dict)
    users: dict[str, CanvasUser] = field(default_factory=dict)
    sections: list[tuple[str, str]] | None = None
    assignments: list[dict[str, Any]] | None = None
    #: Canvas assignment id → its dates (absent: Canvas sent no `all_dates`, or too many)
    dates: dict[str, AssignmentDates] = field(default_factory=dict)
    #: Assignments whose overrides Canvas did not list (25 or more: only `all_dates_count`).
    dates_truncated: list[str] = field(default_factory=list)
    #: (assignment id, user id, score, submitted, graded, late, missing, excused, state, due)
    submissions: Spool = field(default_factory=Spool)
    submissions_read: bool = False
    modules: list[tuple[str, str, int | None, int]] | None = None
    #: user id → (requirements, done, completed_at)
    progress: dict[str, tuple[int | None, int | None, datetime | None]] = field(
        default_factory=dict
    )
    #: (user id, module id, state, completed_at, required, done)
    module_states: Spool = field(default_factory=Spool)
    #: user id → (page_views, participations, missing, late, on_time)
    summaries: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    days: list[tuple[date, int, int]] | None = None
    #: (user id, [(hour, views, participations)])
    hours: Spool = field(default_factory=Spool)
    active: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Parts the token's user may not read (PERMISSIONS keys).
    skipped: set[str] = field(default_factory=set)
    #: True when the users list came back without any `email` key (Canvas omits the key when
    #: the token's user may not read e-mail addresses), or was not readable at all; None when
    #: this run read no users.
    emails_hidden: bool | None = None
    analytics: bool = True
    pages: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def close(self) -> None:
        """Drop the spool files."""
        for spool in (self.submissions, self.module_states, self.hours):
            spool.close()


class Fetcher:
    """Reads one course from Canvas into a Fetched, one request at a time."""

    def __init__(self, client: JsonClient, canvas_id: str, data: Fetched) -> None:
        self.client = client
        self.base = f"courses/{canvas_id}"
        self.canvas_id = canvas_id
        self.data = data
        self.skipped = data.skipped

    def _fail(self, exc: HttpError, what: str, key: str = "") -> SyncError:
        if _token_refused(exc):
            return SyncError(
                f"the Canvas token was refused: HTTP 401 from {where(exc.url)} while reading "
                f"{what}; nothing was changed (store a new token with `flask platform "
                "set-canvas`)"
            )
        throttled = "rate limit exceeded" in exc.body.lower()
        if exc.status in (401, 403) and key in PERMISSIONS and not throttled:
            return SyncError(
                f"the Canvas token's user may not read {what} (HTTP {exc.status} from "
                f'{where(exc.url)}): it needs the Canvas permission "{PERMISSIONS[key]}"'
            )
        return SyncError(f"could not read {what} from Canvas: {exc}")

    def _optional(self, exc: HttpError, key: str, what: str) -> bool:
        """Record a part the token may not read (401/403) or analytics that is off (404)."""
        if _token_refused(exc) or "rate limit exceeded" in exc.body.lower():
            return False  # the token is refused, or Canvas kept throttling: the run fails
        if exc.status in (401, 403) and key not in self.skipped:
            self.skipped.add(key)
            self.data.warnings.append(
                f"{what} skipped: the token's user is not authorized (needs the Canvas "
                f'permission "{PERMISSIONS[key]}")'
            )
            return True
        if exc.status in (401, 403):
            return True
        if exc.status == 404 and key in ("activity", "summaries", "user_activity"):
            if self.data.analytics:
                self.data.analytics = False
                self.data.warnings.append(
                    "Canvas course analytics is not available for this course (HTTP 404 from "
                    f"{where(exc.url)}): page views, participations and tardiness were not "
                    "updated"
                )
            return True
        return False

    def pages(
        self, key: str, path: str, params: list[tuple[str, Any]], what: str, optional: bool
    ) -> Iterator[list[Any]]:
        """Each page of a list; an optional part the token may not read yields nothing."""
        try:
            for page in self.client.pages(path, [("per_page", PER_PAGE), *params]):
                self.data.pages[key] += 1
                yield page
        except HttpError as exc:
            if optional and self._optional(exc, key, what):
                return
            raise self._fail(exc, what, key) from None

    def one(self, key: str, path: str, params: list[tuple[str, Any]], what: str) -> Any:
        """One JSON document; None when an optional part is not readable."""
        try:
            return self.client.get_json(path, params)
        except HttpError as exc:
            if key != "course" and self._optional(exc, key, what):
                return None
            if exc.status == 404 and key == "course":
                raise SyncError(
                    f"Canvas has no course {self.canvas_id} at {where(exc.url)} (HTTP 404): is "
                    "the data source's base URL the one the course launches from?"
                ) from None
            raise self._fail(exc, what, key) from None

    # --- parts -------------------------------------------------------------------------

    def course(self) -> None:
        """The course itself: its name and start."""
        body = self.one("course", self.base, [], "the course")
        if not isinstance(body, dict):
            raise SyncError(f"Canvas's answer for course {self.canvas_id} is not a course")
        self.data.course = {
            "name": _str(body.get("name")),
            "start_at": _dt(body.get("start_at")),
        }

    def enrollments(self) -> None:
        """Every enrollment in every state, merged per Canvas user."""
        users = self.data.users
        params = [("state[]", s) for s in ENROLLMENT_STATES]
        for page in self.pages(
            "enrollments", self.base + "/enrollments", params, "the enrollment list", False
        ):
            for row in page:
                if not isinstance(row, dict):
                    raise SyncError("Canvas's enrollment list holds something not an enrollment")
                user_id = _id(row.get("user_id"))
                kind = _str(row.get("type"), 40) or ""
                if user_id is None or kind not in TYPE_ROLES:
                    continue
                user = users.get(user_id) or users.setdefault(user_id, CanvasUser(user_id))
                state = (_str(row.get("enrollment_state"), 30) or "active").lower()
                user.types.append((kind, state))
                info = row.get("user") if isinstance(row.get("user"), dict) else {}
                user.name = _str(info.get("name"), 300) or user.name
                user.sortable_name = _str(info.get("sortable_name"), 300) or user.sortable_name
                for attr in ("sis_user_id", "login_id"):
                    value = _str(info.get(attr), 255)
                    if value:
                        setattr(user, attr, value)
                section = _id(row.get("course_section_id"))
                if section and state != "deleted":
                    user.sections.add(section)
                if kind not in LEARNER_TYPES:
                    continue
                user.learner = True
                last = _dt(row.get("last_activity_at"))
                if last and (user.last_activity_at is None or last > user.last_activity_at):
                    user.last_activity_at = last
                seconds = _int(row.get("total_activity_time"))
                if seconds is not None:
                    user.activity_seconds = max(user.activity_seconds or 0, seconds)
                grades = row.get("grades") if isinstance(row.get("grades"), dict) else {}
                if grades and (state in ACTIVE_STATES or user.current_score is None):
                    # Posted scores; the unposted keys are there only for a token whose user
                    # may manage or view all grades (absent keys: None).
                    user.current_score = _float(grades.get("current_score"))
                    user.final_score = _float(grades.get("final_score"))
                    user.unposted_current_score = _float(grades.get("unposted_current_score"))
                    user.unposted_final_score = _float(grades.get("unposted_final_score"))
                    user.current_grade = _str(grades.get("current_grade"), 50)
                    user.final_grade = _str(grades.get("final_grade"), 50)

    def user_details(self, only: list[str] | None) -> None:
        """E-mail, SIS id and login of every user (full runs) or of the given ones."""
        if only is not None and not only:
            return
        params: list[tuple[str, Any]] = [("include[]", "email")]
        params += [
            ("enrollment_state[]", s) for s in ("active", "invited", "completed", "inactive")
        ]
        batches: list[list[str] | None] = [None]
        if only is not None:
            batches = [only[i : i + USER_BATCH] for i in range(0, len(only), USER_BATCH)]
        rows = with_email = 0
        for batch in batches:
            extra = [("user_ids[]", u) for u in batch] if batch else []
            what = "the course's users (e-mail)"
            for page in self.pages("users", self.base + "/users", params + extra, what, True):
                for row in page:
                    user_id = _id(row.get("id")) if isinstance(row, dict) else None
                    user = self.data.users.get(user_id or "")
                    if user is None:
                        continue
                    rows += 1
                    # The key itself, not its value: Canvas sends "email": null for a user
                    # without an address, and no key at all when the token may not read any.
                    with_email += "email" in row
                    user.name = _str(row.get("name"), 300) or user.name
                    user.email = _str(row.get("email"), 320) or user.email
                    user.sis_user_id = _str(row.get("sis_user_id"), 255) or user.sis_user_id
                    user.login_id = _str(row.get("login_id"), 255) or user.login_id
        if "users" in self.skipped:
            self.data.emails_hidden = True
        elif rows:
            self.data.emails_hidden = not with_email

    def sections(self) -> None:
        """The course's sections and their names."""
        found: list[tuple[str, str]] = []
        for page in self.pages("sections", self.base + "/sections", [], "sections", True):
            for row in page:
                section_id = _id(row.get("id")) if isinstance(row, dict) else None
                if section_id:
                    found.append((section_id, _str(row.get("name")) or ""))
        if "sections" not in self.skipped:
            self.data.sections = found

    def assignments(self) -> None:
        """Every assignment with its due date, and its dates per section (all_dates)."""
        found = []
        # all_dates rides on the same request: no request is added for the section dates.
        params = [("include[]", "all_dates")]
        what = "assignments"
        for page in self.pages("assignments", self.base + "/assignments", params, what, True):
            for row in page:
                assignment_id = _id(row.get("id")) if isinstance(row, dict) else None
                if not assignment_id:
                    continue
                dates = _all_dates(row)
                if dates is not None:
                    self.data.dates[assignment_id] = dates
                elif _int(row.get("all_dates_count")):
                    self.data.dates_truncated.append(assignment_id)
                found.append(
                    {
                        "lms_assignment_id": assignment_id,
                        "name": _str(row.get("name")) or "",
                        "due_at": _dt(row.get("due_at")),
                        "points_possible": _float(row.get("points_possible")),
                        "position": _int(row.get("position")),
                        "published": row.get("published") is not False,
                    }
                )
        if "assignments" not in self.skipped:
            self.data.assignments = found

    def _submission_rows(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        # `cached_due_date` is in every submission's JSON (Canvas's SUBMISSION_JSON_FIELDS),
        # though the documented Submission model leaves it out: the learner's own due date.
        out = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            assignment_id, user_id = _id(row.get("assignment_id")), _id(row.get("user_id"))
            if not assignment_id or not user_id:
                continue
            out.append(
                (
                    assignment_id,
                    user_id,
                    _float(row.get("score")),
                    _dt(row.get("submitted_at")),
                    _dt(row.get("graded_at")),
                    row.get("late") is True,
                    row.get("missing") is True,
                    row.get("excused") is True,
                    _str(row.get("workflow_state"), 30),
                    _dt(row.get("cached_due_date")),
                )
            )
        return out

    def submissions(self, due_passed: list[str]) -> None:
        """Submissions: all, grouped by student (full), or changed since the last run."""
        path, what = self.base + "/students/submissions", "submissions"
        spool = self.data.submissions
        base = [("student_ids[]", "all")]
        if self.data.full:
            # Grouped, the list pages by student: 100 students a page, not 100 submissions.
            for page in self.pages("submissions", path, [*base, ("grouped", "true")], what, True):
                for group in page:
                    subs = group.get("submissions") if isinstance(group, dict) else None
                    spool.add(self._submission_rows(subs if isinstance(subs, list) else []))
        else:
            since = self.data.since
            assert since is not None
            stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
            queries = [[("submitted_since", stamp)], [("graded_since", stamp)]]
            if due_passed:
                queries.append([("assignment_ids[]", a) for a in due_passed])
            for extra in queries:
                for page in self.pages("submissions", path, [*base, *extra], what, True):
                    spool.add(self._submission_rows(page))
        self.data.submissions_read = "submissions" not in self.skipped

    def _items(self, module: dict[str, Any], student: str | None) -> list[Any] | None:
        items = module.get("items")
        if isinstance(items, list):
            return items
        module_id = _id(module.get("id"))
        if not module_id:
            return None
        # Canvas leaves the items out of large modules: read them on their own.
        params = [("student_id", student)] if student else []
        found: list[Any] = []
        key = "student_modules" if student else "modules"
        path = f"{self.base}/modules/{module_id}/items"
        for page in self.pages(key, path, params, "module items", True):
            found.extend(page)
        return found

    def modules(self) -> None:
        """Modules and how many items of each carry a completion requirement."""
        found = []
        params = [("include[]", "items")]
        for page in self.pages("modules", self.base + "/modules", params, "modules", True):
            for row in page:
                module_id = _id(row.get("id")) if isinstance(row, dict) else None
                if not module_id:
                    continue
                items = self._items(row, None) or []
                required = sum(
                    1
                    for i in items
                    if isinstance(i, dict) and isinstance(i.get("completion_requirement"), dict)
                )
                published = row.get("published") is not False
                found.append(
                    (module_id, _str(row.get("name")) or "", _int(row.get("position")), required)
                    if published
                    else (module_id, "", None, -1)  # unpublished: counted out
                )
        if "modules" not in self.skipped:
            self.data.modules = found

    def bulk_progress(self) -> None:
        """Course-level progress of every student (full runs)."""
        what = "course progress (bulk_user_progress)"
        for page in self.pages("bulk_progress", self.base + "/bulk_user_progress", [], what, True):
            for row in page:
                user_id = _id(row.get("id")) if isinstance(row, dict) else None
                progress = row.get("progress") if user_id else None
                if isinstance(progress, dict):
                    self.data.progress[user_id or ""] = (
                        _int(progress.get("requirement_count")),
                        _int(progress.get("requirement_completed_count")),
                        _dt(progress.get("completed_at")),
                    )

    def course_activity(self) -> None:
        """Page views and participations of the whole course per day."""
        body = self.one("activity", self.base + "/analytics/activity", [], "course analytics")
        if body is None:
            return
        if not isinstance(body, list):
            raise SyncError("Canvas's course analytics answer is not a list of days")
        days = []
        for row in body:
            day = _dt((row.get("date") or "") + "T00:00:00Z") if isinstance(row, dict) else None
            if day is None:
                continue
            days.append(
                (day.date(), _int(row.get("views")) or 0, _int(row.get("participations")) or 0)
            )
        self.data.days = days

    def _summary_rows(self, page: list[Any]) -> None:
        for row in page:
            user_id = _id(row.get("id")) if isinstance(row, dict) else None
            if not user_id:
                continue
            tardy = row.get("tardiness_breakdown")
            tardy = tardy if isinstance(tardy, dict) else {}
            self.data.summaries[user_id] = (
                _int(row.get("page_views")),
                _int(row.get("participations")),
                _int(tardy.get("missing")),
                _int(tardy.get("late")),
                _int(tardy.get("on_time")),
            )

    def summaries(self) -> None:
        """Page views, participations and tardiness of every student."""
        path = self.base + "/analytics/student_summaries"
        for page in self.pages("summaries", path, [], "student summaries (analytics)", True):
            self._summary_rows(page)

    def student(self, user_id: str) -> None:
        """One active learner's module states and hourly activity."""
        if "student_modules" not in self.skipped:
            params = [("student_id", user_id), ("include[]", "items")]
            rows = []
            what = "a student's module progress"
            for page in self.pages("student_modules", self.base + "/modules", params, what, True):
                for module in page:
                    module_id = _id(module.get("id")) if isinstance(module, dict) else None
                    if not module_id or module.get("published") is False:
                        continue
                    items = self._items(module, user_id) or []
                    required = done = 0
                    for item in items:
                        requirement = (
                            item.get("completion_requirement") if isinstance(item, dict) else None
                        )
                        if isinstance(requirement, dict):
                            required += 1
                            done += requirement.get("completed") is True
                    rows.append(
                        (
                            user_id,
                            module_id,
                            _str(module.get("state"), 20),
                            _dt(module.get("completed_at")),
                            required,
                            done,
                        )
                    )
            self.data.module_states.add(rows)
        if not self.data.analytics or "user_activity" in self.skipped:
            return
        path = f"{self.base}/analytics/users/{user_id}/activity"
        try:
            body = self.client.get_json(path)
        except HttpError as exc:
            if exc.status == 404 and self.data.analytics:
                return  # this student has no analytics (e.g. not a student any more)
            if self._optional(exc, "user_activity", "per-student activity (analytics)"):
                return
            raise self._fail(exc, "a student's activity") from None
        if not isinstance(body, dict):
            raise SyncError(f"Canvas's activity of student {user_id} is not an object")
        hours: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
        views = body.get("page_views") if isinstance(body.get("page_views"), dict) else {}
        for stamp, count in views.items():
            moment = _dt(stamp)
            if moment is not None:
                hours[_hour(moment)][0] += _int(count) or 0
        parts = body.get("participations")
        for part in parts if isinstance(parts, list) else []:
            moment = _dt(part.get("created_at")) if isinstance(part, dict) else None
            if moment is not None:
                hours[_hour(moment)][1] += 1
        self.data.hours.add([(user_id, sorted((h, v, p) for h, (v, p) in hours.items()))])


def _last_full_start(session: Session, course_id: int) -> datetime | None:
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


def fetch(
    client: JsonClient,
    canvas_id: str,
    *,
    full: bool,
    since: datetime | None,
    known_users: set[str],
    learner_dates_passed: Sequence[str] = (),
) -> Fetched:
    """Read the course from Canvas (nothing is written).

    `learner_dates_passed`: assignments with a learner's own due date (stored from an earlier
    run) that passed since the last run; their submissions are read again like those whose
    listed dates passed.
    """
    data = Fetched(full=full, since=since)
    fetcher = Fetcher(client, canvas_id, data)
    try:
        fetcher.course()
        fetcher.enrollments()
        if full:
            fetcher.user_details(None)
        else:
            fetcher.user_details(sorted(set(data.users) - known_users, key=_sort_key))
        fetcher.sections()
        fetcher.assignments()
        now = utcnow()
        due_passed = []
        if not full and since is not None:
            # Any date of the assignment, overrides included: a section's (or one learner's)
            # date passing makes their work missing or late as surely as the base date does.
            stored = set(learner_dates_passed)
            for a in data.assignments or []:
                key = a["lms_assignment_id"]
                dates = data.dates.get(key)
                listed = [a["due_at"], *(dates.all_due if dates else ())]
                passed = any(d and since < d <= now for d in listed) or key in stored
                if passed and a["published"]:
                    due_passed.append(key)
        fetcher.submissions(due_passed)
        fetcher.modules()
        data.active = sorted(
            (
                u.user_id
                for u in data.users.values()
                if u.learner
                and u.last_activity_at is not None
                and (since is None or u.last_activity_at > since)
            ),
            key=_sort_key,
        )
        if full:
            fetcher.bulk_progress()
        fetcher.course_activity()
        if data.analytics and (full or data.active or due_passed):
            fetcher.summaries()
        for user_id in data.active:
            fetcher.student(user_id)
    except BaseException:
        data.close()
        raise
    return data


def _sort_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


# --- writing -------------------------------------------------------------------------------


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> int:
    """INSERT … ON CONFLICT (keys) DO UPDATE the other given columns, as one executemany."""
    if not rows:
        return 0
    insert = dialect_insert(session, model.__table__)
    columns = [c for c in rows[0] if c not in keys]
    statement = (
        insert.on_conflict_do_update(
            index_elements=keys, set_={c: insert.excluded[c] for c in columns}
        )
        if columns
        else insert.on_conflict_do_nothing(index_elements=keys)
    )
    # executemany: the driver's own on SQLite, batched multi-row VALUES on PostgreSQL.
    for start in range(0, len(rows), WRITE_BATCH):
        session.execute(statement, rows[start : start + WRITE_BATCH])
    return len(rows)


class Writer:
    """Applies a Fetched to the database in the caller's transaction."""

    def __init__(self, session: Session, course: Course, data: Fetched) -> None:
        self.session = session
        self.course = course
        self.course_id = course.id
        assert course.platform_id is not None
        self.platform_id = course.platform_id
        self.data = data
        self.person: dict[str, int] = {}  # canvas user id → person id
        self.section: dict[str, Section] = {}  # canvas section id → section
        self.counts: dict[str, Any] = defaultdict(int)
        self.now = utcnow()

    def written(self, n: int) -> None:
        """Count rows written."""
        self.counts["rows_written"] += n

    # --- people --------------------------------------------------------------------------

    def people(self) -> None:
        """Find or create the person of every Canvas user; record their identities."""
        users = list(self.data.users.values())
        claims = []
        for user in users:
            identities = [("canvas_user_id", user.user_id)]
            if user.sis_user_id:
                identities.append(("canvas_sis_user_id", user.sis_user_id))
            if user.login_id:
                identities.append(("canvas_login_id", user.login_id))
            attrs = {k: v for k, v in (("name", user.name), ("email", user.email)) if v}
            claims.append(Claim(identities, attrs))
        linked = link_people(self.session, self.platform_id, claims)
        for user, person_id in zip(users, linked.person_ids, strict=True):
            self.person[user.user_id] = person_id
        self.counts["people_merged"] += linked.merged
        self.counts["people_added"] = len(linked.created)
        self.written(len(linked.created) + linked.identities_added + linked.attributes_changed)
        self.session.flush()

    def enrollments(self) -> None:
        """Roles and status from the Canvas enrollments; users gone from Canvas → inactive."""
        existing = {
            e.person_id: e
            for e in self.session.scalars(
                select(Enrollment).where(Enrollment.course_id == self.course_id)
            )
        }
        listed: set[int] = set()
        for user in self.data.users.values():
            person_id = self.person[user.user_id]
            listed.add(person_id)
            active = any(state in ACTIVE_STATES for _, state in user.types)
            # The roles of the active enrollments (a dropped second role stays out); of all
            # of them when none is active.
            roles: list[str] = []
            for kind, state in user.types:
                if state in ACTIVE_STATES or not active:
                    roles += [r for r in TYPE_ROLES[kind] if r not in roles]
            role = course_role(roles)
            wanted: dict[str, Any] = {
                "course_role": role.role,
                "status": "active" if active else "inactive",
                "source": KIND,
            }
            enrollment = existing.get(person_id)
            if enrollment is None:
                self.session.add(
                    Enrollment(
                        course_id=self.course_id,
                        person_id=person_id,
                        roles=roles,
                        is_test_user=role.is_test_user,
                        **wanted,
                    )
                )
                self.counts["added"] += 1
                self.written(1)
                continue
            # Keep the institution and system roles a launch gave, and its test-user flag.
            kept = [r for r in enrollment.roles or [] if context_role_name(r) is None]
            wanted["roles"] = roles + [r for r in kept if r not in roles]
            wanted["is_test_user"] = enrollment.is_test_user or role.is_test_user
            changed = {k: v for k, v in wanted.items() if getattr(enrollment, k) != v}
            if changed:
                for key, value in changed.items():
                    setattr(enrollment, key, value)
                self.counts["updated"] += 1
                self.written(1)
            else:
                self.counts["unchanged"] += 1
        self.counts["members"] = len(self.data.users)
        if not self.data.users:
            self.data.warnings.append("Canvas listed no enrollments: nobody was marked inactive")
            return
        named = set(
            self.session.scalars(
                select(PersonIdentity.person_id).where(
                    PersonIdentity.platform_id == self.platform_id,
                    PersonIdentity.kind == "canvas_user_id",
                    PersonIdentity.person_id.in_(list(existing) or [-1]),
                )
            )
        )
        for person_id, enrollment in existing.items():
            if person_id not in listed and person_id in named and enrollment.status != "inactive":
                enrollment.status = "inactive"
                enrollment.source = KIND
                self.counts["deactivated"] += 1
                self.written(1)

    # --- course structure ----------------------------------------------------------------

    def sections(self) -> None:
        """Sections upserted; members follow the enrollments' sections."""
        rows = {
            s.lms_section_id: s
            for s in self.session.scalars(
                select(Section).where(Section.course_id == self.course_id)
            )
        }
        self.section = rows
        if self.data.sections is None:
            return
        for section_id, name in self.data.sections:
            section = rows.get(section_id)
            if section is None:
                section = Section(course_id=self.course_id, lms_section_id=section_id, name=name)
                self.session.add(section)
                rows[section_id] = section
                self.written(1)
            elif section.name != name:
                section.name = name
                self.written(1)
        self.session.flush()
        wanted = {
            (rows[s].id, self.person[u.user_id])
            for u in self.data.users.values()
            for s in u.sections
            if s in rows
        }
        ids = [s.id for s in rows.values()]
        have = set(
            self.session.execute(
                select(SectionMember.section_id, SectionMember.person_id).where(
                    SectionMember.section_id.in_(ids or [-1])
                )
            ).tuples()
        )
        gone = have - wanted
        for section_id, person_id in gone:
            self.session.execute(
                delete(SectionMember).where(
                    SectionMember.section_id == section_id, SectionMember.person_id == person_id
                )
            )
        self.written(len(gone))
        self.written(
            _upsert(
                self.session,
                SectionMember,
                [{"section_id": s, "person_id": p} for s, p in sorted(wanted - have)],
                ["section_id", "person_id"],
            )
        )
        self.counts["sections"] = len(self.data.sections)

    def assignments(self) -> dict[str, int]:
        """Assignments upserted (vanished ones marked removed), due dates kept as events."""
        rows = {
            a.lms_assignment_id: a
            for a in self.session.scalars(
                select(Assignment).where(Assignment.course_id == self.course_id)
            )
        }
        if self.data.assignments is None:
            return {k: a.id for k, a in rows.items()}
        seen = set()
        for values in self.data.assignments:
            key = values["lms_assignment_id"]
            seen.add(key)
            wanted = {**values, "removed": False}
            assignment = rows.get(key)
            if assignment is None:
                assignment = Assignment(course_id=self.course_id, **wanted)
                self.session.add(assignment)
                rows[key] = assignment
                self.written(1)
                continue
            changed = {k: v for k, v in wanted.items() if getattr(assignment, k) != v}
            for k, v in changed.items():
                setattr(assignment, k, v)
            self.written(bool(changed))
        for key, assignment in rows.items():
            if key not in seen and not assignment.removed:
                assignment.removed = True
                self.written(1)
        self.session.flush()
        self.counts["assignments"] = len(seen)
        self._events({v["lms_assignment_id"]: v for v in self.data.assignments})
        return {k: a.id for k, a in rows.items()}

    def _events(self, assignments: dict[str, dict[str, Any]]) -> None:
        """One course event per date: the date for everyone, and one per section override.

        lms_id is the assignment id for everyone's date and "<assignment id>:section:<section
        id>" for a section's, so each stays unique in (course, source) and follows Canvas.
        """
        events = {
            e.lms_id: e
            for e in self.session.scalars(
                select(CourseEvent).where(
                    CourseEvent.course_id == self.course_id, CourseEvent.source == KIND
                )
            )
        }
        wanted: dict[str, tuple[datetime, str, int | None]] = {}
        unknown_sections = 0
        for key, values in assignments.items():
            if not values["published"]:
                continue
            name = values["name"] or f"Assignment {key}"
            dates = self.data.dates.get(key)
            everyone = dates.everyone if dates is not None else values["due_at"]
            if everyone is not None:
                wanted[key] = (everyone, name[:500], None)
            for section_key, due, title in dates.sections if dates is not None else ():
                section = self.section.get(section_key)
                if section is None:
                    unknown_sections += 1  # not in the sections list (or it was not readable)
                    continue
                if due == everyone:
                    continue  # the same date as everyone's: one marker is enough
                label = section.name or title or f"section {section_key}"
                wanted[f"{key}:section:{section_key}"] = (
                    due,
                    f"{name} ({label})"[:500],
                    section.id,
                )
        for lms_id, (at, title, section_id) in wanted.items():
            event = events.get(lms_id)
            if event is None:
                self.session.add(
                    CourseEvent(
                        course_id=self.course_id,
                        source=KIND,
                        lms_id=lms_id,
                        kind="due",
                        title=title,
                        at=at,
                        section_id=section_id,
                    )
                )
                self.written(1)
            elif (event.at, event.title, event.section_id) != (at, title, section_id):
                event.at, event.title, event.section_id = at, title, section_id
                self.written(1)
        for lms_id, event in events.items():
            if lms_id not in wanted:
                self.session.delete(event)
                self.written(1)
        self.counts["events"] = len(wanted)
        if unknown_sections:
            self.counts["events_unknown_section"] = unknown_sections
        truncated = [
            k for k in self.data.dates_truncated if assignments.get(k, {}).get("published")
        ]
        if truncated:
            self.data.warnings.append(
                f"{len(truncated)} assignment(s) have 25 or more date overrides, which Canvas "
                "does not list: their section due dates are not on the charts (each learner's "
                "own due date still comes from their submission)"
            )

    def submissions(self, assignment_ids: dict[str, int]) -> None:
        """Submissions upserted where they changed."""
        if not self.data.submissions_read:
            return
        total = seen = unknown = 0
        for chunk in self.data.submissions.chunks():
            rows = []
            for aid, uid, score, submitted, graded, late, missing, excused, state, due in chunk:
                assignment_id, person_id = assignment_ids.get(aid), self.person.get(uid)
                if assignment_id is None or person_id is None:
                    unknown += 1
                    continue
                rows.append(
                    {
                        "assignment_id": assignment_id,
                        "person_id": person_id,
                        "score": score,
                        "submitted_at": submitted,
                        "graded_at": graded,
                        "late": late,
                        "missing": missing,
                        "excused": excused,
                        "workflow_state": state,
                        "due_at": due,
                    }
                )
            # The same submission may come twice (submitted and graded since): the last wins.
            unique = {(r["assignment_id"], r["person_id"]): r for r in rows}
            seen += len(unique)
            changed = self._changed_submissions(unique)
            total += _upsert(self.session, Submission, changed, ["assignment_id", "person_id"])
        self.written(total)
        self.counts["submissions"] = seen
        self.counts["submissions_written"] = total
        if unknown:
            self.counts["submissions_skipped"] = unknown

    def _changed_submissions(
        self, rows: dict[tuple[int, int], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows that differ from what is stored (a chunk is one page: memory stays flat)."""
        if not rows:
            return []
        columns = [c for c in next(iter(rows.values())) if c not in ("assignment_id", "person_id")]
        people = sorted({p for _, p in rows})
        assignments = sorted({a for a, _ in rows})
        stored: dict[tuple[int, int], tuple[Any, ...]] = {}
        for start in range(0, len(people), 900):
            for row in self.session.execute(
                select(
                    Submission.assignment_id,
                    Submission.person_id,
                    *(getattr(Submission, c) for c in columns),
                ).where(
                    Submission.person_id.in_(people[start : start + 900]),
                    Submission.assignment_id.in_(assignments),
                )
            ):
                stored[(row[0], row[1])] = tuple(row[2:])
        return [
            row for key, row in rows.items() if stored.get(key) != tuple(row[c] for c in columns)
        ]

    def modules(self) -> dict[str, int]:
        """Modules upserted (vanished or unpublished ones marked removed)."""
        rows = {
            m.lms_module_id: m
            for m in self.session.scalars(
                select(CourseModule).where(CourseModule.course_id == self.course_id)
            )
        }
        if self.data.modules is None:
            return {k: m.id for k, m in rows.items() if not m.removed}
        seen = set()
        for module_id, name, position, required in self.data.modules:
            if required < 0:
                continue  # unpublished: out of the figures, like a removed module
            seen.add(module_id)
            wanted = {
                "name": name,
                "position": position,
                "items_required": required,
                "removed": False,
            }
            module = rows.get(module_id)
            if module is None:
                module = CourseModule(course_id=self.course_id, lms_module_id=module_id, **wanted)
                self.session.add(module)
                rows[module_id] = module
                self.written(1)
                continue
            changed = {k: v for k, v in wanted.items() if getattr(module, k) != v}
            for k, v in changed.items():
                setattr(module, k, v)
            self.written(bool(changed))
        for key, module in rows.items():
            if key not in seen and not module.removed:
                module.removed = True
                self.written(1)
        self.session.flush()
        self.counts["modules"] = len(seen)
        return {k: m.id for k, m in rows.items() if k in seen}

    def module_progress(self, module_ids: dict[str, int]) -> dict[str, tuple[Any, ...]]:
        """Per-student module states; returns each learner's course-level progress from them."""
        derived: dict[str, list[Any]] = {}
        total = 0
        rows: list[dict[str, Any]] = []
        for chunk in self.data.module_states.chunks():
            if len(rows) >= WRITE_BATCH:
                total += _upsert(self.session, ModuleProgress, rows, ["module_id", "person_id"])
                rows = []
            for uid, module_key, state, completed_at, required, done in chunk:
                person_id = self.person.get(uid)
                module_id = module_ids.get(module_key)
                if person_id is None or module_id is None:
                    continue
                rows.append(
                    {
                        "module_id": module_id,
                        "person_id": person_id,
                        "items_required": required,
                        "items_done": done,
                        "state": state,
                        "completed_at": completed_at,
                    }
                )
                sums = derived.setdefault(uid, [0, 0, None, True])
                sums[0] += required
                sums[1] += done
                if required and done < required:
                    sums[3] = False
                if completed_at and (sums[2] is None or completed_at > sums[2]):
                    sums[2] = completed_at
        total += _upsert(self.session, ModuleProgress, rows, ["module_id", "person_id"])
        self.written(total)
        self.counts["module_progress"] = total
        return {
            uid: (req, done, at if complete and req else None)
            for uid, (req, done, at, complete) in derived.items()
        }

    # --- figures -------------------------------------------------------------------------

    def stats(self, derived: dict[str, tuple[Any, ...]]) -> None:
        """Learner stats from enrollments, summaries and progress, written where changed."""
        existing = {
            s.person_id: s
            for s in self.session.scalars(
                select(LmsLearnerStats).where(LmsLearnerStats.course_id == self.course_id)
            )
        }
        written = 0
        for user in self.data.users.values():
            if not user.learner:
                continue
            person_id = self.person[user.user_id]
            wanted: dict[str, Any] = {
                "source": KIND,
                "total_activity_seconds": user.activity_seconds,
                "last_activity_at": user.last_activity_at,
                "current_score": user.current_score,
                "final_score": user.final_score,
                "unposted_current_score": user.unposted_current_score,
                "unposted_final_score": user.unposted_final_score,
                "current_grade": user.current_grade,
                "final_grade": user.final_grade,
            }
            summary = self.data.summaries.get(user.user_id)
            if summary is not None:
                keys = ("page_views", "participations", "missing", "late", "on_time")
                wanted.update(zip(keys, summary, strict=True))
            progress = self.data.progress.get(user.user_id) or derived.get(user.user_id)
            if progress is not None:
                keys = ("requirements", "requirements_done", "completed_at")
                wanted.update(zip(keys, progress, strict=True))
            row = existing.get(person_id)
            if row is None:
                self.session.add(
                    LmsLearnerStats(
                        course_id=self.course_id, person_id=person_id, synced_at=self.now, **wanted
                    )
                )
                written += 1
                continue
            changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(row, k, v)
                row.synced_at = self.now
                written += 1
        self.written(written)
        self.counts["learner_stats"] = written

    def course_days(self) -> None:
        """Course activity per day, written where changed."""
        if self.data.days is None:
            return
        existing = {
            day: (views, parts)
            for day, views, parts in self.session.execute(
                select(
                    LmsCourseActivityDay.day,
                    LmsCourseActivityDay.views,
                    LmsCourseActivityDay.participations,
                ).where(LmsCourseActivityDay.course_id == self.course_id)
            )
        }
        rows = [
            {"course_id": self.course_id, "day": day, "views": views, "participations": parts}
            for day, views, parts in self.data.days
            if existing.get(day) != (views, parts)
        ]
        written = _upsert(self.session, LmsCourseActivityDay, rows, ["course_id", "day"])
        self.written(written)
        self.counts["activity_days"] = len(self.data.days)

    def hours(self) -> None:
        """Active learners' hourly activity, written where changed."""
        total = 0
        any_rows = self.session.scalar(
            select(LmsLearnerActivityHour.person_id)
            .where(LmsLearnerActivityHour.course_id == self.course_id)
            .limit(1)
        )
        keys = ["course_id", "person_id", "hour"]
        rows: list[dict[str, Any]] = []
        for chunk in self.data.hours.chunks():
            for uid, hours in chunk:
                person_id = self.person.get(uid)
                if person_id is None:
                    continue
                existing = (
                    {}
                    if any_rows is None
                    else {
                        hour: (views, parts)
                        for hour, views, parts in self.session.execute(
                            select(
                                LmsLearnerActivityHour.hour,
                                LmsLearnerActivityHour.views,
                                LmsLearnerActivityHour.participations,
                            ).where(
                                LmsLearnerActivityHour.course_id == self.course_id,
                                LmsLearnerActivityHour.person_id == person_id,
                            )
                        )
                    }
                )
                rows += [
                    {
                        "course_id": self.course_id,
                        "person_id": person_id,
                        "hour": hour,
                        "views": views,
                        "participations": parts,
                    }
                    for hour, views, parts in hours
                    if existing.get(hour) != (views, parts)
                ]
                if len(rows) >= WRITE_BATCH:
                    total += _upsert(self.session, LmsLearnerActivityHour, rows, keys)
                    rows = []
        total += _upsert(self.session, LmsLearnerActivityHour, rows, keys)
        self.written(total)
        self.counts["activity_hours"] = total

    def settings(self) -> None:
        """The course start from Canvas, unless staff set one."""
        start = self.data.course.get("start_at")
        if start is None:
            return
        settings = self.session.get(CourseSettings, self.course_id)
        if settings is None:
            self.session.add(CourseSettings(course_id=self.course_id, starts_on=start.date()))
            self.written(1)
        elif settings.starts_on is None:
            settings.starts_on = start.date()
            self.written(1)

    def run(self) -> dict[str, Any]:
        """Write everything; return the counts."""
        self.people()
        self.enrollments()
        self.sections()
        assignment_ids = self.assignments()
        self.submissions(assignment_ids)
        module_ids = self.modules()
        derived = self.module_progress(module_ids)
        self.stats(derived)
        self.course_days()
        self.hours()
        self.settings()
        self.session.flush()
        return dict(self.counts)


def sync_course(
    session: Session,
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
            f"course {course.id} has no Canvas course id: launch the tool once from the Canvas "
            "course (the launch's canvas_course_id custom field gives it)"
        )
    from lti_tool.sync.runs import last_succeeded

    last = last_succeeded(session, course.id, KIND)
    since = last.started_at - CLOCK_SLACK if last and last.started_at else None
    full_every = timedelta(hours=float(_setting("CANVAS_FULL_SYNC_HOURS", "24")))
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
