"""The output-quality score in a real run: Celery's in-process worker (this process) driving a stand-in
process, on the suite's Redis and Postgres. Every stored image carries its score; an image below the
floor is kept and flagged, or (when the operator asks) its job is retried once; the attempt's timeline
shows the scoring, encoding and storing; the hourly rollup counts it all in the job's final transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.inprocess import attached_worker
from tests.helpers.processes import Emulator, Processes
from worker.celery_app import app
from worker.context import producer_context
from worker.jobs.queues import lane_queue
from worker.settings import WorkerSettings
from worker.store.jobs import JobStore
from worker.store.models import QualityHour
from worker.tasks import txt2img
from worker.vocabulary import AttemptOutcome, EventKind, FailureCategory, JobStatus, Lane

SDXL = "jib_mix_illustrious_realistic_v2"
QUEUES = [lane_queue("deliberate_v6", Lane.BATCH), lane_queue(SDXL, Lane.BATCH)]  # delay() submits batch
SMALL = {"steps": 2, "width": 64, "height": 64}


@pytest.fixture
def a1111(processes: Processes, models_volume: Path) -> Emulator:
    return processes.emulator(models_volume, "deliberate_v6.safetensors")


@pytest.fixture
def worker_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def worker_settings(
    a1111: Emulator, sdfleet_env: dict[str, str], worker_overrides: dict[str, Any]
) -> Iterator[WorkerSettings]:
    with attached_worker(a1111.url, ["deliberate_v6", SDXL], **worker_overrides) as settings:
        yield settings


@pytest.fixture
def celery_app(worker_settings: WorkerSettings) -> Celery:
    return app


@pytest.fixture
def celery_worker_parameters(worker_settings: WorkerSettings) -> dict[str, Any]:
    return {
        "queues": QUEUES,
        "perform_ping_check": False,
        "shutdown_timeout": 30.0,
        "hostname": worker_settings.node_name,  # a worker's node name is its settings' (worker_init checks)
    }


def _noisy_images(a1111: Emulator, times: int) -> None:
    response = httpx.post(a1111.admin + "/faults", json={"kind": "noisy_image", "times": times}, timeout=10)
    response.raise_for_status()


def _rollup(sessions: sessionmaker[Session], **key: str) -> list[QualityHour]:
    with sessions() as session:
        query = select(QualityHour).where(*(getattr(QualityHour, k) == v for k, v in key.items()))
        return list(session.scalars(query))


@pytest.mark.usefixtures("celery_worker")
def test_every_image_is_scored_stored_and_shown_and_the_timeline_says_how_long_each_step_took(
    job_store: JobStore, pg_sessions: sessionmaker[Session]
) -> None:
    prompt = f"a kite {uuid.uuid4().hex[:6]}"
    job = txt2img.delay(
        prompt=prompt, checkpoint=SDXL, loras=[{"name": "detail_tweaker_xl", "weight": 0.8}],
        sampler="Euler a", batch_size=2, seed=11, output_format="webp", **SMALL,
    ).get(timeout=60)  # fmt: skip

    assert job["status"] == JobStatus.SUCCEEDED
    for image in job["images"]:
        assert image["quality_score"] is not None and image["quality_score"] >= 0.5
        assert image["low_quality"] is False
        assert set(image["quality"]["parts"]) == {"sharpness", "noise", "contrast", "exposure", "flatness",
                                                  "colour"}  # fmt: skip
    stored = job_store.get(uuid.UUID(job["id"]))
    assert [i.quality_score for i in stored.images] == [i["quality_score"] for i in job["images"]]
    timeline = stored.attempts[0].timings["timeline"]
    events = [entry["event"] for entry in timeline]
    assert events[0] == "started"
    assert events.index("loras") < events.index("generated") < events.index("scored")
    assert events.index("scored") < events.index("encoded") < events.index("stored")
    loras = timeline[events.index("loras")]
    assert loras["loras"] == [{"name": "detail_tweaker_xl", "weight": 0.8}] and loras["first_call_s"] > 0
    assert timeline[events.index("encoded")]["output_format"] == "webp"
    assert timeline[events.index("scored")]["scores"] == [i["quality_score"] for i in job["images"]]
    # The scores also went to the job's event stream (live, and for the worker's metrics)
    streamed = [e.data for e in producer_context().events.read(job["id"]) if e.kind is EventKind.SCORED]
    assert [d["scores"] for d in streamed] == [[i["quality_score"] for i in job["images"]]]
    # The rollup counted the job, its images and their scores in the job's own transaction
    (row,) = _rollup(pg_sessions, checkpoint=SDXL, loras="detail_tweaker_xl", sampler="Euler a",
                     resolution="64x64", status="succeeded")  # fmt: skip
    assert row.jobs >= 1 and row.images == 2 * row.jobs and row.scored_images == row.images
    assert row.score_sum >= sum(i["quality_score"] for i in job["images"]) - 1e-9


@pytest.mark.usefixtures("celery_worker")
def test_an_image_below_the_floor_is_kept_and_flagged(
    a1111: Emulator, job_store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an A1111 whose next images are still half noise, and the default floor without retries
    _noisy_images(a1111, times=1)

    with caplog.at_level(logging.WARNING, logger="worker.run.runner"):
        job = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", seed=3, **SMALL).get(timeout=60)

    # Then the job succeeds with its image kept, flagged low_quality, its weakest part named in the log
    assert job["status"] == JobStatus.SUCCEEDED
    (image,) = job["images"]
    assert image["low_quality"] is True and image["quality_score"] < 0.5
    assert image["quality"]["parts"]["noise"] < 0.5
    assert [a["outcome"] for a in job["attempt_history"]] == [AttemptOutcome.SUCCEEDED]
    assert any(
        "below the quality floor 0.50; kept and flagged low_quality" in r.getMessage()
        and "weakest part: noise" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("worker_overrides", [{"quality_retry": True}])
@pytest.mark.usefixtures("celery_worker")
def test_with_quality_retry_a_low_score_is_retried_once(a1111: Emulator, job_store: JobStore) -> None:
    # Given retries of low scores, and two requests' worth of noisy images: the first job's attempt
    _noisy_images(a1111, times=1)
    retried = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", seed=5, **SMALL).get(timeout=60)

    # Then its first attempt is handed back as low_quality and the second one's image is kept, clean
    assert [(a["outcome"], a["category"]) for a in retried["attempt_history"]] == [
        (AttemptOutcome.RETRIED, FailureCategory.LOW_QUALITY),
        (AttemptOutcome.SUCCEEDED, None),
    ]
    assert "below the quality floor" in retried["attempt_history"][0]["message"]
    assert retried["images"][0]["low_quality"] is False

    # When both attempts of a job get noisy images
    _noisy_images(a1111, times=2)
    kept = txt2img.delay(prompt="a kite", checkpoint="deliberate_v6", seed=6, **SMALL).get(timeout=60)

    # Then the retry is not repeated: the second attempt's image is kept, flagged
    assert kept["status"] == JobStatus.SUCCEEDED
    assert [a["outcome"] for a in kept["attempt_history"]] == [
        AttemptOutcome.RETRIED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert kept["images"][0]["low_quality"] is True
