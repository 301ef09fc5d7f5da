"""Forwarded headers only from the proxy: ProxyFix applied to requests from trusted addresses.

`ProxyFix(x_for=PROXY_FIX_HOPS)` believes the last PROXY_FIX_HOPS entries of X-Forwarded-For
from whoever connects. When the web port can be reached past the proxy, a client could then
name any address it likes, and every admin sign-in would get a fresh per-address budget. Here
the headers count only when the connection itself comes from FORWARDED_ALLOW_IPS (the same
setting, and the same meaning, as gunicorn's: addresses or networks, comma-separated, `*` for
any; a Unix socket, which has no address, is trusted like gunicorn does). From anywhere else
the request is taken as it came: its address is the connection's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(value: str) -> tuple[bool, tuple[Network, ...]]:
    """(any address, the networks) of a FORWARDED_ALLOW_IPS value; ValueError when malformed."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if "*" in items:
        return True, ()
    return False, tuple(ipaddress.ip_network(item, strict=False) for item in items)


class TrustedProxyFix:
    """ProxyFix for requests whose REMOTE_ADDR is a trusted proxy, nothing for the others."""

    def __init__(self, app: Callable[..., Iterable[bytes]], hops: int, allow: str) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)
        self.any, self.networks = parse_allow(allow)

    def trusted(self, remote_addr: str | None) -> bool:
        """True when the connection comes from a proxy allowed to forward."""
        if self.any:
            return True
        if not remote_addr:
            return True  # a Unix socket: only processes on this machine reach it
        try:
            address = ipaddress.ip_address(remote_addr.split("%", 1)[0])
        except ValueError:
            return True  # gunicorn's address for a Unix socket peer
        return any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Apply the forwarded headers only for requests from a trusted proxy."""
        if self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
