"""LTI Platform Storage: OIDC state kept by the LMS through postMessage, not in cookies.

When the login carries `lti_storage_target` (Canvas sends it), the login page asks the LMS
frame for `lti.capabilities`; if it offers `lti.put_data`, the state is stored there under
`lti1p3_<state>` before the browser goes on to the LMS's authorization endpoint. The launch page
reads it back with `lti.get_data` and posts the id_token again with the state it found; only then
does the server accept a launch whose state cookie never arrived. Without an answer from the LMS
the login page falls back to cookies, then to "open in a new window".

Server side, the login records (global, not cookie-bound) what the cookies would have carried:
the session id that keys the nonce, and the state. A launch that proves the state through
platform storage gets those values in place of the missing cookies, and pylti1p3 validates it
exactly as any other launch (signature, nonce once, deployment, claims).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Request as FlaskHttpRequest

from lti_tool.launch.tool_conf import DbLaunchDataStorage, PartitionedCookieService

SESSION_COOKIE = "session-id"
KEY_PREFIX = "platform-storage-"
#: The key prefix the tool uses in the LMS's storage.
STORAGE_PREFIX = "lti1p3_"


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def remember_login(storage: DbLaunchDataStorage, auth_url: str, target: str) -> dict[str, str]:
    """Record a platform-storage login; returns what its page needs (state, origin, target)."""
    query = parse_qs(urlsplit(auth_url).query)
    state = query["state"][0]
    record = {
        "state": state,
        "key": STORAGE_PREFIX + state,
        "session_id": storage.get_session_id() or "",
        "target": target,
        "origin": origin_of(auth_url),
    }
    storage.set_global_value(KEY_PREFIX + state, record)
    return record


def login_record(storage: DbLaunchDataStorage, state: str | None) -> dict[str, Any] | None:
    """The platform-storage record of a login, if the login was one."""
    if not state:
        return None
    record = storage.get_global_value(KEY_PREFIX + state)
    return record if isinstance(record, dict) else None


def forget_login(storage: DbLaunchDataStorage, state: str) -> None:
    """A state proves one launch only."""
    storage.delete_global_value(KEY_PREFIX + state)


def same_origin_post(request: FlaskHttpRequest) -> bool:
    """True when the browser says this POST came from one of our own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and origin == request.host_url.rstrip("/")


class StoredCookieService(PartitionedCookieService):
    """The cookie service with the values platform storage vouched for in place of cookies."""

    def __init__(self, request: Any, values: dict[str, str]) -> None:
        super().__init__(request)
        self._values = values

    def get_cookie(self, name: str) -> str | None:
        """A vouched-for value first, else the request's cookie."""
        return self._values.get(name) or super().get_cookie(name)


def vouched_cookies(record: dict[str, Any]) -> dict[str, str]:
    """What the missing cookies would have held: the state and the session id."""
    return {record["state"]: record["state"], SESSION_COOKIE: record["session_id"]}
