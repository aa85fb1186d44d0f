"""The task shell with Celery's own in-process test worker (`celery.contrib.pytest`'s `celery_worker`).

Where a real `celery worker` process proves nothing more — which queue a job's message lands on, what
`.get()` returns, how a retry is re-published, which deliveries are dropped with `Ignore` — the worker
runs as a thread of this process (solo pool) on the suite's Redis and Postgres, driving a real A1111
stand-in process. Process-level behaviour (kills, signals, leases) stays in the real-process tests.

pytest-celery 1.x needs Docker (celery-notes §4), which this machine does not have; these fixtures are
the in-process ones Celery ships, enabled in tests/conftest.py.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery

from tests.helpers.inprocess import attached_worker
from tests.helpers.processes import Emulator, Processes
from worker.celery_app import app, publish_job
from worker.context import producer_context
from worker.errors import JobNotFound
from worker.jobs.queues import lane_queue
from worker.settings import WorkerSettings
from worker.store.jobs import JobStore
from worker.tasks import txt2img
from worker.vocabulary import AttemptOutcome, EventKind, FailureCategory, JobStatus, Lane

QUEUE = lane_queue("deliberate_v6", Lane.BATCH)  # txt2img.delay submits batch jobs


@pytest.fixture
def a1111(processes: Processes, models_volume: Path) -> Emulator:
    return processes.emulator(models_volume, "deliberate_v6.safetensors")


@pytest.fixture
def worker_settings(a1111: Emulator, sdfleet_env: dict[str, str]) -> Iterator[WorkerSettings]:
    """This process becomes a GPU worker attached to the stand-in, for the length of a test."""
    with attached_worker(a1111.url, ["deliberate_v6"]) as settings:
        yield settings


@pytest.fixture
def celery_app(worker_settings: WorkerSettings) -> Celery:
    """The plugin's worker runs on sdfleet's own app (the one `txt2img` is registered on)."""
    return app


@pytest.fixture
def celery_worker_parameters(worker_settings: WorkerSettings) -> dict[str, Any]:
    return {
        "queues": [QUEUE],
        "perform_ping_check": False,
        "shutdown_timeout": 30.0,
        "hostname": worker_settings.node_name,  # a worker's node name is its settings' (worker_init checks)
    }


def _arm(a1111: Emulator, **fault: Any) -> None:
    httpx.post(a1111.admin + "/faults", json=fault, timeout=10).raise_for_status()


@pytest.mark.usefixtures("celery_worker")
def test_a_job_is_routed_to_its_checkpoints_queue_and_get_returns_the_job(job_store: JobStore) -> None:
    result = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=2, width=64, height=64,
                           batch_size=2, seed=7)  # fmt: skip

    job = result.get(timeout=60)

    assert job["id"] == result.id and job["status"] == JobStatus.SUCCEEDED
    assert [(image["index"], image["seed"]) for image in job["images"]] == [(0, 7), (1, 8)]
    assert job_store.get(uuid.UUID(result.id)).queue == QUEUE
    assert [a["worker"] for a in job["attempt_history"]] == [f"inproc@{socket.gethostname()}"]


@pytest.mark.usefixtures("celery_worker")
def test_a_retried_attempt_is_published_again_and_the_job_completes(
    a1111: Emulator, job_store: JobStore
) -> None:
    # Given an A1111 that fails the next generation with an error (backend_unavailable: retried)
    _arm(a1111, kind="http500", error="RuntimeError", message="a flaky card")

    job = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=2, width=64, height=64).get(60)

    stored = job_store.get(uuid.UUID(job["id"]))
    assert stored.status == JobStatus.SUCCEEDED
    assert [(a.outcome, a.category) for a in stored.attempts] == [
        (AttemptOutcome.RETRIED, FailureCategory.BACKEND_UNAVAILABLE),
        (AttemptOutcome.SUCCEEDED, None),
    ]


@pytest.mark.usefixtures("celery_worker")
def test_a_message_for_an_unknown_job_is_dropped(worker_settings: WorkerSettings) -> None:
    unknown = str(uuid.uuid4())
    publish_job(unknown, QUEUE)
    # A job submitted after it runs, so the unknown one has been consumed by then
    txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=2, width=64, height=64).get(60)

    # Dropped with Ignore: acknowledged (gone from the queue and the unacked hash), no job made up for it
    with pytest.raises(JobNotFound):
        txt2img.AsyncResult(unknown).get(timeout=1)
    assert worker_settings.redis_url is not None
    client = redis.Redis.from_url(worker_settings.redis_url)
    try:
        assert client.llen(QUEUE) == 0
        assert not any(unknown.encode() in raw for raw in client.hvals("unacked"))
    finally:
        client.close()


@pytest.mark.usefixtures("celery_worker")
def test_a_second_delivery_of_a_finished_job_returns_the_stored_result(job_store: JobStore) -> None:
    first = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=2, width=64, height=64)
    done = first.get(timeout=60)

    publish_job(first.id, QUEUE)
    again = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=2, width=64, height=64)
    again.get(timeout=60)  # the duplicate was consumed before this one

    stored = job_store.get(uuid.UUID(first.id))
    assert stored.attempt == 1 and [i.sha256 for i in stored.images] == [i["sha256"] for i in done["images"]]


@pytest.mark.usefixtures("celery_worker")
def test_a_job_tells_its_stream_and_its_attempt_timeline_what_it_did(
    a1111: Emulator, job_store: JobStore
) -> None:
    # Given steps slow enough for the worker's progress polls to see them
    _arm(a1111, kind="slow", factor=5000)

    job = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", steps=12, width=64, height=64).get(60)

    events = producer_context().events.read(job["id"])
    kinds = [event.kind for event in events]
    assert kinds[0] is EventKind.STARTED and kinds[-1] is EventKind.SUCCEEDED
    progress = [event.data for event in events if event.kind is EventKind.PROGRESS]
    assert progress and all(p["steps"] == 12 and p["images"] == 1 for p in progress)
    assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)
    timeline = job_store.get(uuid.UUID(job["id"])).attempts[0].timings["timeline"]
    assert [entry["event"] for entry in timeline][:1] == ["started"]
    assert {"progress", "generated", "stored"} <= {entry["event"] for entry in timeline}
    assert [entry["t"] for entry in timeline] == sorted(entry["t"] for entry in timeline)
