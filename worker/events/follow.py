"""Following one job to its end, as the API's Server-Sent Events send it: the queue position while it
is queued, then the events of its stream as they happen, then its outcome, then nothing more.

`after` is an event id a reader already has (SSE's Last-Event-ID): what follows it is sent, so a
reconnecting reader, on any API replica, misses nothing and gets nothing twice. The job row decides the
end (a terminal event is written only after the row is committed); if Redis loses events, or is down,
the row read every `recheck_s` still ends the stream with the outcome.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis

from worker.events.stream import Event
from worker.events.waiting import AsyncJobEvents
from worker.vocabulary import JobStatus

EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
QUEUE_EVENT = "queue"  # not in the stream: the position is computed by whoever follows


@dataclass(frozen=True)
class Standing:
    """A job's status, and its queue position while it is queued."""

    status: JobStatus
    queue_position: int | None = None


@dataclass(frozen=True)
class Update:
    """One thing to tell the reader: `event` is "queue", an `EventKind` value, or the outcome (the
    job's final status); `id` is the stream id (None for the queue position, which is not resumable)."""

    event: str
    data: dict[str, Any]
    id: str | None = None
    final: bool = False


async def follow(
    job_id: uuid.UUID,
    *,
    events: AsyncJobEvents,
    standing: Callable[[], Awaitable[Standing]],
    outcome: Callable[[], Awaitable[dict[str, Any]]],
    after: str = "0",
    recheck_s: float = 2.0,
) -> AsyncIterator[Update]:
    """The updates of job `job_id` until its outcome. `standing()` reads the row (raises JobNotFound);
    `outcome()` is the finished job's JSON view."""
    last_id = after
    shown_position: int | None = None
    while True:
        now = await standing()
        if now.status.is_terminal:
            async for update in _drain(job_id, events, last_id, outcome):
                yield update
            return
        if now.status is JobStatus.QUEUED and now.queue_position != shown_position:
            shown_position = now.queue_position
            yield Update(QUEUE_EVENT, {"event": QUEUE_EVENT, "position": shown_position})
        try:
            batch = await events.read(job_id, after=last_id, block_ms=max(1, int(recheck_s * 1000)))
        except redis.RedisError:
            await asyncio.sleep(recheck_s)  # the row alone decides until Redis is back
            continue
        for event in batch:
            if event.kind.is_terminal:
                yield await _outcome(event, outcome)
                return
            last_id = event.id
            yield Update(event.kind.value, event.as_json(), event.id)


async def _drain(
    job_id: uuid.UUID, events: AsyncJobEvents, last_id: str, outcome: Callable[[], Awaitable[dict[str, Any]]]
) -> AsyncIterator[Update]:
    """The job has ended: what its stream still holds after `last_id`, then the outcome."""
    try:
        rest = await events.read(job_id, after=last_id, count=1000)
    except redis.RedisError:
        rest = []
    for event in rest:
        if event.kind.is_terminal:
            yield await _outcome(event, outcome)
            return
        yield Update(event.kind.value, event.as_json(), event.id)
    yield await _outcome(None, outcome)


async def _outcome(event: Event | None, outcome: Callable[[], Awaitable[dict[str, Any]]]) -> Update:
    job = await outcome()
    data = event.as_json() if event is not None else {"event": job["status"]}
    return Update(
        job["status"], {**data, "event": job["status"], "job": job}, event.id if event else None, True
    )
