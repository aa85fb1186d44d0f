"""A GPU worker hears its own job events (the runner's journal: started, checkpoint, OOM, retry, outcome)
and keeps its metrics and its published presence from them: one place, and no code in the runner.

`ObservedEvents` is the worker's `JobEvents`: every event it writes to a job's stream is first shown to a
`FleetObserver`. An observer's error is logged and never reaches the job.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from worker.events.stream import JobEvents
from worker.fleet.presence import Presence
from worker.monitoring.worker_metrics import WorkerMetrics, resolution_label
from worker.vocabulary import EventKind, FailureCategory

log = logging.getLogger(__name__)
_MODEL_FAILURES = {FailureCategory.MODEL_NOT_FOUND.value, FailureCategory.MODEL_INVALID.value}


@dataclass
class _Running:
    checkpoint: str
    resolution: str
    started: float
    load_s: float = 0.0


class FleetObserver:
    """Turns one worker's job events into its metrics and presence."""

    def __init__(
        self, metrics: WorkerMetrics, presence: Presence, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.metrics = metrics
        self.presence = presence
        self._clock = clock
        self._running: dict[str, _Running] = {}

    def __call__(self, job_id: str, kind: EventKind, data: dict[str, Any]) -> None:
        running = self._running.get(job_id)
        if kind is EventKind.STARTED:
            resolution = resolution_label(int(data.get("width", 512)), int(data.get("height", 512)))
            self._running[job_id] = _Running(str(data.get("checkpoint", "")), resolution, self._clock())
            self.presence.job_started(job_id)
        elif kind is EventKind.CHECKPOINT:
            seconds = float(data.get("seconds", 0.0))
            self.metrics.checkpoint_loaded(self.presence.checkpoint_name(str(data.get("title", ""))), seconds)
            if running is not None:
                running.load_s += seconds
            self.presence.loaded()
        elif kind is EventKind.OOM and running is not None:
            self.metrics.oom(running.checkpoint)
        elif kind is EventKind.SCORED and running is not None:
            self.metrics.scored(running.checkpoint, [float(score) for score in data.get("scores", [])])
        elif kind is EventKind.RETRY:
            self.metrics.retried(str(data.get("category", "")))
            self._end(job_id, images=0, category=data.get("category"))
        elif kind is EventKind.SUCCEEDED:
            images = int(data.get("images", 0))
            if running is not None:
                busy_s = self._clock() - running.started - running.load_s
                self.metrics.succeeded(running.checkpoint, running.resolution, images, busy_s)
            self._end(job_id, images=images, category=None)
        elif kind in (EventKind.FAILED, EventKind.CANCELLED):
            category = str(data.get("category", kind.value))
            self.metrics.ended(kind.value, category)
            self._end(job_id, images=0, category=category)

    def _end(self, job_id: str, *, images: int, category: object) -> None:
        self._running.pop(job_id, None)
        if category in _MODEL_FAILURES:
            self.presence.load_failed()
        self.presence.job_finished(images)


class ObservedEvents(JobEvents):
    """The worker's job events: written to each job's stream, and shown to `observer` first."""

    def __init__(self, client: redis.Redis, observer: FleetObserver, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._observer = observer

    @classmethod
    def from_url(  # type: ignore[override]  # an observer is needed too
        cls, url: str, observer: FleetObserver, *, finished_ttl_s: int = 3600
    ) -> ObservedEvents:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, observer, finished_ttl_s=finished_ttl_s)

    def emit(self, job_id: str | uuid.UUID, kind: EventKind, **data: Any) -> str | None:
        try:
            self._observer(str(job_id), kind, data)
        except Exception:  # metrics and presence must never cost a job
            log.exception("job %s: event %s not observed", job_id, kind)
        return super().emit(job_id, kind, **data)
