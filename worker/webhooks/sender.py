"""One webhook POST, to the address the guard checked: the URL's host stays in the Host header and in
TLS (SNI and certificate check), but the connection goes to `Target.address`, so a DNS answer that
changed since the check (rebinding) cannot redirect it. Redirects are not followed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from worker.webhooks.guard import Target

USER_AGENT = "sdfleet-webhooks/1"


@dataclass(frozen=True)
class TryResult:
    """What one POST came to: a status code, or an error before any answer; and how long it took."""

    status_code: int | None
    error: str | None
    duration_s: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def pinned_url(target: Target) -> str:
    """`target.url` with its host replaced by the checked address."""
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


def post(client: httpx.Client, target: Target, body: bytes, headers: dict[str, str]) -> TryResult:
    """POST `body` to `target`; never raises for the receiver's or the network's failure."""
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.monotonic()
    try:
        response = client.post(
            pinned_url(target),
            content=body,
            headers={**headers, "Host": host_header, "User-Agent": USER_AGENT},
            extensions=extensions,
        )
    except httpx.HTTPError as exc:
        return TryResult(None, f"{type(exc).__name__}: {exc}"[:300], time.monotonic() - started)
    return TryResult(response.status_code, None, time.monotonic() - started)
