"""Job event streams on a real Redis: what is written is read back in order, outcomes expire sooner,
and a Redis that cannot be reached costs the job nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from worker.events.stream import JobEvents, parse_entry, stream_key
from worker.stack.services import free_port
from worker.vocabulary import EventKind


@pytest.fixture
def events(redis_url: str) -> Iterator[JobEvents]:
    journal = JobEvents(redis.Redis.from_url(redis_url), running_ttl_s=86400, finished_ttl_s=600)
    yield journal
    journal.close()


def test_events_are_read_back_in_order_and_after_an_id(events: JobEvents) -> None:
    job = uuid.uuid4()
    first = events.emit(job, EventKind.QUEUED, queue="sd.x", checkpoint="x")
    events.emit(job, EventKind.STARTED, worker="gpu0", attempt=1)
    events.emit(job, EventKind.PROGRESS, step=3, steps=20)

    read = events.read(job)
    assert [e.kind for e in read] == [EventKind.QUEUED, EventKind.STARTED, EventKind.PROGRESS]
    assert read[0].id == first and read[2].data == {"step": 3, "steps": 20}
    assert [e.kind for e in events.read(job, after=read[0].id)] == [EventKind.STARTED, EventKind.PROGRESS]
    assert read[0].as_json()["event"] == "queued" and read[0].at > 0


def test_last_finds_the_newest_event_of_a_kind(events: JobEvents) -> None:
    job = uuid.uuid4()
    for step in (1, 2, 3):
        events.emit(job, EventKind.PROGRESS, step=step, steps=3)
    events.emit(job, EventKind.OOM, batch_size=4, next_batch_size=2)

    last_progress = events.last(job, EventKind.PROGRESS)
    assert last_progress is not None and last_progress.data["step"] == 3
    newest = events.last(job)
    assert newest is not None and newest.kind is EventKind.OOM
    assert events.last(uuid.uuid4()) is None


def test_a_finished_jobs_stream_expires_sooner(events: JobEvents, redis_url: str) -> None:
    job = uuid.uuid4()
    client = redis.Redis.from_url(redis_url)
    events.emit(job, EventKind.STARTED, worker="gpu0")
    assert client.ttl(stream_key(job)) > 600
    events.emit(job, EventKind.SUCCEEDED, images=1)
    assert 0 < int(client.ttl(stream_key(job))) <= 600  # type: ignore[arg-type]
    client.close()


def test_an_unreachable_redis_loses_the_event_but_never_raises() -> None:
    nowhere = JobEvents(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5))
    assert nowhere.emit(uuid.uuid4(), EventKind.STARTED, worker="gpu0") is None
    assert nowhere.last(uuid.uuid4()) is None
    with pytest.raises(redis.RedisError):
        nowhere.read(uuid.uuid4())


def test_entries_of_unknown_kinds_are_skipped() -> None:
    assert parse_entry(b"1-0", {b"kind": b"teleported", b"data": b"{}"}) is None
    assert parse_entry(b"1-0", {b"kind": b"started", b"data": b"not json"}) is None
    event = parse_entry(b"1-0", {b"kind": b"started", b"at": b"12.5", b"data": b'{"worker": "gpu0"}'})
    assert event is not None and (event.id, event.kind, event.at) == ("1-0", EventKind.STARTED, 12.5)
