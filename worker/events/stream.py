"""A job's event stream: one Redis stream per job, written by whoever sees the event, read by anyone.

The worker writes what it does (started, checkpoint switch, progress, OOM, retry, the outcome), the job
service writes `queued`, the sweeper writes `lost`. Readers are the API's live progress (Server-Sent
Events, resumable by event id, the same from every API replica) and callers waiting for a job to end,
who are woken by the terminal event instead of polling.

Events are advisory: the job row in Postgres is the record, and a terminal event is written only after
the row is committed. So a failed write is logged and forgotten (never raised into the job), and a
waiter that hears nothing still reads the row now and then. A stream expires `running_ttl_s` after its
last event, and `finished_ttl_s` after its terminal one.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from worker.vocabulary import EventKind

log = logging.getLogger(__name__)
KEY_PREFIX = "sdfleet:events:"
MAX_EVENTS = 500  # per job, approximately (progress is throttled by the writer)


def stream_key(job_id: str | uuid.UUID) -> str:
    return f"{KEY_PREFIX}{job_id}"


@dataclass(frozen=True)
class Event:
    """One event of a job: its stream id (e.g. "1733130000000-0", usable as an SSE id), what happened,
    when (Unix seconds, the writer's clock) and its data."""

    id: str
    kind: EventKind
    at: float
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "event": self.kind.value, "at": self.at, **self.data}


def parse_entry(entry_id: Any, fields: Any) -> Event | None:
    """An event from a raw stream entry, or None for an entry this version does not understand."""
    decoded = {_text(k): _text(v) for k, v in fields.items()}
    try:
        kind = EventKind(decoded["kind"])
        data = json.loads(decoded.get("data", "{}"))
        at = float(decoded.get("at", "0"))
    except (KeyError, ValueError):
        return None
    return Event(_text(entry_id), kind, at, data if isinstance(data, dict) else {})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class JobEvents:
    """Writes and reads job event streams on one Redis (a blocking client; see `waiting` for async)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        running_ttl_s: int = 24 * 3600,
        finished_ttl_s: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._running_ttl_s = running_ttl_s
        self._finished_ttl_s = finished_ttl_s
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, *, finished_ttl_s: int = 3600) -> JobEvents:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, finished_ttl_s=finished_ttl_s)

    def close(self) -> None:
        self._redis.close()

    def emit(self, job_id: str | uuid.UUID, kind: EventKind, **data: Any) -> str | None:
        """Append an event; returns its id, or None if Redis did not take it (logged, never raised)."""
        key = stream_key(job_id)
        fields = {"kind": kind.value, "at": repr(self._clock()), "data": json.dumps(data, default=str)}
        ttl_s = self._finished_ttl_s if kind.is_terminal else self._running_ttl_s
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.xadd(key, fields, maxlen=MAX_EVENTS, approximate=True)  # type: ignore[arg-type]
            pipe.expire(key, ttl_s)
            entry_id, _ = pipe.execute()
        except redis.RedisError as exc:
            log.warning("job %s: event %s not recorded (%s); the job row stays the record", job_id, kind, exc)
            return None
        return _text(entry_id)

    def read(
        self, job_id: str | uuid.UUID, *, after: str = "0", block_ms: int | None = None, count: int = 200
    ) -> list[Event]:
        """Events after id `after` ("0": from the start), waiting up to `block_ms` for the first one.

        Raises redis.RedisError when Redis cannot be reached (callers decide whether to wait on the row).
        """
        reply = self._redis.xread({stream_key(job_id): after}, count=count, block=block_ms)
        return _events(reply)

    def last(self, job_id: str | uuid.UUID, kind: EventKind | None = None, *, scan: int = 50) -> Event | None:
        """The newest event (of `kind`, among the last `scan`), or None; None too when Redis is down."""
        try:
            entries: Any = self._redis.xrevrange(stream_key(job_id), count=1 if kind is None else scan)
        except redis.RedisError:
            return None
        for entry_id, fields in entries:
            event = parse_entry(entry_id, fields)
            if event is not None and (kind is None or event.kind is kind):
                return event
        return None


def _events(reply: Any) -> list[Event]:
    events: list[Event] = []
    for _key, entries in reply or []:
        for entry_id, fields in entries:
            event = parse_entry(entry_id, fields)
            if event is not None:
                events.append(event)
    return events
