"""A fake Canvas REST API for one course, over HTTP on 127.0.0.1 (tests and bench/sync.py).

Payload shapes follow the Canvas API documentation and source: Enrollment, User, Section,
Assignment (with `include[]=all_dates`: the AssignmentDate list, or only `all_dates_count` from
25 overrides on), Submission (flat, and `grouped=true` per student; every one carries the
learner's `cached_due_date`), Module with ModuleItems and per-student `state`,
`bulk_user_progress`, and the Analytics plugin's course activity, student summaries and
per-student activity (page views bucketed per hour). As in Canvas's `user_json`, a user's
`email` (and `login_id`) key is left out altogether when the token's user may not read it, and
an enrollment's `grades` carry the `unposted_*` scores only for a token whose user may manage
or view all grades. Lists paginate as Canvas does: `per_page`
(at most 100), `Link` with current/next/first and, except on the users list (bookmark pages, as
`courses#users` has no total), a `last` link. A bearer token is required; a revoked token gets
Canvas's 401 with `WWW-Authenticate`, an endpoint the token may not use gets 401 "user not
authorized to perform that action", throttling is 429 or 403 "Rate Limit Exceeded". Requests
are counted per endpoint.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from tests.helpers.fake_http import ServedFake

TOKEN = "7~FakeCanvasTokenNotASecret0123456789"
TYPES_ROLE = {
    "StudentEnrollment": "StudentEnrollment",
    "TeacherEnrollment": "TeacherEnrollment",
    "TaEnrollment": "TaEnrollment",
    "DesignerEnrollment": "DesignerEnrollment",
    "ObserverEnrollment": "ObserverEnrollment",
    "StudentViewEnrollment": "StudentViewEnrollment",
}


def iso(moment: datetime | None) -> str | None:
    """Canvas's timestamp form: UTC with a Z."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )


@dataclass
class FakeCanvas(ServedFake):
    """One Canvas course's data and the API that serves it."""

    course_id: int = 101
    token: str = TOKEN
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    course: dict[str, Any] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    #: assignment id → its overrides: {id, title, due_at, set_type, set_id, student_ids}
    overrides: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: (assignment id, user id) → submission fields
    submissions: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    modules: list[dict[str, Any]] = field(default_factory=list)
    #: (user id, item id) → completed at
    done: dict[tuple[int, int], datetime] = field(default_factory=dict)
    activity: list[dict[str, Any]] = field(default_factory=list)
    #: user id → {"page_views": {hour: n}, "participations": [{created_at, url}]}
    user_activity: dict[int, dict[str, Any]] = field(default_factory=dict)
    analytics: bool = True
    #: User keys the token's user may not read ("email", "login_id"): left out of the JSON.
    hidden_user_keys: set[str] = field(default_factory=set)
    #: The token's user may manage (or view all) grades: enrollments carry unposted scores.
    manages_grades: bool = True
    #: endpoint keys answering 401 "user not authorized to perform that action"
    unauthorized: set[str] = field(default_factory=set)
    revoked: bool = False
    #: (endpoint key, page) → failures to answer, in order, before normal answers:
    #: "500" | "malformed" | "429" | "403rate" | "slow" | "stall"
    fail: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    slow_seconds: float = 2.0
    #: Canvas clamps per_page at 100; tests clamp lower to get several pages.
    max_per_page: int = 100
    retry_after: str = "1"
    rate_remaining: float | None = None
    #: Another origin (http://host:port) for the next links: a hostile or confused Canvas.
    next_origin: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    seen: list[str] = field(default_factory=list)
    _server: BaseWSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        """Every request so far."""
        with self._lock:
            return sum(self.counts.values())

    def reset_counts(self) -> None:
        """Forget the requests counted so far."""
        with self._lock:
            self.counts.clear()
            self.seen.clear()

    def wait_for(self, key: str, after: int = 0, timeout: float = 30.0) -> None:
        """Wait until more than `after` requests to an endpoint arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self.counts[key] > after:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"no {key} request within {timeout} s: {self.seen[-20:]}")
            time.sleep(0.05)

    # --- data ---------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        name: str,
        email: str | None = None,
        *,
        kind: str = "StudentEnrollment",
        state: str = "active",
        section: int | None = None,
        last_activity: datetime | None = None,
        activity_seconds: int = 0,
        score: float | None = None,
        sis_user_id: str | None = None,
        login_id: str | None = None,
        unposted_score: float | None = None,
    ) -> dict[str, Any]:
        """A user and their enrollment in the course.

        `score` is the posted current score; `unposted_score` what the gradebook shows staff
        with unposted grades counted (the posted score when not given).
        """
        unposted = score if unposted_score is None else unposted_score
        first, _, last = name.partition(" ")
        self.users[user_id] = {
            "id": user_id,
            "name": name,
            "sortable_name": f"{last}, {first}" if last else name,
            "short_name": name,
            "email": email,
            "sis_user_id": sis_user_id,
            "login_id": login_id or email,
        }
        enrollment = {
            "id": 5000 + len(self.enrollments) + 1,
            "course_id": self.course_id,
            "course_section_id": section or (self.sections[0]["id"] if self.sections else None),
            "user_id": user_id,
            "type": kind,
            "role": TYPES_ROLE[kind],
            "enrollment_state": state,
            "created_at": iso(self.now - timedelta(days=60)),
            "updated_at": iso(self.now - timedelta(days=60)),
            "last_activity_at": iso(last_activity),
            "last_attended_at": None,
            "total_activity_time": activity_seconds,
            "grades": {
                "html_url": f"{self.course_id}/grades/{user_id}",
                "current_score": score,
                "final_score": None if score is None else round(score * 0.9, 2),
                "current_grade": None if score is None else ("A" if score >= 90 else "B"),
                "final_grade": None if score is None else ("B" if score >= 90 else "C"),
                "unposted_current_score": unposted,
                "unposted_final_score": None if unposted is None else round(unposted * 0.9, 2),
                "unposted_current_grade": None
                if unposted is None
                else ("A" if unposted >= 90 else "B"),
                "unposted_final_grade": None
                if unposted is None
                else ("B" if unposted >= 90 else "C"),
            },
        }
        self.enrollments.append(enrollment)
        return enrollment

    def add_override(
        self,
        assignment_id: int,
        due_at: datetime | None,
        *,
        section: int | None = None,
        students: list[int] | None = None,
        group: int | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """An assignment override for a section, some students (ADHOC) or a group."""
        found = self.overrides.setdefault(assignment_id, [])
        if section is not None:
            set_type, set_id = "CourseSection", section
            name = next((s["name"] for s in self.sections if s["id"] == section), "")
        elif students is not None:
            set_type, set_id, name = "ADHOC", None, f"{len(students)} students"
        else:
            set_type, set_id, name = "Group", group, f"Group {group}"
        override = {
            "id": 3000 + sum(len(v) for v in self.overrides.values()) + 1,
            "title": title or name,
            "due_at": iso(due_at),
            "unlock_at": None,
            "lock_at": None,
            "all_day": False,
            "set_type": set_type,
            "set_id": set_id,
            "student_ids": list(students or []),
        }
        found.append(override)
        return override

    def sections_of(self, user_id: int) -> set[int]:
        """The sections of a user's enrollments that are not deleted."""
        return {
            e["course_section_id"]
            for e in self.enrollments
            if e["user_id"] == user_id
            and e["enrollment_state"] != "deleted"
            and e["course_section_id"] is not None
        }

    def due_for(self, assignment: dict[str, Any], user_id: int) -> str | None:
        """A learner's `cached_due_date`: an individual override first, else the latest of
        their sections' overrides, else the assignment's own date (Canvas's precedence)."""
        overrides = self.overrides.get(assignment["id"], [])
        if not overrides:
            return assignment.get("due_at")
        mine = [o for o in overrides if o["set_type"] == "ADHOC" and user_id in o["student_ids"]]
        if not mine:
            sections = self.sections_of(user_id)
            mine = [
                o for o in overrides if o["set_type"] == "CourseSection" and o["set_id"] in sections
            ]
        if not mine:
            return assignment.get("due_at")
        dates = [o["due_at"] for o in mine]
        # No date in one of them: the learner has no due date (Canvas treats it as latest).
        return None if None in dates else max(dates)

    def all_dates(self, assignment: dict[str, Any]) -> list[dict[str, Any]]:
        """The assignment's AssignmentDate list, sorted by due date with nulls last."""
        overrides = self.overrides.get(assignment["id"], [])
        keys = ("id", "due_at", "unlock_at", "lock_at", "title", "set_type", "set_id")
        dates = [{k: o[k] for k in keys} for o in overrides]
        covered = {o["set_id"] for o in overrides if o["set_type"] == "CourseSection"}
        # Canvas drops the base date when every section has an override: nobody is left.
        if not self.sections or not {s["id"] for s in self.sections} <= covered:
            dates.append(
                {
                    "base": True,
                    "title": "Everyone else" if overrides else "Everyone",
                    "due_at": assignment.get("due_at"),
                    "unlock_at": assignment.get("unlock_at"),
                    "lock_at": assignment.get("lock_at"),
                }
            )
        return sorted(dates, key=lambda d: (d["due_at"] is None, d["due_at"] or ""))

    def enrollment(self, user_id: int, kind: str | None = None) -> dict[str, Any]:
        """The (first) enrollment of a user."""
        return next(
            e
            for e in self.enrollments
            if e["user_id"] == user_id and (kind is None or e["type"] == kind)
        )

    def touch(self, user_id: int, at: datetime | None = None, views: int = 3) -> None:
        """The learner did something: activity time, last activity, page views this hour."""
        at = at or datetime.now(UTC).replace(microsecond=0)
        for enrollment in self.enrollments:
            if enrollment["user_id"] == user_id:
                enrollment["last_activity_at"] = iso(at)
                enrollment["total_activity_time"] += 300
        hour = at.replace(minute=0, second=0, microsecond=0)
        data = self.user_activity.setdefault(user_id, {"page_views": {}, "participations": []})
        key = hour.strftime("%Y-%m-%dT%H:00:00-00:00")
        data["page_views"][key] = data["page_views"].get(key, 0) + views

    def students(self) -> list[int]:
        """User ids with a student enrollment that is not deleted."""
        seen: dict[int, None] = {}
        for e in self.enrollments:
            if e["type"] == "StudentEnrollment" and e["enrollment_state"] != "deleted":
                seen[e["user_id"]] = None
        return list(seen)

    def required_items(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(module, item) of every item with a completion requirement."""
        return [
            (m, i)
            for m in self.modules
            if m.get("published", True)
            for i in m["items"]
            if i.get("completion_requirement")
        ]

    # --- WSGI -----------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/_fake/counts":  # for a benchmark running the fake elsewhere
            if request.method == "POST":
                self.reset_counts()
            with self._lock:
                body = {"counts": dict(self.counts), "seen": list(self.seen)}
            return _json(body)(environ, start_response)
        key, args = self.route(request.path)
        with self._lock:
            self.counts[key] += 1
            query = environ.get("QUERY_STRING", "")
            self.seen.append(f"{request.method} {request.path}" + (f"?{query}" if query else ""))
        response = self.answer(request, key, args)
        if self.rate_remaining is not None:
            response.headers["X-Rate-Limit-Remaining"] = str(self.rate_remaining)
        response.headers["X-Request-Cost"] = "0.5"
        return response(environ, start_response)

    def route(self, path: str) -> tuple[str, list[str]]:
        """The endpoint key of a path and its arguments."""
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return "other", []
        rest = parts[2:]
        if rest == ["users", "self"]:
            return "self", []
        if len(rest) < 2 or rest[0] != "courses" or rest[1] != str(self.course_id):
            return "other", rest
        tail = rest[2:]
        simple = {
            (): "course",
            ("users",): "users",
            ("enrollments",): "enrollments",
            ("sections",): "sections",
            ("assignments",): "assignments",
            ("students", "submissions"): "submissions",
            ("modules",): "modules",
            ("bulk_user_progress",): "bulk_progress",
            ("analytics", "activity"): "activity",
            ("analytics", "student_summaries"): "summaries",
        }
        if tuple(tail) in simple:
            return simple[tuple(tail)], []
        if len(tail) == 4 and tail[:2] == ["analytics", "users"] and tail[3] == "activity":
            return "user_activity", [tail[2]]
        return "other", tail

    def _failure(self, key: str, page: int) -> str | None:
        with self._lock:
            queue = self.fail.get((key, page))
            return queue.pop(0) if queue else None

    def answer(self, request: Request, key: str, args: list[str]) -> Response:
        """The response to one request."""
        auth = request.headers.get("Authorization", "")
        if self.revoked or auth != "Bearer " + self.token:
            return _json(
                {"errors": [{"message": "Invalid access token."}]},
                401,
                {"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
            )
        page = _page_number(request.args.get("page", "1"))
        failure = self._failure(key, page)
        if failure == "429":
            return Response(
                "429 Too Many Requests", status=429, headers={"Retry-After": self.retry_after}
            )
        if failure == "403rate":
            return Response("403 Forbidden (Rate Limit Exceeded)", status=403)
        if failure == "500":
            return Response("<h1>Internal Server Error</h1>", status=500, content_type="text/html")
        if failure in ("slow", "stall"):
            time.sleep(self.slow_seconds)
        if key in self.unauthorized:
            return _json(
                {
                    "status": "unauthorized",
                    "errors": [{"message": "user not authorized to perform that action"}],
                },
                401,
            )
        if key in ("activity", "summaries", "user_activity") and not self.analytics:
            return _json({"errors": [{"message": "The specified resource does not exist."}]}, 404)
        handler = getattr(self, "get_" + key, None)
        if handler is None or request.method != "GET":
            return _json({"errors": [{"message": "The specified resource does not exist."}]}, 404)
        response: Response = handler(request, *args)
        if failure == "malformed":
            text = response.get_data(as_text=True)
            response.set_data(text[: max(1, len(text) // 2)])
        return response

    # --- pagination ---------------------------------------------------------------------

    def paged(
        self,
        request: Request,
        items: list[Any],
        last: bool = True,
        bookmark: bool = False,
        render: Callable[[Any], Any] | None = None,
    ) -> Response:
        """One page of a list with Canvas's Link header (items rendered by `render`)."""
        per_page = min(max(int(request.args.get("per_page", "10") or 10), 1), self.max_per_page)
        page = _page_number(request.args.get("page", "1"))
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]

        def link(number: int, rel: str) -> str:
            label = _bookmark(number) if bookmark else str(number)
            return f'<{request.base_url}?{urlencode([*pairs, ("page", label)])}>; rel="{rel}"'

        links = [link(page, "current")]
        if start + per_page < len(items):
            nxt = link(page + 1, "next")
            if self.next_origin:
                nxt = nxt.replace(request.host_url.rstrip("/"), self.next_origin, 1)
            links.append(nxt)
        if page > 1:
            links.append(link(page - 1, "prev"))
        links.append(link(1, "first"))
        if last:
            links.append(link(max(1, -(-len(items) // per_page)), "last"))
        if render is not None:
            chunk = [render(item) for item in chunk]
        return _json(chunk, headers={"Link": ",".join(links)})

    # --- endpoints ----------------------------------------------------------------------

    def get_self(self, request: Request) -> Response:
        return _json({"id": 1, "name": "Integration Admin", "sortable_name": "Admin, Integration"})

    def get_course(self, request: Request) -> Response:
        return _json({"id": self.course_id, "workflow_state": "available", **self.course})

    def get_users(self, request: Request) -> Response:
        wanted = set(request.args.getlist("user_ids[]"))
        states = set(request.args.getlist("enrollment_state[]")) or {"active", "invited"}
        listed = {
            e["user_id"]
            for e in self.enrollments
            if e["enrollment_state"] in states and e["type"] != "StudentViewEnrollment"
        }
        rows = []
        for user_id in sorted(listed):
            if wanted and str(user_id) not in wanted:
                continue
            # A user without an address has "email": null; a token that may not read addresses
            # gets no key at all (Canvas's user_json).
            user = {k: v for k, v in self.users[user_id].items() if k not in self.hidden_user_keys}
            rows.append(user)
        return self.paged(request, rows, last=False, bookmark=True)

    def get_enrollments(self, request: Request) -> Response:
        states = set(request.args.getlist("state[]")) or {"active", "invited"}
        rows = []
        for e in self.enrollments:
            if e["enrollment_state"] not in states:
                continue
            user = self.users[e["user_id"]]
            grades = e["grades"]
            if not self.manages_grades:
                grades = {k: v for k, v in grades.items() if not k.startswith("unposted_")}
            rows.append(
                {
                    **e,
                    "grades": grades,
                    "user": {
                        "id": user["id"],
                        "name": user["name"],
                        "sortable_name": user["sortable_name"],
                        "short_name": user["short_name"],
                    },
                }
            )
        return self.paged(request, rows)

    def get_sections(self, request: Request) -> Response:
        return self.paged(request, [{"course_id": self.course_id, **s} for s in self.sections])

    def get_assignments(self, request: Request) -> Response:
        with_dates = "all_dates" in request.args.getlist("include[]")
        rows = []
        for a in self.assignments:
            row = {
                "course_id": self.course_id,
                "description": "",
                "html_url": f"{self.origin}/courses/{self.course_id}/assignments/{a['id']}",
                "has_overrides": bool(self.overrides.get(a["id"])),
                **a,
            }
            if with_dates:
                count = len(self.overrides.get(a["id"], []))
                # Canvas's ALL_DATES_LIMIT: from 25 overrides on only their count is sent.
                if count < 25:
                    row["all_dates"] = self.all_dates(a)
                else:
                    row["all_dates_count"] = count
            rows.append(row)
        return self.paged(request, rows)

    def _submission(
        self, key: tuple[int, int], data: dict[str, Any], assignments: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        assignment_id, user_id = key
        return {
            "id": assignment_id * 100000 + user_id,
            "assignment_id": assignment_id,
            "user_id": user_id,
            "cached_due_date": self.due_for(assignments[assignment_id], user_id),
            "grade": None if data.get("score") is None else str(data["score"]),
            "seconds_late": 3600 if data.get("late") else 0,
            "attempt": 1 if data.get("submitted_at") else None,
            **{k: (iso(v) if isinstance(v, datetime) else v) for k, v in data.items()},
        }

    def get_submissions(self, request: Request) -> Response:
        if request.args.getlist("student_ids[]") != ["all"]:
            return _json({"errors": [{"message": "student_ids[] must be given"}]}, 400)
        assignment_ids = {int(a) for a in request.args.getlist("assignment_ids[]")}
        submitted = _since(request.args.get("submitted_since"))
        graded = _since(request.args.get("graded_since"))
        students = set(self.students())
        by_id = {a["id"]: a for a in self.assignments}

        def keep(key: tuple[int, int], data: dict[str, Any]) -> bool:
            if key[0] not in by_id:  # a deleted assignment's submissions are not listed
                return False
            if key[1] not in students or (assignment_ids and key[0] not in assignment_ids):
                return False
            if submitted and not (data.get("submitted_at") and data["submitted_at"] > submitted):
                return False
            return not (graded and not (data.get("graded_at") and data["graded_at"] > graded))

        if request.args.get("grouped") in ("true", "1"):
            # Pages of students; each student's submissions rendered only for its page.
            assignments = [a["id"] for a in self.assignments]

            def group(user_id: int) -> dict[str, Any]:
                subs = []
                for aid in assignments:
                    data = self.submissions.get((aid, user_id))
                    if data is not None and keep((aid, user_id), data):
                        subs.append(self._submission((aid, user_id), data, by_id))
                return {"user_id": user_id, "section_id": None, "submissions": subs}

            return self.paged(request, sorted(students), render=group)
        chosen = sorted(k for k, v in self.submissions.items() if keep(k, v))
        return self.paged(
            request, chosen, render=lambda k: self._submission(k, self.submissions[k], by_id)
        )

    def get_modules(self, request: Request) -> Response:
        student = request.args.get("student_id")
        with_items = "items" in request.args.getlist("include[]")
        rows = []
        for module in self.modules:
            row = {k: v for k, v in module.items() if k != "items"}
            row["items_count"] = len(module["items"])
            items = []
            done_all = True
            last_done: datetime | None = None
            for item in module["items"]:
                data = {k: v for k, v in item.items() if k != "completion_requirement"}
                requirement = item.get("completion_requirement")
                if requirement:
                    data["completion_requirement"] = dict(requirement)
                    if student:
                        at = self.done.get((int(student), item["id"]))
                        data["completion_requirement"]["completed"] = at is not None
                        done_all = done_all and at is not None
                        if at and (last_done is None or at > last_done):
                            last_done = at
                items.append(data)
            if with_items:
                row["items"] = items
            if student:
                started = last_done is not None
                row["state"] = "completed" if done_all else ("started" if started else "unlocked")
                row["completed_at"] = iso(last_done) if done_all else None
            rows.append(row)
        return self.paged(request, rows)

    def progress(self, user_id: int) -> dict[str, Any]:
        """bulk_user_progress's `progress` of one user."""
        items = self.required_items()
        done = [self.done[(user_id, i["id"])] for _, i in items if (user_id, i["id"]) in self.done]
        complete = len(done) == len(items) and items
        return {
            "requirement_count": len(items),
            "requirement_completed_count": len(done),
            "next_requirement_url": None,
            "completed_at": iso(max(done)) if complete else None,
        }

    def get_bulk_progress(self, request: Request) -> Response:
        rows = [
            {
                "id": user_id,
                "display_name": self.users[user_id]["name"],
                "avatar_image_url": None,
                "html_url": f"{self.origin}/courses/{self.course_id}/users/{user_id}",
                "pronouns": None,
                "progress": self.progress(user_id),
            }
            for user_id in self.students()
        ]
        return self.paged(request, rows)

    def get_activity(self, request: Request) -> Response:
        return _json(self.activity)

    def tardiness(self, user_id: int) -> dict[str, int]:
        """A student's on_time / late / missing counts over published assignments."""
        counts = {"on_time": 0, "late": 0, "missing": 0, "floating": 0}
        for a in self.assignments:
            sub = self.submissions.get((a["id"], user_id), {})
            if sub.get("missing"):
                counts["missing"] += 1
            elif sub.get("late"):
                counts["late"] += 1
            elif sub.get("submitted_at"):
                counts["on_time"] += 1
            else:
                counts["floating"] += 1
        return {"total": sum(counts.values()), **counts}

    def get_summaries(self, request: Request) -> Response:
        only = request.args.get("student_id")
        rows = []
        for user_id in self.students():
            if only and str(user_id) != only:
                continue
            data = self.user_activity.get(user_id, {"page_views": {}, "participations": []})
            views = sum(data["page_views"].values())
            rows.append(
                {
                    "id": user_id,
                    "page_views": views,
                    "max_page_views": 100,
                    "page_views_level": 2,
                    "participations": len(data["participations"]),
                    "max_participations": 10,
                    "participations_level": 1,
                    "tardiness_breakdown": self.tardiness(user_id),
                }
            )
        return self.paged(request, rows)

    def get_user_activity(self, request: Request, student: str) -> Response:
        user_id = int(student)
        if user_id not in self.users:
            return _json({"errors": [{"message": "The specified resource does not exist."}]}, 404)
        data = self.user_activity.get(user_id, {"page_views": {}, "participations": []})
        return _json(data)

    # --- a generated course -------------------------------------------------------------

    def generate(
        self,
        students: int,
        assignments: int = 6,
        modules: int = 3,
        items_per_module: int = 4,
        seed: int = 1,
        hours_per_student: int = 12,
    ) -> FakeCanvas:
        """A seeded course: a teacher, N students in two sections, graded work, modules."""
        rng = random.Random(seed)
        now = self.now
        start = (now - timedelta(days=50)).replace(hour=0, minute=0, second=0)
        self.course = {
            "name": "Synthetic Course",
            "course_code": "SYN101",
            "start_at": iso(start),
            "end_at": None,
        }
        self.sections = [
            {"id": 901, "name": "Section A", "sis_section_id": None},
            {"id": 902, "name": "Section B", "sis_section_id": None},
        ]
        self.add_user(1, "Terry Teacher", "terry@example.edu", kind="TeacherEnrollment")
        for n in range(students):
            user_id = 1000 + n
            last = now - timedelta(days=2 + rng.random() * 40)
            self.add_user(
                user_id,
                f"Student {n:05d}",
                f"student{n:05d}@example.edu",
                section=901 + n % 2,
                last_activity=last,
                activity_seconds=rng.randrange(600, 90000),
                score=round(rng.uniform(40, 100), 2),
                sis_user_id=f"SIS{n:06d}",
                login_id=f"s{n:05d}",
            )
            hours = {}
            for _ in range(hours_per_student):
                hour = start + timedelta(hours=rng.randrange(0, 48 * 24))
                if hour > last:
                    hour = last.replace(minute=0, second=0)
                hours[hour.strftime("%Y-%m-%dT%H:00:00-00:00")] = rng.randrange(1, 30)
            self.user_activity[user_id] = {
                "page_views": hours,
                "participations": [
                    {"created_at": iso(last - timedelta(hours=1)), "url": "/discussion"}
                ],
            }
        for a in range(assignments):
            # Every due date in the past, spread over the course's first 45 days.
            due = start + timedelta(hours=1 + a * 45 * 24 // max(assignments, 1))
            self.assignments.append(
                {
                    "id": 300 + a,
                    "name": f"Assignment {a + 1}",
                    "due_at": iso(due),
                    "points_possible": 10.0,
                    "position": a + 1,
                    "published": True,
                }
            )
            for user_id in self.students():
                roll = rng.random()
                if roll < 0.1:
                    self.submissions[(300 + a, user_id)] = {
                        "score": None,
                        "submitted_at": None,
                        "graded_at": None,
                        "late": False,
                        "missing": due < now,
                        "excused": False,
                        "workflow_state": "unsubmitted",
                    }
                    continue
                submitted = min(
                    due - timedelta(hours=rng.randrange(-20, 48)), now - timedelta(days=1)
                )
                self.submissions[(300 + a, user_id)] = {
                    "score": float(rng.randrange(0, 11)),
                    "submitted_at": submitted,
                    "graded_at": min(submitted + timedelta(days=1), now - timedelta(hours=2)),
                    "late": submitted > due,
                    "missing": False,
                    "excused": False,
                    "workflow_state": "graded",
                }
        item_id = 7000
        for m in range(modules):
            items = []
            for i in range(items_per_module):
                item_id += 1
                items.append(
                    {
                        "id": item_id,
                        "module_id": 600 + m,
                        "position": i + 1,
                        "title": f"Item {m + 1}.{i + 1}",
                        "type": "Assignment" if i % 2 else "Page",
                        "indent": 0,
                        "completion_requirement": {"type": "must_view"} if i < 3 else None,
                    }
                )
            self.modules.append(
                {
                    "id": 600 + m,
                    "name": f"Week {m + 1}",
                    "position": m + 1,
                    "workflow_state": "active",
                    "published": True,
                    "require_sequential_progress": False,
                    "requirement_type": "all",
                    "unlock_at": None,
                    "items": items,
                }
            )
        required = [i["id"] for _, i in self.required_items()]
        for user_id in self.students():
            for item in required[: rng.randrange(0, len(required) + 1)]:
                self.done[(user_id, item)] = now - timedelta(days=3)
        day = start.date()
        while day <= now.date():
            self.activity.append(
                {
                    "date": day.isoformat(),
                    "views": rng.randrange(0, 500),
                    "participations": rng.randrange(0, 50),
                }
            )
            day += timedelta(days=1)
        return self


def _page_number(value: str) -> int:
    if value.startswith("bookmark:"):
        try:
            return int(json.loads(base64.urlsafe_b64decode(value[9:] + "==")))
        except ValueError:
            return 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def _bookmark(number: int) -> str:
    return "bookmark:" + base64.urlsafe_b64encode(json.dumps(number).encode()).decode().rstrip("=")


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
