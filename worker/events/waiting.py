"""Waiting for a job to end: woken by its terminal event, with the job row read now and then as the truth.

A waiter first asks the row (the job may have ended already), then blocks on the job's event stream; the
terminal event is written after the row is committed, so once it is seen the row is final. If Redis
loses the event (or is down), the row is read again every `recheck_s`, so nothing waits forever on a
doorbell that did not ring. The same for blocking callers (`.get()`) and for the API's event loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio

from worker.events.stream import Event, JobEvents, _events, parse_entry, stream_key

RECHECK_S = 2.0  # how often a waiter reads the row while no event wakes it


def wait_for_end(
    events: JobEvents,
    job_id: str | uuid.UUID,
    *,
    ended: Callable[[], bool],
    timeout_s: float | None,
    recheck_s: float = RECHECK_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """True once the job has ended (`ended()` reads the row), False if `timeout_s` passed first."""
    deadline = None if timeout_s is None else clock() + timeout_s
    after = "0"
    checked = clock()
    if ended():
        return True
    while True:
        now = clock()
        wait_s = recheck_s - (now - checked)
        if deadline is not None:
            if now >= deadline:
                return False
            wait_s = min(wait_s, deadline - now)
        terminal = False
        if wait_s > 0:
            try:
                batch = events.read(job_id, after=after, block_ms=max(1, int(wait_s * 1000)))
            except redis.RedisError:
                sleep(wait_s)  # Redis is away: the row alone decides, read again after a pause
                batch = []
            if batch:
                after = batch[-1].id
                terminal = any(event.kind.is_terminal for event in batch)
        if terminal:
            return True
        if clock() - checked >= recheck_s:  # progress events alone do not cost a read
            checked = clock()
            if ended():
                return True


class AsyncJobEvents:
    """Reads job event streams from the API's event loop (redis.asyncio)."""

    def __init__(self, url: str) -> None:
        self._redis: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=None, socket_connect_timeout=5
        )

    async def close(self) -> None:
        await self._redis.aclose()

    async def read(
        self, job_id: str | uuid.UUID, *, after: str = "0", block_ms: int | None = None, count: int = 200
    ) -> list[Event]:
        """As `JobEvents.read`; raises redis.RedisError."""
        reply: Any = await self._redis.xread({stream_key(job_id): after}, count=count, block=block_ms)
        return _events(reply)

    async def last(self, job_id: str | uuid.UUID) -> Event | None:
        """The newest event, or None (also when Redis is down)."""
        try:
            entries: Any = await self._redis.xrevrange(stream_key(job_id), count=1)
        except redis.RedisError:
            return None
        for entry_id, fields in entries:
            return parse_entry(entry_id, fields)
        return None

    async def wait_for_end(
        self,
        job_id: str | uuid.UUID,
        *,
        ended: Callable[[], Awaitable[bool]],
        timeout_s: float,
        recheck_s: float = RECHECK_S,
    ) -> bool:
        """As `wait_for_end`, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        after = "0"
        checked = loop.time()
        if await ended():
            return True
        while True:
            now = loop.time()
            if now >= deadline:
                return False
            wait_s = min(recheck_s - (now - checked), deadline - now)
            terminal = False
            if wait_s > 0:
                try:
                    batch = await self.read(job_id, after=after, block_ms=max(1, int(wait_s * 1000)))
                except redis.RedisError:
                    await asyncio.sleep(wait_s)
                    batch = []
                if batch:
                    after = batch[-1].id
                    terminal = any(event.kind.is_terminal for event in batch)
            if terminal:
                return True
            if loop.time() - checked >= recheck_s:
                checked = loop.time()
                if await ended():
                    return True
