"""The JSON form of a job, shared by the HTTP API and the result of `txt2img.delay(...).get()`."""

from __future__ import annotations

from typing import Any

from worker.store.models import Job


def job_view(job: Job, *, image_url: str | None = None) -> dict[str, Any]:
    """`image_url` is a format string with `{job_id}` and `{index}` (the API's image route), if any."""
    return {
        "id": str(job.id),
        "status": job.status,
        "checkpoint": job.checkpoint,
        "params": job.params,
        "seed": job.seed,
        "batch_size": job.batch_size,
        "attempts": job.attempt,
        "max_attempts": job.max_attempts,
        "worker": job.worker,
        "failure_category": job.failure_category,
        "failure_message": job.failure_message,
        "cancel_requested": job.cancel_requested,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "info": job.info,
        "images": [
            {
                "index": image.index,
                "seed": image.seed,
                "width": image.width,
                "height": image.height,
                "sha256": image.sha256,
                "path": image.storage_path,
                "url": image_url.format(job_id=job.id, index=image.index) if image_url else None,
            }
            for image in job.images
        ],
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
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
