"""The records that cross the job store's boundary: what is written, what a claim returns, what the
sweeper sees. Plain values; the store turns them into rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from worker.vocabulary import JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewJob:
    """A validated, resolved job ready to be recorded."""

    checkpoint: str
    queue: str
    params: dict[str, Any]
    seed: int
    batch_size: int
    max_attempts: int
    owner: str | None = None
    idempotency_key: str | None = None
    callback_url: str | None = None  # POSTed the job when it ends; checked by the SSRF guard first
    retry_of: uuid.UUID | None = None  # the failed or cancelled job this one retries
    priority: str = "batch"  # a Lane value; `queue` is that lane's queue


class JobRef(NamedTuple):
    """A recorded job, as far as its submitter needs to know it."""

    id: uuid.UUID
    queue: str
    checkpoint: str


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a job: its attempt number guards every later write."""

    job_id: uuid.UUID
    attempt: int
    checkpoint: str
    queue: str
    params: dict[str, Any]
    seed: int
    batch_size: int
    max_attempts: int
    previous_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobEnd:
    """A job that has just ended, as the statement that ended it returned it."""

    job_id: uuid.UUID
    owner: str | None
    checkpoint: str
    status: JobStatus
    category: str | None
    callback_url: str | None
    params: dict[str, Any]  # what it ran: the quality rollup's dimensions
    attempts: int  # how many attempts it took


class ExpiredLease(NamedTuple):
    """A running job whose worker stopped renewing its lease."""

    job_id: uuid.UUID
    attempt: int
    queue: str


class LeaseExpiry(StrEnum):
    """What `expire_lease` did."""

    HANDED_BACK = "handed_back"  # the attempt is lost and the job queued again: it needs a new message
    FAILED = "failed"  # the attempt is lost and it was the job's last: the job failed
    SKIPPED = "skipped"  # nothing: renewed, finished or taken over meanwhile, or locked by another sweeper


@dataclass(frozen=True)
class StoredImage:
    """An image written to the result store, ready to be recorded with the job."""

    index: int
    seed: int
    storage_path: str
    width: int
    height: int
    sha256: str
    infotext: str
    quality_score: float | None = None  # the output-quality score (worker.output.quality)
    low_quality: bool = False  # the score fell below the worker's floor: kept, flagged
    quality: dict[str, Any] | None = None  # the score's parts, measures and version


@dataclass
class AttemptReport:
    """What one attempt did, recorded with its outcome."""

    batch_size: int
    oom_count: int = 0
    timings: dict[str, Any] = field(default_factory=dict)
