"""A fake Open edX LMS over HTTP on 127.0.0.1: OAuth2 client credentials and the REST APIs.

Shapes follow edx-platform's docstrings: `/oauth2/access_token` (client credentials, a JWT
asked for with `token_type=jwt`, sent back as `Authorization: JWT …`), the enrollment list and
the course grades as DRF cursor pages (`{"next", "previous", "results"}`), the blocks API as
`{"root", "blocks": {usage key: block}}` and `/api/user/v1/me`. Requests are counted; a path
can be made to fail (500 once, always 500, 403, 401, malformed JSON).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from tests.helpers.fake_http import ServedFake

COURSE_KEY = "course-v1:edX+DemoX+2026"
CLIENT_ID = "analytics-client"
CLIENT_SECRET = "s3cret-client-value"


def block_key(kind: str, name: str) -> str:
    """An Open edX usage key."""
    return f"block-v1:edX+DemoX+2026+type@{kind}+block@{name}"


VIDEO = block_key("video", "0b9e39477cdb4b3a8e5b9e5f2c2e0c3f")
HOMEWORK = block_key("sequential", "homework1")


def default_blocks() -> dict[str, Any]:
    """One chapter: a graded subsection due 2026-03-09, a unit with a video and a problem."""
    course = block_key("course", "course")
    chapter = block_key("chapter", "week1")
    lesson = block_key("sequential", "lesson1")
    unit = block_key("vertical", "unit1")
    problem = block_key("problem", "p1")
    return {
        course: {"id": course, "type": "course", "display_name": "Demo", "children": [chapter]},
        chapter: {
            "id": chapter,
            "type": "chapter",
            "display_name": "Week 1",
            "children": [lesson, HOMEWORK],
        },
        lesson: {"id": lesson, "type": "sequential", "display_name": "Lesson", "children": [unit]},
        HOMEWORK: {
            "id": HOMEWORK,
            "type": "sequential",
            "display_name": "Homework 1",
            "graded": True,
            "format": "Homework",
            "due": "2026-03-09T23:59:00Z",
            "children": [],
        },
        unit: {
            "id": unit,
            "type": "vertical",
            "display_name": "Unit",
            "children": [VIDEO, problem],
        },
        VIDEO: {
            "id": VIDEO,
            "type": "video",
            "display_name": "Welcome <b>video</b>",
            "student_view_data": {"duration": 125.0, "only_on_web": False},
        },
        problem: {"id": problem, "type": "problem", "display_name": "Check", "graded": True},
    }


def enrollment(user: str, active: bool = True) -> dict[str, Any]:
    """One row of the enrollment list."""
    return {
        "created": "2026-02-01T10:00:00Z",
        "mode": "audit",
        "is_active": active,
        "user": user,
        "course_id": COURSE_KEY,
    }


def grade(user: str, percent: float, letter: str | None = None) -> dict[str, Any]:
    """One row of the course grades."""
    return {
        "username": user,
        "email": "",
        "course_id": COURSE_KEY,
        "passed": letter is not None,
        "percent": percent,
        "letter_grade": letter,
    }


@dataclass
class FakeOpenEdx(ServedFake):
    """One Open edX course served on a random free port."""

    page_size: int = 100
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    blocks: dict[str, Any] = field(default_factory=default_blocks)
    staff: bool = True
    #: path prefix → "500once" | "500" | "403" | "401" | "malformed"
    fail: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    #: Another origin (http://host:port) for the DRF `next` links: a hostile or confused LMS.
    next_origin: str | None = None
    _server: BaseWSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, prefix: str = "") -> int:
        """Requests seen whose "METHOD path" starts with prefix."""
        with self._lock:
            return sum(1 for s in self.seen if s.startswith(prefix))

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.seen.append(f"{request.method} {request.path}")
        return self._route(request)(environ, start_response)

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _route(self, request: Request) -> Response:
        if request.path == "/oauth2/access_token" and request.method == "POST":
            return self._token(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("JWT ") or auth[4:] not in self.tokens:
            return self._json({"detail": "Authentication credentials were not provided."}, 401)
        for prefix, how in list(self.fail.items()):
            if request.path.startswith(prefix):
                if how == "500once":
                    del self.fail[prefix]
                    return Response("server error", status=500)
                if how in ("500", "401", "403"):
                    return self._json({"detail": f"failing with {how}"}, int(how))
                if how == "malformed":
                    return Response('{"results": [', content_type="application/json")
        if not self.staff and request.path != "/api/user/v1/me":
            return self._json({"detail": "You do not have permission to perform this action."}, 403)
        query = {k: v[-1] for k, v in parse_qs(request.query_string.decode()).items()}
        if request.path == "/api/user/v1/me":
            return self._json({"username": "analytics_service"})
        if request.path in ("/api/enrollment/v1/enrollments", "/api/enrollment/v1/enrollments/"):
            if query.get("course_id") != COURSE_KEY:
                return self._json({"next": None, "previous": None, "results": []})
            return self._page(request.path, query, self.enrollments)
        if request.path == f"/api/grades/v1/courses/{COURSE_KEY}/":
            return self._page(request.path, query, self.grades)
        if request.path == "/api/courses/v1/blocks/":
            if query.get("course_id") != COURSE_KEY:
                return self._json({"detail": "course not found"}, 404)
            root = next(k for k, b in self.blocks.items() if b["type"] == "course")
            return self._json({"root": root, "blocks": self.blocks})
        return self._json({"detail": "Not found."}, 404)

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self._json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._json({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.tokens.add(token)
        kind = "JWT" if form.get("token_type") == "jwt" else "Bearer"
        return self._json(
            {"access_token": token, "token_type": kind, "expires_in": 3600, "scope": "read"}
        )

    def _page(self, path: str, query: dict[str, str], rows: list[dict[str, Any]]) -> Response:
        """A cursor page; the cursor is opaque to clients (here an offset, base64-free)."""
        size = min(int(query.get("page_size", self.page_size)), self.page_size)
        start = int(query.get("cursor", "0") or 0)
        chunk = rows[start : start + size]
        next_url = None
        if start + size < len(rows):
            params = {k: v for k, v in query.items() if k != "cursor"}
            params["cursor"] = str(start + size)
            next_url = f"{self.next_origin or self.origin}{quote(path)}?{urlencode(params)}"
        return self._json({"next": next_url, "previous": None, "results": chunk})
