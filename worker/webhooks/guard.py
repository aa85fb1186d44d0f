"""The SSRF guard of callback URLs: a webhook may only go to a public address, unless the operator
allows more (`SDFLEET_WEBHOOK_ALLOWED_NETWORKS`, `SDFLEET_WEBHOOK_ALLOWED_HOSTS`).

A URL is checked when a job is submitted (a refusal is a 422 naming `callback_url`) and again at every
delivery, because DNS may answer differently later (rebinding). Every address the name resolves to must
pass, and the delivery connects to the address that was checked (`Target.address`), not to whatever a
second lookup would give.

Refused unless allowed: loopback, private (RFC 1918, ULA), link-local (169.254/16 holds the cloud
metadata services, fe80::/10), multicast, reserved, unspecified, shared (100.64/10), documentation and
benchmark ranges: everything Python's `ipaddress` does not call global. IPv4-mapped IPv6 addresses are
judged by their IPv4 address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.errors import InvalidRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], list[str]]  # (host, port) -> IP address strings
URL_MAX_CHARS = 2000


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`; raises OSError when it gives none."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


@dataclass(frozen=True)
class Target:
    """A checked callback: the URL as given, its host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class CallbackGuard:
    """Checks callback URLs against the allowed networks and hosts."""

    allowed_networks: tuple[Network, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()
    resolve: Resolve = system_resolve

    @classmethod
    def from_settings(cls, networks: Iterable[str], hosts: Iterable[str]) -> CallbackGuard:
        """Raises ValueError for a network that does not parse (settings are checked at start-up)."""
        return cls(
            tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()),
            frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip()),
        )

    def check(self, url: str, *, field: str = "callback_url") -> Target:
        """The target of `url`; raises InvalidRequest naming `field` when it may not be called."""
        if len(url) > URL_MAX_CHARS:
            raise InvalidRequest(f"{field} must be at most {URL_MAX_CHARS} characters", field=field)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidRequest(f"{field} is not a valid URL: {exc}", field=field, value=url) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(
                f"{field} must be an absolute http:// or https:// URL, got {url!r}", field=field, value=url
            )
        host = parts.hostname.lower().rstrip(".")
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolve(host, port)]
        except (OSError, ValueError) as exc:
            message = f"{field} host {host!r} does not resolve: {exc}"
            raise InvalidRequest(message, field=field, value=url) from None
        if not addresses:
            raise InvalidRequest(f"{field} host {host!r} does not resolve", field=field, value=url)
        for address in addresses:
            reason = self.refusal(host, address)
            if reason is not None:
                raise InvalidRequest(
                    f"{field} {url!r} resolves to {address}, {reason}: webhooks go to public addresses "
                    f"only (an operator may allow it with SDFLEET_WEBHOOK_ALLOWED_NETWORKS)",
                    field=field,
                    value=url,
                )
        return Target(url, parts.scheme, host, port, str(addresses[0]))

    def refusal(self, host: str, address: Address) -> str | None:
        """Why `address` (of `host`) may not be called, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if host in self.allowed_hosts or any(address in network for network in self.allowed_networks):
            return None
        kind = _kind(address)
        return None if kind is None else f"a {kind} address"


def _kind(address: Address) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata)"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None
