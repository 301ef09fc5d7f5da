"""The LMS clients' HTTP: a counting, stoppable requests session, the same-origin rule, the one
`next_link` every paged API follows (Canvas, Open edX, NRPS), and a paged, retrying JSON client
for LMS REST APIs (Canvas and Open edX; NRPS reads its pages with the session and next_link).

One request at a time (parallel requests cost more under Canvas's leaky-bucket throttle).
Throttling (429, or whatever `throttled` recognises) waits as `Retry-After` says and is retried
up to MAX_THROTTLE_RETRIES times; 5xx answers and network errors or timeouts are retried once per
entry of `retry_delays`; a low rate-limit header slows the next request down. Pages are followed
by `Link: rel="next"` exactly as sent (or a DRF page's `next`); a page must be JSON. Anything
else raises HttpError, which carries the status and the answer's body so that the caller can word
its own message; the message itself never holds the remote body (it is shown on admin pages).
Tokens never appear in messages: URLs are shown without their query. The token is only ever sent
to the base URL's own origin (scheme, host and port): a next link (or any URL) elsewhere raises
HttpError before any request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.utils import parse_header_links

from lti_tool.i18n.text import N_, LazyText, lazy_gettext
from lti_tool.sync.errors import Stopped, SyncError

RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Throttled answers are retried this many times (each waits as the server says).
MAX_THROTTLE_RETRIES = 6
#: The longest wait a Retry-After header may impose; longer ones are capped.
MAX_RETRY_AFTER = 60.0
#: A page list longer than this is refused (next links that never end).
MAX_PAGES = 10_000

Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None


class CountingSession(requests.Session):
    """A requests session with a default timeout that counts the requests it sends."""

    def __init__(
        self,
        timeout: float,
        should_stop: Callable[[], bool] | None = None,
        user_agent: str = "lti_tool-sync",
    ) -> None:
        super().__init__()
        self.headers["User-Agent"] = user_agent
        self.timeout = timeout
        self.should_stop = should_stop
        self.count = 0

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """One request, counted; Stopped before it when the process is shutting down."""
        if self.should_stop and self.should_stop():
            raise Stopped(N_("stopped: the process is shutting down; nothing was written"))
        kwargs.setdefault("timeout", self.timeout)
        self.count += 1
        return super().request(method, url, *args, **kwargs)


def same_origin(url: str, base: str) -> bool:
    """Whether `url` is on the scheme, host and port of `base` (default ports filled in)."""

    def key(value: str) -> tuple[str, str, int | None]:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or {"http": 80, "https": 443}.get(scheme)
        except ValueError:
            port = None
        return scheme, (parts.hostname or "").lower(), port

    return key(url) == key(base)


class HttpError(SyncError):
    """An answer the client could not use: an HTTP error, a network failure, broken JSON."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        url: str = "",
        body: str = "",
        **variables: Any,
    ) -> None:
        super().__init__(message, **variables)
        self.status = status
        self.url = url
        self.body = body
        self.www_authenticate = ""


def after_attempts(attempts: int) -> LazyText:
    """The words "after 3 attempts", in the language of where they are shown."""
    return lazy_gettext("after %(attempts)s attempts", attempts=attempts)


def _throttled_times(times: int) -> LazyText:
    return lazy_gettext("throttled %(times)s times", times=times)


def where(url: str) -> str:
    """A URL for messages: scheme, host and path (a query may carry something private)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _origin_text(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def next_link(response: requests.Response, body: Any = None) -> str | None:
    """The next page's URL, resolved against the request URL: the `rel="next"` target of the Link
    header as sent (case kept; Canvas, NRPS), else a DRF page's `"next"` (Open edX) when `body`
    is given. The caller sends the token only to its own origin (`same_origin`)."""
    header = response.headers.get("Link")
    if header:
        for link in parse_header_links(header.replace("\n", " ")):
            rels = str(link.get("rel", "")).lower().split()
            if "next" in rels and link.get("url"):
                return urljoin(response.url, link["url"])
    following = body.get("next") if isinstance(body, dict) else None
    if isinstance(following, str) and following:
        return urljoin(response.url, following)
    return None


def _retry_after(response: requests.Response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date, or nothing: our own backoff


class JsonClient:
    """GETs JSON from one API with a bearer token; counts requests, retries, throttle waits."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retry_delays: Sequence[float] = (1.0, 4.0),
        should_stop: Callable[[], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttled: Callable[[requests.Response], bool] | None = None,
        rate_header: str | None = None,
        rate_low: float = 0.0,
        rate_pause: float = 1.0,
        user_agent: str = "lti_tool-sync",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.session = CountingSession(timeout, should_stop)
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Authorization"] = "Bearer " + token
        self.session.headers["Accept"] = "application/json"
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.throttled = throttled or (lambda response: response.status_code == 429)
        self.rate_header = rate_header
        self.rate_low = rate_low
        self.rate_pause = rate_pause
        self.throttle_waits = 0
        self.slowdowns = 0
        self.retries = 0

    @property
    def requests_made(self) -> int:
        """Requests sent so far, retries included."""
        return self.session.count

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()

    def url(self, path: str) -> str:
        """An absolute URL for a path under the base URL (absolute URLs are kept)."""
        return urljoin(self.base_url, path.lstrip("/")) if "://" not in path else path

    def _pace(self, response: requests.Response) -> None:
        """Slow down while the rate-limit budget is low, more the lower it is."""
        if not self.rate_header or self.rate_low <= 0:
            return
        try:
            remaining = float(response.headers.get(self.rate_header, ""))
        except ValueError:
            return
        if remaining < self.rate_low:
            self.slowdowns += 1
            self.sleep(self.rate_pause * (1 - max(remaining, 0.0) / self.rate_low))

    def get(self, url: str, params: Params = None) -> requests.Response:
        """GET one URL, retrying throttling, 5xx and network failures; HttpError otherwise."""
        url = self.url(url)
        if not same_origin(url, self.base_url):
            # A next link (or any URL) on another scheme, host or port would get our token.
            raise HttpError(
                N_(
                    "refused to send the token to %(where)s: not the source's own scheme, "
                    "host and port (%(origin)s); the run stopped"
                ),
                url=url,
                origin=_origin_text(self.base_url),
                where=where(url),
            )
        throttles = failures = 0
        while True:
            try:
                response = self.session.get(url, params=params, allow_redirects=True)
            except requests.RequestException as exc:
                if failures >= len(self.retry_delays):
                    raise HttpError(
                        N_("could not read %(where)s: %(kind)s (after %(attempts)s attempts)"),
                        url=url,
                        where=where(url),
                        kind=type(exc).__name__,
                        attempts=failures + 1,
                    ) from None
                self.sleep(self.retry_delays[failures])
                failures += 1
                self.retries += 1
                continue
            if self.throttled(response):
                if throttles >= MAX_THROTTLE_RETRIES:
                    raise self._error(response, url, _throttled_times(throttles + 1))
                wait = _retry_after(response)
                if wait is None:
                    base = self.retry_delays[-1] if self.retry_delays else 1.0
                    wait = min(base * (2**throttles), MAX_RETRY_AFTER)
                self.throttle_waits += 1
                self.sleep(wait)
                throttles += 1
                continue
            if response.status_code in RETRY_STATUSES:
                if failures >= len(self.retry_delays):
                    raise self._error(response, url, after_attempts(failures + 1))
                self.sleep(self.retry_delays[failures])
                failures += 1
                self.retries += 1
                continue
            if not response.ok:
                raise self._error(response, url, None)
            self._pace(response)
            return response

    def _error(self, response: requests.Response, url: str, tries: LazyText | None) -> HttpError:
        # No remote text: the message is shown on admin pages; callers read `body`.
        variables: dict[str, Any] = {"code": response.status_code, "where": where(url)}
        if tries is not None:
            variables["tries"] = tries
        error = HttpError(
            N_("HTTP %(code)s from %(where)s (%(tries)s)")
            if tries is not None
            else N_("HTTP %(code)s from %(where)s"),
            status=response.status_code,
            url=url,
            body=response.text or "",
            **variables,
        )
        error.www_authenticate = response.headers.get("WWW-Authenticate", "")
        return error

    def get_json(self, url: str, params: Params = None) -> Any:
        """GET one URL and decode its JSON."""
        return json_body(self.get(url, params))

    def pages(self, url: str, params: Params = None) -> Iterator[list[Any]]:
        """Each page of a paginated list, following `Link: rel="next"` only."""
        seen: set[str] = set()
        next_url: str | None = self.url(url)
        first = True
        while next_url:
            if next_url in seen:
                raise HttpError(
                    N_("the next link of %(where)s goes back to a page read"),
                    where=where(next_url),
                )
            if len(seen) >= MAX_PAGES:
                raise HttpError(
                    N_("%(where)s has more than %(pages)s pages; stopped"),
                    where=where(next_url),
                    pages=MAX_PAGES,
                )
            seen.add(next_url)
            # The first request carries the parameters; next links already hold them.
            response = self.get(next_url, params if first else None)
            first = False
            body = json_body(response)
            if not isinstance(body, list):
                raise HttpError(
                    N_("%(where)s did not answer a JSON list"), where=where(response.url)
                )
            yield body
            next_url = next_link(response)


def json_body(response: requests.Response) -> Any:
    """An answer's JSON, or HttpError."""
    try:
        return response.json()
    except ValueError as exc:
        raise HttpError(
            N_("%(where)s answered malformed JSON (%(detail)s)"),
            status=response.status_code,
            url=response.url,
            where=where(response.url),
            detail=str(exc),
        ) from None
