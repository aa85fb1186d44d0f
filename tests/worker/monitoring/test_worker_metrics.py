"""A worker's counters from the attempts it made: each attempt counted once, labels bounded."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from worker.fleet.gpu import GpuReading
from worker.monitoring.worker_metrics import WorkerMetrics, resolution_label

ME = "gpu0@h"


def _job(
    status: str, attempts: list[dict[str, Any]], images: int = 0, category: str | None = None
) -> dict[str, Any]:
    return {
        "id": "11111111-1111-1111-1111-111111111111",
        "status": status,
        "checkpoint": "deliberate_v6",
        "failure_category": category,
        "params": {"width": 512, "height": 768},
        "images": [{}] * images,
        "attempt_history": attempts,
    }


def _attempt(number: int, outcome: str, worker: str = ME, **extra: Any) -> dict[str, Any]:
    return {"number": number, "worker": worker, "outcome": outcome, "finished_at": "t", **extra}


def _value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"worker": ME, **labels})


def test_a_retried_then_successful_job_is_counted_attempt_by_attempt() -> None:
    metrics = WorkerMetrics(ME)
    calls = [{"outcome": "oom", "s": 0.5}, {"outcome": "ok", "s": 1.5}, {"outcome": "ok", "s": 2.0}]
    retried = _job("queued", [_attempt(1, "retried", category="timeout")])
    done = _job(
        "succeeded",
        [
            _attempt(1, "retried", category="timeout"),
            _attempt(2, "succeeded", oom_count=1, timings={"sub_batches": calls}),
        ],
        images=4,
    )
    for job in (retried, done, done):  # the second `done`: a duplicate delivery of a finished job
        metrics.observe_job(job)
    assert _value(metrics, "sdfleet_retries_total", category="timeout") == 1
    assert _value(metrics, "sdfleet_attempts_total", outcome="succeeded", category="") == 1
    assert _value(metrics, "sdfleet_jobs_finished_total", status="succeeded", category="") == 1
    assert _value(metrics, "sdfleet_images_total", checkpoint="deliberate_v6") == 4
    assert _value(metrics, "sdfleet_oom_events_total", checkpoint="deliberate_v6") == 1
    generation = {"checkpoint": "deliberate_v6", "resolution": "0.5MP"}
    assert _value(metrics, "sdfleet_generation_seconds_sum", **generation) == 3.5
    assert _value(metrics, "sdfleet_generation_seconds_count", **generation) == 1


def test_another_workers_attempt_is_not_counted_here() -> None:
    metrics = WorkerMetrics(ME)
    metrics.observe_job(
        _job("failed", [_attempt(1, "failed", worker="gpu1@h", category="oom")], category="oom")
    )
    assert b"sdfleet_jobs_finished_total{" not in generate_latest(metrics.registry)


def test_gpu_figures_and_loads() -> None:
    metrics = WorkerMetrics(ME)
    metrics.set_gpu("rtx", GpuReading(50.0, 70.0, None, None, 300.0), vram_used_mb=1024.0, vram_total_mb=None)
    metrics.checkpoint_loaded("jib", 2.5)
    assert _value(metrics, "sdfleet_gpu_vram_used_bytes", gpu="rtx") == 1024 * 1024 * 1024
    assert _value(metrics, "sdfleet_gpu_vram_total_bytes", gpu="rtx") is None
    assert _value(metrics, "sdfleet_gpu_temperature_celsius", gpu="rtx") == 70.0
    assert _value(metrics, "sdfleet_checkpoint_loads_total", checkpoint="jib") == 1


@pytest.mark.parametrize(
    ("width", "height", "label"),
    [(64, 64, "0.25MP"), (512, 512, "0.25MP"), (1024, 1024, "1MP"), (2048, 2048, "4.25MP")],
)
def test_resolution_labels_are_bounded(width: int, height: int, label: str) -> None:
    assert resolution_label(width, height) == label
