"""Redis restarted without persistence while jobs are queued: every message is gone, the sweeper publishes
them again from Postgres, and all the jobs complete; a message delivered twice produces one result.

This test has a Redis of its own (the broker of its workers, its sweeper and its submissions), so that
restarting it touches nothing else; it publishes and pings through a Celery app of its own on it.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.helpers.processes import Processes
from tests.worker.resilience.conftest import (
    A1111,
    Fleet,
    message_count,
    probe_app,
    unique,
    wait_job,
    wait_until,
)
from worker.celery_app import publish_job
from worker.jobs.service import JobService
from worker.output.files import ResultStore
from worker.recovery.queue_contents import broker_messages
from worker.settings import get_settings
from worker.stack.services import EmbeddedRedis, start_redis
from worker.store.jobs import JobStore

JOBS = 50
QUEUE = "sd.deliberate_v6.batch"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[list[EmbeddedRedis]]:
    """A Redis without persistence, as a one-element list so that a test can swap in its restarted self."""
    servers = [start_redis(tmp_path / "redis", persist=False)]
    yield servers
    servers[0].stop()


@pytest.fixture
def own_app(own_redis: list[EmbeddedRedis]) -> Iterator[Celery]:
    app = probe_app(own_redis[0].url)
    yield app
    app.close()


def restart(servers: list[EmbeddedRedis], directory: Path) -> None:
    """Stop Redis and start an empty one on the same port (no persistence: every key is lost)."""
    port = servers[0].port
    servers[0].stop()
    servers[0] = start_redis(directory, port=port, persist=False)


def test_redis_restarted_without_persistence_with_50_jobs_queued_then_all_complete_once(
    processes: Processes,
    fleet: Fleet,
    job_store: JobStore,
    models_volume: Path,
    own_redis: list[EmbeddedRedis],
    own_app: Celery,
    tmp_path: Path,
) -> None:
    redis_url = own_redis[0].url
    processes.control = own_app  # the workers of this test answer pings on its own Redis

    def publish(job_id: str, queue: str) -> None:
        publish_job(job_id, queue, via=own_app)

    def new_job(n: int, *, published: bool = True) -> str:
        data = {
            "prompt": f"a paper boat {n}",
            "checkpoint": "deliberate_v6",
            "steps": 2,
            "width": 64,
            "height": 64,
        }
        service = JobService(
            store=job_store,
            resolver=fleet.resolver,
            settings=get_settings(),
            results=ResultStore(get_settings().result_dir),
            events=None,
            publish=publish if published else lambda job_id, queue: None,
        )
        return service.submit(data)

    # Given a sweeper on this Redis, which has already published a job whose publish was lost
    sweeper = [sys.executable, "-m", "worker.cli.main", "sweeper", "--interval-s=0.5", "--grace-s=1"]
    processes.group.start("sweeper", sweeper, {**processes.env, "SDFLEET_REDIS_URL": redis_url})
    unpublished = new_job(0, published=False)
    wait_until(lambda: message_count(redis_url, unpublished) == 1, 30, "the sweeper publishing a lost job")
    # And 50 more jobs queued, with no worker running yet
    ids = [unpublished] + [new_job(n) for n in range(1, JOBS + 1)]
    assert sorted(broker_messages(redis_url, [QUEUE])) == sorted(ids)

    # When Redis restarts without persistence
    restart(own_redis, tmp_path / "redis")
    assert broker_messages(redis_url, [QUEUE]) == []
    # And two workers start on it
    emulators = [processes.emulator(models_volume, "deliberate_v6.safetensors") for _ in range(2)]
    for emulator in emulators:
        processes.worker(
            unique("gpu-flush"),
            ["deliberate_v6"],
            a1111_url=emulator.url,
            env={"SDFLEET_REDIS_URL": redis_url},
        )

    # Then every job completes (the sweeper published the lost messages again), each exactly once
    jobs = [wait_job(job_store, job_id, timeout_s=180) for job_id in ids]
    assert [job.status for job in jobs] == ["succeeded"] * (JOBS + 1)
    assert all([a.outcome for a in job.attempts] == ["succeeded"] for job in jobs)
    generated = sum(A1111(e.url).stats()["images_generated"] for e in emulators)
    assert generated == JOBS + 1

    # When every message is delivered once more (a duplicate: a visibility-timeout restore, a re-publish)
    for job_id in ids:
        publish(job_id, QUEUE)
    wait_until(lambda: broker_messages(redis_url, [QUEUE]) == [], 60, "the duplicates delivered and acked")
    # Then nothing ran again: one attempt and the same image per job
    for job in jobs:
        again = job_store.get(uuid.UUID(str(job.id)))
        assert [a.number for a in again.attempts] == [1] and again.status == "succeeded"
        assert [i.sha256 for i in again.images] == [i.sha256 for i in job.images]
    assert sum(A1111(e.url).stats()["images_generated"] for e in emulators) == generated
