"""Redis and Postgres for tests: the machine's when SDFLEET_REDIS_URL / SDFLEET_DATABASE_URL are set,
else embedded ones started by the session (the same code `sdfleet up` uses)."""

from __future__ import annotations

import contextlib

import redis

CLAIM_KEY = "sdfleet:test-suite-claim"


def claim_empty_redis_db(url: str, ttl_s: int = 7200) -> str:
    """A URL for a database number of the shared Redis at `url` that is empty, claimed with a marker key.

    The machine's Redis is shared and may hold other data: the suite never flushes a database it did
    not find empty.
    """
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url.rstrip("/")
    for number in range(15, 0, -1):
        candidate = f"{base}/{number}"
        client = redis.Redis.from_url(candidate)
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, "1", nx=True, ex=ttl_s):
                return candidate
        finally:
            client.close()
    raise RuntimeError(f"no empty database number on the Redis at {url}; the suite needs one")


def release_redis_db(url: str) -> None:
    client = redis.Redis.from_url(url)
    with contextlib.suppress(redis.RedisError):
        client.flushdb()
    client.close()
