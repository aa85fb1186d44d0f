"""Waiting for a job to end: woken by its terminal event, reading the row only now and then, and
falling back on the row alone when Redis is away."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from worker.events.stream import JobEvents
from worker.events.waiting import AsyncJobEvents, wait_for_end
from worker.stack.services import free_port
from worker.vocabulary import EventKind


class Row:
    """A job row's status as a waiter sees it, counting the reads."""

    def __init__(self) -> None:
        self.done = False
        self.reads = 0

    def ended(self) -> bool:
        self.reads += 1
        return self.done


@pytest.fixture
def events(redis_url: str) -> Iterator[JobEvents]:
    journal = JobEvents(redis.Redis.from_url(redis_url))
    yield journal
    journal.close()


def _later(delay_s: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_terminal_event_wakes_the_waiter_and_progress_costs_no_reads(events: JobEvents) -> None:
    job, row = uuid.uuid4(), Row()

    def finish() -> None:
        for step in range(30):
            events.emit(job, EventKind.PROGRESS, step=step, steps=30)
        row.done = True  # committed first, then announced
        events.emit(job, EventKind.SUCCEEDED, images=1)

    thread = _later(0.2, finish)
    started = time.monotonic()
    assert wait_for_end(events, job, ended=row.ended, timeout_s=30, recheck_s=20)
    thread.join()
    assert time.monotonic() - started < 10  # woken by the event, not by the 20 s recheck
    assert row.reads == 1  # once before waiting; the terminal event says the rest


def test_a_waiter_gives_up_at_its_timeout(events: JobEvents) -> None:
    row = Row()
    assert not wait_for_end(events, uuid.uuid4(), ended=row.ended, timeout_s=0.3, recheck_s=0.1)
    assert row.reads >= 2


def test_without_redis_the_row_alone_decides() -> None:
    nowhere = JobEvents(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2))
    row = Row()
    thread = _later(0.5, lambda: setattr(row, "done", True))
    assert wait_for_end(nowhere, uuid.uuid4(), ended=row.ended, timeout_s=20, recheck_s=0.1)
    thread.join()


def test_the_async_waiter_is_woken_by_the_terminal_event(events: JobEvents, redis_url: str) -> None:
    job, row = uuid.uuid4(), Row()

    async def ended() -> bool:
        return row.ended()

    async def scenario() -> bool:
        reader = AsyncJobEvents(redis_url)
        try:
            return await reader.wait_for_end(job, ended=ended, timeout_s=30, recheck_s=20)
        finally:
            await reader.close()

    def finish() -> None:
        row.done = True
        events.emit(job, EventKind.FAILED, category="oom", message="x")

    thread = _later(0.2, finish)
    started = time.monotonic()
    assert asyncio.run(scenario())
    thread.join()
    assert time.monotonic() - started < 10
