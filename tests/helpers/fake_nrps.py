"""A fake LMS's OAuth2 token endpoint and NRPS membership service, over HTTP on 127.0.0.1.

The token endpoint checks the client-credentials assertion as a platform must: the grant and
assertion types, the scope, and a JWT signed RS256 by a key of the tool's JWKS (found by `kid`)
with iss = sub = the client id, aud = the token URL, a fresh jti, iat and exp. The membership
service wants that token and the NRPS media type, pages with `Link: <…>; rel="next"` on a
Moodle-style, case-sensitive path and query, and can fail on a page (500, malformed JSON, 401)
or answer slowly.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from tests.helpers.fake_http import ServedFake

SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = [MEMBERSHIP + "Learner"]
INSTRUCTOR = [MEMBERSHIP + "Instructor"]
#: Moodle's shape: mixed case in the path, which a lower-cased next URL would not find.
MEMBERSHIPS_PATH = "/mod/lti/services.php/CourseSection/2/bindings/3/memberships"


def member(
    user_id: str,
    name: str,
    email: str | None = None,
    roles: list[str] | None = None,
    status: str = "Active",
) -> dict[str, Any]:
    """An NRPS member as platforms send it."""
    given, _, family = name.partition(" ")
    data: dict[str, Any] = {
        "status": status,
        "name": name,
        "given_name": given,
        "family_name": family,
        "user_id": user_id,
        "roles": LEARNER if roles is None else roles,
    }
    if email:
        data["email"] = email
    return data


#: A course's roster: 7 members (3 pages of 3), one Inactive, one without an e-mail.
ROSTER = [
    member("user-1", "Sam Example", "sam@example.edu", INSTRUCTOR),
    member("learner-1", "Ada Lovelace", "ada@example.edu"),
    member("learner-2", "Alan Turing", "alan@example.edu"),
    member("learner-3", "Grace Hopper", "grace@example.edu"),
    member("learner-4", "Edsger Dijkstra", "edsger@example.edu", status="Inactive"),
    member("learner-5", "Barbara Liskov", "barbara@example.edu"),
    member("learner-6", "Donald Knuth"),  # no e-mail shared
]


@dataclass
class FakeNrps(ServedFake):
    """One course's roster at one LMS, served on a random free port."""

    client_id: str = "client-1"
    page_size: int = 3
    members: list[dict[str, Any]] = field(default_factory=list)
    tool_jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    #: page number → "500" | "malformed" | "401" | "slow" | "429" (once, with Retry-After)
    fail: dict[int, str] = field(default_factory=dict)
    slow_seconds: float = 30.0
    #: The Retry-After (seconds) a "429" page answers with.
    retry_after: int = 3
    seen: list[str] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    jtis: set[str] = field(default_factory=set)
    #: Another origin (http://host:port) for the next links: a hostile or confused platform.
    next_origin: str | None = None
    _server: BaseWSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return self.origin + "/token"

    @property
    def memberships_url(self) -> str:
        return self.origin + MEMBERSHIPS_PATH

    def page_url(self, page: int) -> str:
        """The next link: case-sensitive path and query (the cursor must come back as sent)."""
        return f"{self.memberships_url}?page={page}&cursor=Pg{page}XyZ"

    def count(self, prefix: str) -> int:
        """Requests seen whose "METHOD path?query" starts with prefix."""
        with self._lock:
            return sum(1 for s in self.seen if s.startswith(prefix))

    def wait_for(self, prefix: str, after: int = 0, timeout: float = 20.0) -> None:
        """Wait until more than `after` requests starting with prefix arrived."""
        deadline = time.monotonic() + timeout
        while self.count(prefix) <= after:
            if time.monotonic() > deadline:
                raise AssertionError(f"no request {prefix!r} within {timeout} s: {self.seen}")
            time.sleep(0.05)

    # --- WSGI -----------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        query = environ.get("QUERY_STRING", "")
        with self._lock:
            self.seen.append(f"{request.method} {request.path}" + (f"?{query}" if query else ""))
        if request.path == "/token" and request.method == "POST":
            response = self.token(request)
        elif request.path == MEMBERSHIPS_PATH and request.method == "GET":
            response = self.memberships(request, parse_qs(query))
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def _oauth_error(self, error: str, description: str, status: int = 400) -> Response:
        body = json.dumps({"error": error, "error_description": description})
        return Response(body, status=status, content_type="application/json")

    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error("unsupported_grant_type", "client_credentials only")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._oauth_error("invalid_request", "client_assertion_type")
        if SCOPE not in (form.get("scope") or "").split():
            return self._oauth_error("invalid_scope", "the NRPS scope is required")
        assertion = form.get("client_assertion") or ""
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
        except jwt.PyJWTError:
            return self._oauth_error("invalid_client", "the assertion is not a JWT")
        keys = [k for k in self.tool_jwks.get("keys", []) if k.get("kid") == kid]
        if not kid or not keys:
            return self._oauth_error("invalid_client", f"no tool key with kid {kid!r}")
        try:
            claims = jwt.decode(
                assertion,
                key=RSAAlgorithm.from_jwk(json.dumps(keys[0])),
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return self._oauth_error("invalid_client", f"assertion refused: {exc}")
        if claims["sub"] != self.client_id:
            return self._oauth_error("invalid_client", "sub is not the client id")
        with self._lock:
            if claims["jti"] in self.jtis:
                return self._oauth_error("invalid_grant", "jti replayed")
            self.jtis.add(claims["jti"])
            self.assertions.append(claims)
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": SCOPE}
        return Response(json.dumps(body), content_type="application/json")

    def memberships(self, request: Request, query: dict[str, list[str]]) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return Response("invalid token", status=401)
        if request.headers.get("Accept") != MEDIA_TYPE:
            return Response("not acceptable", status=406)
        page = int(query.get("page", ["1"])[0])
        if page > 1 and query.get("cursor") != [f"Pg{page}XyZ"]:
            return Response("unknown cursor", status=400)
        failure = self.fail.get(page)
        if failure == "429":
            del self.fail[page]  # throttled once: the retry gets the page
            return Response(
                '{"error": "rate limited"}',
                status=429,
                headers={"Retry-After": str(self.retry_after)},
                content_type="application/json",
            )
        if failure == "slow":
            time.sleep(self.slow_seconds)
        elif failure == "500":
            return Response("<h1>Internal Server Error</h1>", status=500, content_type="text/html")
        elif failure == "401":
            return Response('{"error": "invalid_token"}', status=401)
        start = (page - 1) * self.page_size
        members = self.members[start : start + self.page_size]
        body = {
            "id": self.page_url(page) if page > 1 else self.memberships_url,
            "context": {"id": "course-ctx-1", "label": "BIO101", "title": "Biology 101"},
            "members": members,
        }
        text = json.dumps(body)
        if failure == "malformed":
            text = text[: len(text) // 2]  # cut off mid-document
        links = []
        if page > 1:
            links.append(f'<{self.memberships_url}>; rel="first"')
        if start + self.page_size < len(self.members):
            nxt = self.page_url(page + 1)
            if self.next_origin:
                nxt = nxt.replace(self.origin, self.next_origin, 1)
            links.append(f'<{nxt}>; rel="next"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(text, content_type=MEDIA_TYPE, headers=headers)
