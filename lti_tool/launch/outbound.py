"""HTTP to a platform the tool does not trust yet: LTI Dynamic Registration and its key set.

Such a platform names the URLs the tool fetches, so they could point the tool at itself, the
cloud's metadata service or the institution's intranet. Here every request is https (http only
to a loopback host where the configuration allows it: development), never follows a redirect,
connects only to public addresses unless the administrator named the host, and all requests of
one exchange share one deadline, at which their sockets are shut (a server that trickles bytes
would otherwise keep each read within its timeout forever).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from lti_tool.i18n.text import N_, Explained, LazyText

#: The most an answer (a configuration, a key set) may weigh.
MAX_BODY = 1024 * 1024


class Refused(Explained):
    """A request not made, or an answer not used; the message says why, in words (English in
    logs, the page's language on a page: Explained)."""


def hosts_setting(value: str | None) -> frozenset[str]:
    """A comma-separated host list from the configuration, lower-cased."""
    return frozenset(h.strip().lower().strip("[]") for h in (value or "").split(",") if h.strip())


@dataclass(frozen=True)
class Policy:
    """What one exchange may reach, from the DYNAMIC_REGISTRATION_* settings."""

    private_hosts: frozenset[str] = frozenset()
    http_loopback: bool = False
    deadline: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """The policy the application's settings describe."""
        return cls(
            private_hosts=hosts_setting(config.get("DYNAMIC_REGISTRATION_PRIVATE_HOSTS")),
            http_loopback=bool(config.get("DYNAMIC_REGISTRATION_HTTP_LOOPBACK")),
            deadline=float(config.get("DYNAMIC_REGISTRATION_DEADLINE") or 10),
        )


def is_loopback_host(host: str) -> bool:
    """localhost, or a loopback address literal."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, policy: Policy, what: str | LazyText) -> str:
    """The URL if the tool may fetch or store it: https, or http to loopback in development."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host and parts.scheme == "https":
        return url
    if host and parts.scheme == "http" and policy.http_loopback and is_loopback_host(host):
        return url
    raise Refused(N_("%(what)s %(url)r is not an https URL"), what=what, url=url)


def is_public(address: str) -> bool:
    """True for a global unicast address (not private, loopback, link-local, reserved…)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its IPv6 flags say
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, policy: Policy) -> list[Any]:
    """The host's addresses, refused when any is not public and the host is not named."""
    infos = socket.getaddrinfo(
        host, port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM
    )
    if host.lower() not in policy.private_hosts:
        hidden = sorted({str(info[4][0]) for info in infos if not is_public(str(info[4][0]))})
        if hidden:
            raise Refused(
                N_(
                    "%(host)s resolves to a private, loopback or link-local address "
                    "(%(addresses)s); the tool does not fetch from such addresses unless "
                    "DYNAMIC_REGISTRATION_PRIVATE_HOSTS names the host"
                ),
                host=host,
                addresses=", ".join(hidden),
            )
    return infos


class Deadline:
    """One deadline for an exchange; at it, every socket it watched is shut."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        """Seconds left (0 when past)."""
        return max(0.0, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket at the deadline (at once if it has passed)."""
        with self._lock:
            self._sockets.append(sock)
            if self._timer is None and not self.expired:
                self._timer = threading.Timer(self.remaining(), self._cut)
                self._timer.daemon = True
                self._timer.start()
        if self.expired or not self.remaining():
            self._cut()

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    # The base class's shutdown: on a TLS socket too it acts on the descriptor,
                    # which wakes a read blocked in another thread.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass  # closed already, or detached when TLS wrapped it

    def close(self) -> None:
        """Stop the timer (the exchange is over)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()


class _GuardedConnection(HTTPConnection):
    """Connects only to vetted addresses, and lets the deadline shut its socket."""

    policy: ClassVar[Policy]
    deadline: ClassVar[Deadline]

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        try:
            infos = resolve(host, self.port, self.policy)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for info in infos:
            address = info[4]
            try:
                # Connect to the address just vetted, never to a fresh lookup of the name (a
                # second answer could be private).
                sock = urllib3_connection.create_connection(
                    (str(address[0]), int(address[1])),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                error = exc
                continue
            self.deadline.watch(sock)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def connect(self) -> None:
        super().connect()
        if self.sock is not None:
            self.deadline.watch(self.sock)  # the TLS socket that replaced the plain one


def _adapter(policy: Policy, deadline: Deadline) -> HTTPAdapter:
    """A requests adapter whose pools make guarded connections for this exchange."""
    attrs = {"policy": policy, "deadline": deadline}
    plain = type("GuardedHTTPConnection", (_GuardedConnection,), attrs)
    tls = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), attrs)
    pools = {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    return GuardedAdapter(max_retries=0)


@dataclass
class Answer:
    """A response read in full (within the size limit and the deadline)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body)


class Fetcher:
    """One exchange with an untrusted platform: `with Fetcher(policy) as fetch: fetch.get(…)`."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.deadline = Deadline(policy.deadline)
        self.session = requests.Session()
        # No proxies or .netrc from the environment: the addresses checked are the ones reached.
        self.session.trust_env = False
        adapter = _adapter(policy, self.deadline)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the timer and the connections."""
        self.deadline.close()
        self.session.close()

    def _late(self, what: str | LazyText) -> Refused:
        return Refused(
            N_("%(what)s did not answer within %(seconds)s seconds"),
            what=what,
            seconds=f"{self.policy.deadline:g}",
        )

    def request(self, method: str, url: str, what: str | LazyText, **kwargs: Any) -> Answer:
        """Send one request; a Refused names `what` and says why it failed."""
        check_url(url, self.policy, what)
        left = self.deadline.remaining()
        if not left:
            raise self._late(what)
        try:
            response = self.session.request(
                method, url, allow_redirects=False, stream=True, timeout=(left, left), **kwargs
            )
            with response:
                if response.is_redirect or 300 <= response.status_code < 400:
                    target = response.headers.get("Location", "?")
                    raise Refused(
                        N_(
                            "%(what)s answered with a redirect (HTTP %(status)s to %(target)s); "
                            "the tool does not follow redirects: the LMS must give the final "
                            "address"
                        ),
                        what=what,
                        status=response.status_code,
                        target=target,
                    )
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise Refused(
                            N_("%(what)s answered more than %(limit)s bytes"),
                            what=what,
                            limit=MAX_BODY,
                        )
                    if not self.deadline.remaining():
                        raise self._late(what)
                return Answer(response.status_code, body)
        except requests.RequestException as exc:
            if self.deadline.expired or not self.deadline.remaining():
                raise self._late(what) from exc
            raise Refused(
                N_("could not reach %(what)s (%(error)s)"),
                what=what,
                error=f"{type(exc).__name__}: {exc}",
            ) from exc

    def get(self, url: str, what: str | LazyText, **kwargs: Any) -> Answer:
        """GET the URL (see `request`)."""
        return self.request("GET", url, what, **kwargs)

    def post(self, url: str, what: str | LazyText, **kwargs: Any) -> Answer:
        """POST to the URL (see `request`)."""
        return self.request("POST", url, what, **kwargs)
