"""A GPU worker's own Prometheus metrics, kept by the process that sees the events (its pool child).

Each worker serves them on its own port (`SDFLEET_METRICS_PORT`; compose scrapes every worker). A worker
runs one pool process (`-c 1`), so one registry in that process holds everything and no multiprocess
collection is needed; when Celery replaces the pool process its counters start again from zero, which
Prometheus' `rate()` and `increase()` treat as the counter reset it is.

Metrics are built per process (`WorkerMetrics(...)`), never at import time.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from worker.fleet.gpu import GpuReading

log = logging.getLogger(__name__)
MIB = 1024 * 1024
GENERATION_BUCKETS_S = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
LOAD_BUCKETS_S = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
# The output-quality score is 0–1; the default floor is 0.5, and good images crowd near 1
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def resolution_label(width: int, height: int) -> str:
    """Megapixels in quarter steps ("0.25MP", "1.0MP", …): a bounded label, whatever sizes callers ask."""
    return f"{max(0.25, round(width * height / 1e6 * 4) / 4):g}MP"


class WorkerMetrics:
    """Counters, histograms and gauges of one worker; `worker` (its node name) labels every series."""

    def __init__(self, worker: str, *, registry: CollectorRegistry | None = None) -> None:
        self.worker = worker
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs_finished = Counter(
            "sdfleet_jobs_finished",
            "Jobs this worker brought to a final status",
            ["worker", "status", "category"],
            registry=r,
        )
        self.attempts = Counter(
            "sdfleet_attempts", "Attempts by how they ended", ["worker", "outcome", "category"], registry=r
        )
        self.retries = Counter(
            "sdfleet_retries",
            "Attempts handed back to be retried, by failure category",
            ["worker", "category"],
            registry=r,
        )
        self.images = Counter("sdfleet_images", "Images stored", ["worker", "checkpoint"], registry=r)
        self.generation = Histogram(
            "sdfleet_generation_seconds",
            "Seconds of a successful attempt, claim to images stored, checkpoint loads excluded",
            ["worker", "checkpoint", "resolution"],
            buckets=GENERATION_BUCKETS_S,
            registry=r,
        )
        self.ooms = Counter(
            "sdfleet_oom_events", "CUDA OOMs met by attempts", ["worker", "checkpoint"], registry=r
        )
        self.loads = Counter(
            "sdfleet_checkpoint_loads",
            "Checkpoint switches this worker made A1111 do",
            ["worker", "checkpoint"],
            registry=r,
        )
        self.load_seconds = Histogram(
            "sdfleet_checkpoint_load_seconds",
            "How long a checkpoint switch took",
            ["worker", "checkpoint"],
            buckets=LOAD_BUCKETS_S,
            registry=r,
        )
        self.quality = Histogram(
            "sdfleet_image_quality_score",
            "Output-quality score (0-1) of the images this worker scored, by checkpoint (docs/quality.md)",
            ["worker", "checkpoint"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.vram_used = Gauge(
            "sdfleet_gpu_vram_used_bytes", "VRAM in use (A1111)", ["worker", "gpu"], registry=r
        )
        self.vram_total = Gauge(
            "sdfleet_gpu_vram_total_bytes", "VRAM of the card (A1111)", ["worker", "gpu"], registry=r
        )
        self.utilization = Gauge(
            "sdfleet_gpu_utilization_percent",
            "GPU utilisation (NVML or dcgm-exporter)",
            ["worker", "gpu"],
            registry=r,
        )
        self.temperature = Gauge(
            "sdfleet_gpu_temperature_celsius",
            "GPU temperature (NVML or dcgm-exporter)",
            ["worker", "gpu"],
            registry=r,
        )
        self.power = Gauge("sdfleet_gpu_power_watts", "GPU power draw", ["worker", "gpu"], registry=r)
        self.busy = Gauge("sdfleet_worker_busy", "1 while the worker runs a job", ["worker"], registry=r)

    def serve(self, port: int) -> None:
        """Serve `/metrics` on `port` from a thread of this process. A port still held (by the pool
        process this one replaces, on its way out) is logged, not raised: the worker runs without it."""
        try:
            start_http_server(port, registry=self.registry)
        except OSError as exc:
            log.error("metrics of %s not served on :%s: %s", self.worker, port, exc)
            return
        log.info("metrics of %s on :%s/metrics", self.worker, port)

    def scored(self, checkpoint: str, scores: list[float]) -> None:
        """Images this worker scored (whether or not their job goes on to succeed)."""
        for score in scores:
            self.quality.labels(self.worker, checkpoint).observe(score)

    def succeeded(self, checkpoint: str, resolution: str, images: int, seconds: float) -> None:
        """A job this worker finished with `images`, after `seconds` of work (checkpoint loads excluded)."""
        w = self.worker
        self.attempts.labels(w, "succeeded", "").inc()
        self.jobs_finished.labels(w, "succeeded", "").inc()
        self.images.labels(w, checkpoint).inc(images)
        self.generation.labels(w, checkpoint, resolution).observe(max(0.0, seconds))

    def ended(self, status: str, category: str) -> None:
        """A job this worker ended without images: `failed` or `cancelled`, with its category."""
        self.attempts.labels(self.worker, status, category).inc()
        self.jobs_finished.labels(self.worker, status, category).inc()

    def retried(self, category: str) -> None:
        """An attempt handed back to be retried (the job is queued again)."""
        self.attempts.labels(self.worker, "retried", category).inc()
        self.retries.labels(self.worker, category).inc()

    def oom(self, checkpoint: str) -> None:
        self.ooms.labels(self.worker, checkpoint).inc()

    def checkpoint_loaded(self, checkpoint: str, seconds: float) -> None:
        self.loads.labels(self.worker, checkpoint).inc()
        self.load_seconds.labels(self.worker, checkpoint).observe(seconds)

    def set_gpu(
        self, gpu: str, reading: GpuReading | None, vram_used_mb: float | None, vram_total_mb: float | None
    ) -> None:
        for gauge, value in (
            (self.vram_used, vram_used_mb * MIB if vram_used_mb is not None else None),
            (self.vram_total, vram_total_mb * MIB if vram_total_mb is not None else None),
            (self.utilization, reading.utilization_pct if reading else None),
            (self.temperature, reading.temperature_c if reading else None),
            (self.power, reading.power_w if reading else None),
        ):
            if value is not None:
                gauge.labels(self.worker, gpu).set(value)

    def set_busy(self, busy: bool) -> None:
        self.busy.labels(self.worker).set(1 if busy else 0)
