"""The webhook signature: t=<unix>,v1=<HMAC-SHA256 of "t." + body>; verify refuses anything else."""

from __future__ import annotations

import hashlib
import hmac

from worker.webhooks.signature import sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"j","status":"succeeded"}'


def test_the_header_is_hmac_sha256_over_the_timestamp_and_the_body() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_only_the_same_secret_body_and_a_fresh_timestamp() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert verify(SECRET, header, BODY, now=1_700_000_100)
    assert not verify("whsec_other", header, BODY, now=1_700_000_100)
    assert not verify(SECRET, header, BODY + b" ", now=1_700_000_100)
    assert not verify(SECRET, header, BODY, now=1_700_000_000 + 301)  # replayed later
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000200"), BODY, now=1_700_000_200)
    assert not verify(SECRET, "v1=abc", BODY, now=1_700_000_000)


def test_verify_accepts_any_of_several_signatures() -> None:
    old = sign("whsec_old", BODY, 1_700_000_000).split(",")[1]
    header = f"{sign(SECRET, BODY, 1_700_000_000)},{old}"
    assert verify("whsec_old", header, BODY, now=1_700_000_000)
