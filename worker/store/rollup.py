"""The hourly quality rollup (`quality_hourly`): written in the transaction that ends a job, and in the one
that records feedback on one of its images, so the quality statistics never scan the jobs table.

A row counts ended jobs of one hour (of their end), owner and combination — checkpoint, LoRA combination,
preset, sampler, resolution — that ended with one status and category: how many, how many attempts and
OOMs they took, how many images they stored, the sum of those images' scores and how many were below
the floor, and the feedback the images got afterwards (counted in the row of the job's end, so a
window's feedback belongs to the jobs of that window). Every write is one `INSERT … ON CONFLICT DO
UPDATE` adding to the counters, which commutes: concurrent endings never lose a count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.store.models import Attempt, Job, QualityHour
from worker.store.records import JobEnd, StoredImage
from worker.vocabulary import JobStatus

AUTOMATIC = "Automatic"  # the scheduler label that means "the sampler's own": not shown in the name
COUNTERS = (
    "jobs", "attempts", "oom_events", "images", "scored_images", "score_sum", "low_quality_images",
    "ratings", "satisfaction_sum", "thumbs_up", "thumbs_down", "downloads",
)  # fmt: skip
KEY = ("hour", "owner", "checkpoint", "loras", "preset", "sampler", "resolution", "status", "category")


@dataclass(frozen=True)
class Dimensions:
    """What a job ran, as the statistics break it down."""

    checkpoint: str
    loras: str  # the LoRAs' names, sorted, joined by "+"; "" for none (weights are not a dimension)
    preset: str  # "" for none
    sampler: str  # the sampler with its schedule unless it is the sampler's own: "DPM++ 2M Karras"
    resolution: str  # "WIDTHxHEIGHT"


def dimensions(checkpoint: str, params: Mapping[str, Any]) -> Dimensions:
    """The dimensions of a job from its stored params (the migration that added the rollup computes the
    same for jobs that ended before it, in SQL)."""
    names = sorted({str(lora["name"]) for lora in params.get("loras") or []})
    scheduler = params.get("scheduler") or AUTOMATIC
    sampler = str(params.get("sampler") or "")
    return Dimensions(
        checkpoint=checkpoint,
        loras="+".join(names),
        preset=str(params.get("preset") or ""),
        sampler=sampler if scheduler == AUTOMATIC else f"{sampler} {scheduler}",
        resolution=f"{params.get('width')}x{params.get('height')}",
    )


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def count_end(
    connection: Connection | Session, end: JobEnd, images: Sequence[StoredImage], *, now: datetime
) -> None:
    """Count an ended job and its images, in the caller's transaction (after its attempt is recorded:
    the OOMs of all its attempts are summed from their rows)."""
    scored = [image.quality_score for image in images if image.quality_score is not None]
    oom_events = (
        select(func.coalesce(func.sum(Attempt.oom_count), 0))
        .where(Attempt.job_id == end.job_id)
        .scalar_subquery()
    )
    _add(
        connection,
        _key(hour_of(now), end.owner, dimensions(end.checkpoint, end.params), end.status.value, end.category),
        jobs=1,
        attempts=end.attempts,
        oom_events=oom_events,
        images=len(images),
        scored_images=len(scored),
        score_sum=float(sum(scored)),
        low_quality_images=sum(1 for image in images if image.low_quality),
    )


def count_feedback(
    connection: Connection | Session, job: Job, changes: Mapping[str, float], *, now: datetime
) -> None:
    """Add feedback counter `changes` (ratings, satisfaction_sum, thumbs_up, thumbs_down, downloads; a
    changed rating gives negative ones) to the row of succeeded `job`'s end, in the caller's transaction.
    Raises ValueError for another counter."""
    unknown = set(changes) - {"ratings", "satisfaction_sum", "thumbs_up", "thumbs_down", "downloads"}
    if unknown:
        raise ValueError(f"not feedback counters: {sorted(unknown)}")
    if any(changes.values()):
        dims = dimensions(job.checkpoint, job.params)
        key = _key(hour_of(job.finished_at or now), job.owner, dims, JobStatus.SUCCEEDED.value, None)
        _add(connection, key, **changes)


def _key(
    hour: datetime, owner: str | None, dims: Dimensions, status: str, category: str | None
) -> dict[str, Any]:
    return {"hour": hour, "owner": owner or "", **vars(dims), "status": status, "category": category or ""}


def _add(connection: Connection | Session, key: dict[str, Any], **counts: Any) -> None:
    statement = insert(QualityHour).values(**key, **counts)
    table = QualityHour.__table__
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=list(KEY),
            set_={name: table.c[name] + statement.excluded[name] for name in counts},
        )
    )
