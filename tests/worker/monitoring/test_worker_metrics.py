"""A worker's metrics and presence from its own job events: each event counted once, labels bounded."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from worker.fleet.gpu import GpuReading
from worker.monitoring.observe import FleetObserver
from worker.monitoring.worker_metrics import WorkerMetrics, resolution_label
from worker.vocabulary import EventKind

ME = "gpu0@h"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Presence:
    """What the observer tells a worker's presence (the real one publishes to Redis)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def job_started(self, job_id: str) -> None:
        self.calls.append(("started", job_id))

    def job_finished(self, images: int) -> None:
        self.calls.append(("finished", images))

    def loaded(self) -> None:
        self.calls.append(("loaded", None))

    def load_failed(self) -> None:
        self.calls.append(("load_failed", None))

    def checkpoint_name(self, title: str) -> str:
        return title.split(".")[0]


def _value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"worker": ME, **labels})


def test_a_retried_then_successful_job_is_counted_event_by_event() -> None:
    metrics, presence, clock = WorkerMetrics(ME), Presence(), Clock()
    observe = FleetObserver(metrics, presence, clock=clock)
    started = {"checkpoint": "deliberate_v6", "width": 512, "height": 768}
    observe("j1", EventKind.STARTED, started)
    observe("j1", EventKind.RETRY, {"category": "timeout"})
    observe("j1", EventKind.STARTED, started)
    clock.now += 1.0
    observe(
        "j1",
        EventKind.CHECKPOINT,
        {"previous": "x", "title": "deliberate_v6.safetensors [ab]", "seconds": 2.0},
    )
    observe("j1", EventKind.OOM, {"batch_size": 4, "next_batch_size": 2})
    observe("j1", EventKind.SCORED, {"first_index": 0, "scores": [0.97, 0.42], "low_quality": [1]})
    clock.now += 5.0
    observe("j1", EventKind.SUCCEEDED, {"images": 4})
    assert _value(metrics, "sdfleet_retries_total", category="timeout") == 1
    assert _value(metrics, "sdfleet_attempts_total", outcome="succeeded", category="") == 1
    assert _value(metrics, "sdfleet_jobs_finished_total", status="succeeded", category="") == 1
    assert _value(metrics, "sdfleet_images_total", checkpoint="deliberate_v6") == 4
    assert _value(metrics, "sdfleet_oom_events_total", checkpoint="deliberate_v6") == 1
    assert _value(metrics, "sdfleet_checkpoint_loads_total", checkpoint="deliberate_v6") == 1
    scores = {"checkpoint": "deliberate_v6"}
    assert _value(metrics, "sdfleet_image_quality_score_count", **scores) == 2
    assert _value(metrics, "sdfleet_image_quality_score_bucket", le="0.5", **scores) == 1
    assert _value(metrics, "sdfleet_image_quality_score_sum", **scores) == pytest.approx(1.39)
    generation = {"checkpoint": "deliberate_v6", "resolution": "0.5MP"}
    assert _value(metrics, "sdfleet_generation_seconds_sum", **generation) == 4.0  # 6 s less the 2 s load
    assert presence.calls == [
        ("started", "j1"),
        ("finished", 0),
        ("started", "j1"),
        ("loaded", None),
        ("finished", 4),
    ]


def test_a_job_that_could_not_load_its_model_fails_the_model_status() -> None:
    metrics, presence = WorkerMetrics(ME), Presence()
    observe = FleetObserver(metrics, presence)
    observe("j2", EventKind.STARTED, {"checkpoint": "gone", "width": 512, "height": 512})
    observe("j2", EventKind.FAILED, {"category": "model_not_found", "message": "not listed"})
    assert _value(metrics, "sdfleet_jobs_finished_total", status="failed", category="model_not_found") == 1
    assert presence.calls[-2:] == [("load_failed", None), ("finished", 0)]
    assert b"sdfleet_images_total{" not in generate_latest(metrics.registry)


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
