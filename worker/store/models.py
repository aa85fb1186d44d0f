"""The Postgres record: jobs, their attempts and their images (SQLAlchemy 2 models).

Statuses and categories are strings guarded by named CHECK constraints, not native enums, so that a
new value is one hand-written migration (see celery-notes §7).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from worker.vocabulary import AttemptOutcome, DeliveryState, FailureCategory, JobStatus, Lane

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Job(Base):
    """One text-to-image request: the source of truth for its status."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JobStatus), name="status"),
        CheckConstraint(
            f"failure_category IS NULL OR {_in('failure_category', FailureCategory)}",
            name="failure_category",
        ),
        CheckConstraint("attempt >= 0", name="attempt_non_negative"),
        CheckConstraint(_in("priority", Lane), name="priority"),
        Index(
            "ix_jobs_pending", "status", "created_at", postgresql_where=text("status IN ('queued','running')")
        ),
        Index("ix_jobs_lease", "lease_expires_at", postgresql_where=text("status = 'running'")),
        # Queue position and queue depth: only queued rows, in the order a queue serves them.
        Index("ix_jobs_queued", "queue", "created_at", postgresql_where=text("status = 'queued'")),
        # Job lists, newest first, keyset-paginated: a caller's own, and everyone's (an admin's).
        Index("ix_jobs_owner_created", "owner", "created_at", "id"),
        Index("ix_jobs_owner_status_created", "owner", "status", "created_at", "id"),
        Index("ix_jobs_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    checkpoint: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(160))  # the lane queue it waits in (sd.<checkpoint>.<lane>)
    priority: Mapped[str] = mapped_column(String(16), default=Lane.BATCH.value, server_default="batch")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    seed: Mapped[int] = mapped_column(BigInteger)
    batch_size: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    failure_category: Mapped[str | None] = mapped_column(String(32))
    failure_message: Mapped[str | None] = mapped_column(Text)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    owner: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    callback_url: Mapped[str | None] = mapped_column(Text)  # POSTed the job when it ends (webhooks)
    retry_of: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")
    )  # the failed or cancelled job this one retries
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="job", order_by="Attempt.number", cascade="all, delete-orphan"
    )
    images: Mapped[list[Image]] = relationship(
        back_populates="job", order_by="Image.index", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        order_by="WebhookDelivery.id", cascade="all, delete-orphan", viewonly=True
    )


class Attempt(Base):
    """One try of a job by one worker, fenced by its number."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "number", name="uq_attempts_job_id_number"),
        CheckConstraint(_in("outcome", AttemptOutcome), name="outcome"),
        CheckConstraint(f"category IS NULL OR {_in('category', FailureCategory)}", name="category"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16), default=AttemptOutcome.RUNNING.value)
    batch_size: Mapped[int] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    oom_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    timings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    job: Mapped[Job] = relationship(back_populates="attempts")


class Image(Base):
    """One stored image of a succeeded job."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_images_job_id_index"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    storage_path: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    infotext: Mapped[str] = mapped_column(Text)
    # The output-quality score (worker.output.quality) and whether it fell below the worker's floor;
    # `quality` keeps its parts, measures and formula version. NULL: stored before scores existed.
    quality_score: Mapped[float | None] = mapped_column(Float)
    low_quality: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    job: Mapped[Job] = relationship(back_populates="images")


class ApiKey(Base):
    """A caller's API key; only its SHA-256 is stored, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Signs this caller's webhooks (HMAC-SHA256). Kept as it is, unlike the key: signing needs it.
    webhook_secret: Mapped[str | None] = mapped_column(String(80))
    callback_url: Mapped[str | None] = mapped_column(Text)  # default callback of this caller's jobs


class GpuCapacity(Base):
    """What one GPU is known to hold for one shape; read before a job is planned, written after."""

    __tablename__ = "gpu_capacity"

    gpu: Mapped[str] = mapped_column(String(200), primary_key=True)
    architecture: Mapped[str] = mapped_column(String(16), primary_key=True)
    pixels: Mapped[int] = mapped_column(Integer, primary_key=True)
    largest_ok: Mapped[int | None] = mapped_column(Integer)
    smallest_oom: Mapped[int | None] = mapped_column(Integer)
    batch_limit: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WebhookDelivery(Base):
    """The outbox: one POST of a finished job to its callback URL, written in the transaction that ended
    the job and sent (and retried) by the dispatcher; `log` keeps every try."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("state", DeliveryState), name="state"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(32))  # job.succeeded, job.failed, job.cancelled
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobOutcomeHour(Base):
    """How many jobs ended, and with how many images, per hour of their end, owner, checkpoint, status
    and category: kept up to date in the transaction that ends each job, so statistics read a few
    hundred rows, never the jobs table."""

    __tablename__ = "job_outcomes_hourly"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" for jobs without one
    checkpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" for none
    jobs: Mapped[int] = mapped_column(BigInteger, default=0)
    images: Mapped[int] = mapped_column(BigInteger, default=0)


class ImageFeedback(Base):
    """What one caller (API-key owner; "" without auth) said and did about one image: an explicit rating
    (thumbs up/down or 1–5 stars, with an optional reason) and how often they downloaded it."""

    __tablename__ = "image_feedback"
    __table_args__ = (
        ForeignKeyConstraint(
            ["job_id", "image_index"], ["images.job_id", "images.index"], ondelete="CASCADE"
        ),
        CheckConstraint("thumb IS NULL OR thumb IN ('up', 'down')", name="thumb"),
        CheckConstraint("stars IS NULL OR stars BETWEEN 1 AND 5", name="stars"),
        CheckConstraint("thumb IS NULL OR stars IS NULL", name="one_rating"),
        CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 0 AND 1", name="satisfaction"),
        CheckConstraint("downloads >= 0", name="downloads"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    image_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    thumb: Mapped[str | None] = mapped_column(String(4))
    stars: Mapped[int | None] = mapped_column(SmallInteger)
    satisfaction: Mapped[float | None] = mapped_column(Float)  # the rating on 0–1: up 1, down 0, ★n (n−1)/4
    reason: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    downloads: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QualityHour(Base):
    """Ended jobs per hour of their end, owner and what they ran (checkpoint, LoRA combination, preset,
    sampler, resolution) and how they ended, with their images' quality and the feedback those images
    got: kept in the transaction that ends each job (and the one that records feedback), so the quality
    statistics read a window of this table, never the jobs table."""

    __tablename__ = "quality_hourly"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" for jobs without one
    checkpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    loras: Mapped[str] = mapped_column(Text, primary_key=True)  # sorted names joined by "+"; "" for none
    preset: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" for none
    sampler: Mapped[str] = mapped_column(String(64), primary_key=True)  # "DPM++ 2M Karras", "Euler a"
    resolution: Mapped[str] = mapped_column(String(16), primary_key=True)  # "1024x768"
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" for none
    jobs: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    oom_events: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    images: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    scored_images: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    score_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    low_quality_images: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    ratings: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    satisfaction_sum: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    thumbs_up: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    thumbs_down: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    downloads: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
