"""The documents the API returns, as pydantic models: they are the OpenAPI schema of the responses and
the typed results of the Python client (`worker.client`), so both read one definition.

Unknown keys are kept (`extra="allow"`): a newer server may add fields an older client ignores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageRef(Document):
    index: int
    seed: int
    width: int
    height: int
    sha256: str
    path: str = Field(description="Under the result directory")
    url: str | None = Field(default=None, description="GET it with the API key")
    quality_score: float | None = Field(
        default=None, description="Output-quality score, 0–1 (docs/quality.md); null for older images"
    )
    low_quality: bool = Field(default=False, description="The score fell below the worker's quality floor")
    quality: dict[str, Any] | None = Field(
        default=None, description="The score's parts and measures, and the formula's version"
    )


class AttemptRecord(Document):
    number: int
    worker: str
    outcome: str
    category: str | None = None
    message: str | None = None
    batch_size: int
    oom_count: int = 0
    timings: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class WebhookTry(Document):
    try_: int = Field(alias="try")
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    retry_in_s: float | None = None


class WebhookRecord(Document):
    url: str
    event: str
    state: str = Field(description="pending, delivered or failed")
    tries: int
    log: list[WebhookTry] = Field(default_factory=list)


class LiveFigures(Document):
    queue_position: int | None = Field(default=None, description="Queued jobs ahead on its queue")
    progress: dict[str, Any] | None = Field(
        default=None, description="Latest progress event: step, steps, fraction, eta_s, images_done, images"
    )
    eta_s: float | None = None


class JobSummary(Document):
    """One job as a list shows it."""

    id: str
    status: str
    checkpoint: str
    params: dict[str, Any]
    seed: int
    batch_size: int
    attempts: int
    max_attempts: int
    worker: str | None = None
    failure_category: str | None = None
    failure_message: str | None = None
    cancel_requested: bool = False
    callback_url: str | None = None
    retry_of: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    images: list[ImageRef] = Field(default_factory=list)


class JobDocument(JobSummary):
    """A job with everything: attempts, A1111's info, webhook deliveries, and what it does now."""

    info: dict[str, Any] | None = None
    live: LiveFigures | None = Field(default=None, description="While queued or running")
    attempt_history: list[AttemptRecord] = Field(default_factory=list)
    webhooks: list[WebhookRecord] = Field(default_factory=list)


class Accepted(Document):
    """The answer to a submission or a retry."""

    id: str
    status: str
    url: str


class JobList(Document):
    jobs: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class HourCount(Document):
    hour: datetime
    images: int
    jobs: int


class QueueFigures(Document):
    checkpoint: str
    queued: int
    running: int
    oldest_wait_s: float | None = None


class StatsDocument(Document):
    hours: int = Field(description="The window of the counts, ending now")
    by_status: dict[str, int]
    by_category: dict[str, int]
    images_per_hour: list[HourCount]
    success_rate: float | None = Field(description="succeeded / (succeeded + failed) in the window")
    queues: list[QueueFigures] = Field(description="Per checkpoint, now, fleet-wide")


class Problem(Document):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class ErrorDocument(Document):
    """Every 4xx and 5xx body: a category, a message, and for a 422 the problems, field by field."""

    error: str
    message: str
    detail: list[Problem] | None = None
