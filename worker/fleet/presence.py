"""A GPU worker's pool process tells the fleet what it sees: its A1111, its job, its GPU.

`Presence` publishes its part of the worker's record (`state.py`) every `heartbeat_s` from a thread of
its own, and at once when a job starts or ends or a checkpoint switch ends (it hears of them from the
worker's job events: `worker.monitoring.observe`). The same thread
notices when the main process has started draining and its grace period has run out (`drain`): the
runner then interrupts the job in A1111 and hands it back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import redis

from worker.a1111.client import A1111Client
from worker.errors import BackendError, SdfleetError
from worker.fleet import state
from worker.fleet.gpu import DcgmProbe, GpuProbe, GpuReading, gpu_probe
from worker.fleet.state import ModelStatus
from worker.monitoring.worker_metrics import WorkerMetrics
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)
MIB = 1024 * 1024


class Presence:
    """The pool process's part of one worker's published state. Events may come from any thread."""

    def __init__(
        self,
        settings: WorkerSettings,
        client: redis.Redis,
        a1111: A1111Client,
        *,
        gpu: GpuProbe | None,
        metrics: WorkerMetrics,
        healthy: Callable[[], bool],
        capacity: Callable[[], list[dict[str, Any]]],
        checkpoint_name: Callable[[str], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.node = settings.node_name
        self.drain = threading.Event()  # set once the drain grace has run out: hand the job back
        self._redis = client
        self._a1111 = a1111
        self._gpu = gpu
        self._metrics = metrics
        self._healthy = healthy
        self._capacity = capacity
        self._checkpoint_name = checkpoint_name
        self._clock = clock
        self._lock = threading.Lock()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._job: str | None = None
        self._job_started_at: float | None = None
        self._idle_since = clock()
        self._jobs_done = 0
        self._images_done = 0
        self._load_failed = False

    # Events (the task's thread) -------------------------------------------------------------------

    def job_started(self, job_id: str) -> None:
        with self._lock:
            self._job, self._job_started_at = job_id, self._clock()
        self._metrics.set_busy(True)
        self._kick.set()

    def job_finished(self, images: int) -> None:
        with self._lock:
            self._job = self._job_started_at = None
            self._idle_since = self._clock()
            self._jobs_done += 1
            self._images_done += images
        self._metrics.set_busy(False)
        self._kick.set()

    def loaded(self) -> None:
        """A checkpoint switch ended: publish the new checkpoint now."""
        with self._lock:
            self._load_failed = False
        self._kick.set()

    def load_failed(self) -> None:
        """A job ended because its checkpoint could not be loaded."""
        with self._lock:
            self._load_failed = True
        self._kick.set()

    def checkpoint_name(self, title: str) -> str:
        return self._checkpoint_name(title)

    # The publishing thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sdfleet-presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop publishing and close its connections (the main process marks the worker stopped)."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._a1111.close()
        self._redis.close()
        if isinstance(self._gpu, DcgmProbe):
            self._gpu.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish()
            except Exception:  # the heartbeat must outlive a Redis or A1111 outage
                log.exception("publishing the worker's state failed; trying again")
            self._kick.wait(self.settings.heartbeat_s)
            self._kick.clear()

    def publish(self) -> None:
        """One heartbeat: look at A1111 and the GPU, write the record, look for a drain deadline."""
        fields = self._fields()
        state.write(self._redis, self.node, fields, self.settings.worker_offline_after_s)
        deadline = self._redis.hget(state.worker_key(self.node), "drain_deadline")
        if deadline and self._clock() >= float(deadline):
            if not self.drain.is_set():
                log.warning("the drain grace has run out: the running job is handed back")
            self.drain.set()

    def _fields(self) -> dict[str, str]:
        s = self.settings
        with self._lock:
            job, job_started_at, idle_since = self._job, self._job_started_at, self._idle_since
            jobs_done, images_done = self._jobs_done, self._images_done
            load_failed = self._load_failed
        loaded_title, vram_used_mb, vram_total_mb = self._look_at_a1111()
        reading = self._gpu.read() if self._gpu is not None else None
        self._metrics.set_gpu(s.gpu_key, reading, vram_used_mb, vram_total_mb)
        if loaded_title is None:
            status = ModelStatus.LOADING
        elif load_failed:
            status = ModelStatus.FAILED
        else:
            status = ModelStatus.LOADED
        fields = {
            "host": s.host_name,
            "gpu_index": str(s.gpu_index),
            "gpu_label": s.gpu_key,
            "serves": json.dumps(list(s.checkpoints)),
            "child_seen_at": f"{self._clock():.3f}",
            "ready": "1" if loaded_title is not None else "0",
            "healthy": "1" if self._healthy() else "0",
            "model_status": status.value,
            "checkpoint": self._checkpoint_name(loaded_title) if loaded_title else "",
            "job": job or "",
            "job_started_at": f"{job_started_at:.3f}" if job_started_at else "",
            "idle_since": "" if job else f"{idle_since:.3f}",
            "jobs_done": str(jobs_done),
            "images_done": str(images_done),
            "capacity": json.dumps(self._capacity()),
            "metrics_port": str(s.metrics_port) if s.metrics_port else "",
        }
        fields.update(_gpu_fields(reading, vram_used_mb, vram_total_mb))
        return fields

    def _look_at_a1111(self) -> tuple[str | None, float | None, float | None]:
        """(loaded checkpoint title, VRAM used, VRAM total) from A1111; Nones when it does not answer."""
        try:
            title = self._a1111.options().get("sd_model_checkpoint")
            system = (self._a1111.memory().get("cuda") or {}).get("system") or {}
        except BackendError:
            return None, None, None
        used, total = system.get("used"), system.get("total")
        return (
            str(title) if title else None,
            used / MIB if isinstance(used, int | float) else None,
            total / MIB if isinstance(total, int | float) else None,
        )


def _gpu_fields(reading: GpuReading | None, used_mb: float | None, total_mb: float | None) -> dict[str, str]:
    def text(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else ""

    return {
        "vram_used_mb": text(used_mb),
        "vram_total_mb": text(total_mb),
        "gpu_utilization_pct": text(reading.utilization_pct if reading else None),
        "gpu_temperature_c": text(reading.temperature_c if reading else None),
        "gpu_power_w": text(reading.power_w if reading else None),
    }


def checkpoint_namer(served: dict[str, str]) -> Callable[[str], str]:
    """Maps an A1111 title ('deliberate_v6.safetensors [a1b2]') to a checkpoint name, by the file stems
    of the `served` checkpoints ({name: filename}); an unknown title gives its file stem."""
    by_stem = {PurePath(filename).stem: name for name, filename in served.items()}

    def name(title: str) -> str:
        stem = PurePath(title.split(" [")[0]).stem
        return by_stem.get(stem, stem)

    return name


def build_presence(
    settings: WorkerSettings,
    *,
    healthy: Callable[[], bool],
    capacity: Callable[[], list[dict[str, Any]]],
    checkpoint_file: Callable[[str], Any],
    metrics: WorkerMetrics,
) -> Presence:
    """A worker's presence from its settings: its own Redis connection and A1111 client (short
    timeouts; the heartbeat never waits behind a generation)."""
    served = {}
    for name in settings.checkpoints:
        try:
            served[name] = str(checkpoint_file(name).filename)
        except SdfleetError:
            served[name] = name
    return Presence(
        settings,
        redis.Redis.from_url(settings.redis_url or "", socket_timeout=2, socket_connect_timeout=2),
        A1111Client(settings.a1111_url, request_timeout_s=5.0, connect_timeout_s=2.0),
        gpu=gpu_probe(settings.gpu_index, settings.gpu_metrics_url),
        metrics=metrics,
        healthy=healthy,
        capacity=capacity,
        checkpoint_name=checkpoint_namer(served),
    )
