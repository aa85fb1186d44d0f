"""The JSON form of a job, shared by the HTTP API, webhooks and the result of `txt2img.delay(...).get()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.store.models import Job

IMAGE_PATH = "/v1/jobs/{job_id}/images/{index}"  # the API's image route, below its base URL


@dataclass(frozen=True)
class Live:
    """What a job is doing now, from its event stream and the queue: shown while it is not finished."""

    queue_position: int | None = None  # queued jobs ahead of it on its checkpoint's queue
    progress: dict[str, Any] | None = None  # the latest progress event of its current attempt
    eta_s: float | None = None  # A1111's estimate for the running sub-batch

    def as_json(self) -> dict[str, Any]:
        return {"queue_position": self.queue_position, "progress": self.progress, "eta_s": self.eta_s}


def job_view(job: Job, *, image_url: str | None = None, live: Live | None = None) -> dict[str, Any]:
    """`image_url` is a format string with `{job_id}` and `{index}` (the API's image route), if any."""
    view = job_summary(job, image_url=image_url)
    view.update(
        {
            "info": job.info,
            "live": live.as_json() if live is not None else None,
            "attempt_history": [
                {
                    "number": attempt.number,
                    "worker": attempt.worker,
                    "outcome": attempt.outcome,
                    "category": attempt.category,
                    "message": attempt.message,
                    "batch_size": attempt.batch_size,
                    "oom_count": attempt.oom_count,
                    "timings": attempt.timings,
                    "started_at": _iso(attempt.started_at),
                    "finished_at": _iso(attempt.finished_at),
                }
                for attempt in job.attempts
            ],
            "webhooks": [
                {
                    "url": delivery.url,
                    "event": delivery.event,
                    "state": delivery.state,
                    "tries": delivery.tries,
                    "log": delivery.log,
                }
                for delivery in job.deliveries
            ],
        }
    )
    return view


def job_summary(job: Job, *, image_url: str | None = None) -> dict[str, Any]:
    """The job without its attempts, A1111's info and webhook log: one entry of a job list."""
    return {
        "id": str(job.id),
        "status": job.status,
        "checkpoint": job.checkpoint,
        "priority": job.priority,
        "params": job.params,
        "seed": job.seed,
        "batch_size": job.batch_size,
        "attempts": job.attempt,
        "max_attempts": job.max_attempts,
        "worker": job.worker,
        "failure_category": job.failure_category,
        "failure_message": job.failure_message,
        "cancel_requested": job.cancel_requested,
        "callback_url": job.callback_url,
        "retry_of": str(job.retry_of) if job.retry_of else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "images": [
            {
                "index": image.index,
                "seed": image.seed,
                "width": image.width,
                "height": image.height,
                "sha256": image.sha256,
                "path": image.storage_path,
                "url": image_url.format(job_id=job.id, index=image.index) if image_url else None,
                "quality_score": image.quality_score,  # None: stored before scores existed
                "low_quality": image.low_quality,
                "quality": image.quality,  # the score's parts, measures and formula version
            }
            for image in job.images
        ],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
