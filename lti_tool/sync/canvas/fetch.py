"""Reading a course from the Canvas API, 100 a page, into a Fetched; nothing is written."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from lti_tool.i18n.text import N_, LazyText, english, lazy_gettext, using
from lti_tool.models.types import utcnow
from lti_tool.sync.canvas.fetched import CanvasUser, Fetched
from lti_tool.sync.canvas.source import _token_refused
from lti_tool.sync.canvas.values import (
    ACTIVE_STATES,
    TYPE_ROLES,
    _all_dates,
    _dt,
    _float,
    _id,
    _int,
    _str,
)
from lti_tool.sync.errors import SyncError
from lti_tool.sync.http import HttpError, JsonClient, where

PER_PAGE = 100
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
LEARNER_TYPES = frozenset({"StudentEnrollment", "StudentViewEnrollment"})
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
USER_BATCH = 50


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class Fetcher:
    """Reads one course from Canvas into a Fetched, one request at a time."""

    def __init__(self, client: JsonClient, canvas_id: str, data: Fetched) -> None:
        self.client = client
        self.base = f"courses/{canvas_id}"
        self.canvas_id = canvas_id
        self.data = data
        self.skipped = data.skipped

    def _fail(self, exc: HttpError, what: str | LazyText, key: str = "") -> SyncError:
        if _token_refused(exc):
            return SyncError(
                N_(
                    "the Canvas token was refused: HTTP 401 from %(url)s while reading "
                    "%(what)s; nothing was changed (store a new token with `flask platform "
                    "set-canvas`)"
                ),
                url=where(exc.url),
                what=what,
            )
        throttled = "rate limit exceeded" in exc.body.lower()
        if exc.status in (401, 403) and key in PERMISSIONS and not throttled:
            return SyncError(
                N_(
                    "the Canvas token's user may not read %(what)s (HTTP %(status)s from "
                    '%(url)s): it needs the Canvas permission "%(permission)s"'
                ),
                what=what,
                status=exc.status,
                url=where(exc.url),
                permission=PERMISSIONS[key],
            )
        return SyncError(
            N_("could not read %(what)s from Canvas: %(error)s"), what=what, error=exc.shown()
        )

    def _optional(self, exc: HttpError, key: str, what: str | LazyText) -> bool:
        """Record a part the token may not read (401/403) or analytics that is off (404)."""
        if _token_refused(exc) or "rate limit exceeded" in exc.body.lower():
            return False  # the token is refused, or Canvas kept throttling: the run fails
        if exc.status in (401, 403) and key not in self.skipped:
            self.skipped.add(key)
            with using(english()):  # the run's warnings are kept in English
                warning = (
                    f"{what} skipped: the token's user is not authorized (needs the Canvas "
                    f'permission "{PERMISSIONS[key]}")'
                )
            self.data.warnings.append(warning)
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
        self,
        key: str,
        path: str,
        params: list[tuple[str, Any]],
        what: str | LazyText,
        optional: bool,
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

    def one(self, key: str, path: str, params: list[tuple[str, Any]], what: str | LazyText) -> Any:
        """One JSON document; None when an optional part is not readable."""
        try:
            return self.client.get_json(path, params)
        except HttpError as exc:
            if key != "course" and self._optional(exc, key, what):
                return None
            if exc.status == 404 and key == "course":
                raise SyncError(
                    N_(
                        "Canvas has no course %(canvas_id)s at %(url)s (HTTP 404): is the data "
                        "source's base URL the one the course launches from?"
                    ),
                    canvas_id=self.canvas_id,
                    url=where(exc.url),
                ) from None
            raise self._fail(exc, what, key) from None

    # --- parts -------------------------------------------------------------------------

    def course(self) -> None:
        """The course itself: its name, start and end."""
        body = self.one("course", self.base, [], lazy_gettext("the course"))
        if not isinstance(body, dict):
            raise SyncError(
                N_("Canvas's answer for course %(canvas_id)s is not a course"),
                canvas_id=self.canvas_id,
            )
        self.data.course = {
            "name": _str(body.get("name")),
            "start_at": _dt(body.get("start_at")),
            "end_at": _dt(body.get("end_at")),
        }

    def enrollments(self) -> None:
        """Every enrollment in every state, merged per Canvas user."""
        users = self.data.users
        params = [("state[]", s) for s in ENROLLMENT_STATES]
        for page in self.pages(
            "enrollments",
            self.base + "/enrollments",
            params,
            lazy_gettext("the enrollment list"),
            False,
        ):
            for row in page:
                if not isinstance(row, dict):
                    raise SyncError(
                        N_("Canvas's enrollment list holds something not an enrollment")
                    )
                user_id = _id(row.get("user_id"))
                kind = _str(row.get("type"), 40) or ""
                if user_id is None or kind not in TYPE_ROLES:
                    continue
                user = users.get(user_id) or users.setdefault(user_id, CanvasUser(user_id))
                state = (_str(row.get("enrollment_state"), 30) or "active").lower()
                user.types.append((kind, state))
                created = _dt(row.get("created_at"))
                if created and (user.created_at is None or created < user.created_at):
                    user.created_at = created
                info = row.get("user")
                info = info if isinstance(info, dict) else {}
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
                grades = row.get("grades")
                grades = grades if isinstance(grades, dict) else {}
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
            what = lazy_gettext("the course's users (e-mail)")
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
        what = lazy_gettext("assignments")
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
        path, what = self.base + "/students/submissions", lazy_gettext("submissions")
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
        what = lazy_gettext("course progress (bulk_user_progress)")
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
            raise SyncError(N_("Canvas's course analytics answer is not a list of days"))
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
            what = lazy_gettext("a student's module progress")
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
            raise self._fail(exc, lazy_gettext("a student's activity")) from None
        if not isinstance(body, dict):
            raise SyncError(
                N_("Canvas's activity of student %(user_id)s is not an object"), user_id=user_id
            )
        hours: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
        views = body.get("page_views")
        views = views if isinstance(views, dict) else {}
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
