"""The webhook signature: HMAC-SHA256 over the timestamp and the body, sent as
`Sdfleet-Signature: t=<unix seconds>,v1=<hex digest>` (the scheme Stripe uses).

The signed message is `f"{t}.".encode() + body`, the body exactly as sent. A receiver recomputes it with
its secret, compares in constant time, and refuses a timestamp older than its tolerance (a replayed
request carries an old `t`, and `t` cannot be changed without the secret). `verify` does all three.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Sdfleet-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},{SCHEME}={digest}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` with `secret`, within `tolerance_s` of `now`. Several `v1=` values
    are accepted (one matching is enough), so a sender may sign with an old and a new secret at once."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            digests.append(value)
    if timestamp is None or not digests:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rsplit("=", 1)[1]
    return any(hmac.compare_digest(expected, digest) for digest in digests)
