"""What happens, in the same transaction, whenever a job ends: its outcome is counted in the hourly
rollup (statistics never scan the jobs table), and, if it has a callback URL, a webhook delivery is put
in the outbox (the dispatcher sends it; the delivery cannot be lost between the commit and a send, nor
sent for an end that was rolled back).

Every path that ends a job calls `record_end`: the worker's success and final failure (`complete`,
`fail`), the sweeper's last expired lease (`expire_lease`) and the cancel of a queued job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import insert as core_insert
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.store.models import JobOutcomeHour, WebhookDelivery
from worker.vocabulary import DeliveryState, JobStatus


@dataclass(frozen=True)
class JobEnd:
    """A job that has just ended, as the statement that ended it returned it."""

    job_id: uuid.UUID
    owner: str | None
    checkpoint: str
    status: JobStatus
    category: str | None
    callback_url: str | None


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def record_end(session: Connection | Session, end: JobEnd, *, images: int, now: datetime) -> None:
    """Count the outcome and queue its webhook, in the caller's transaction."""
    counted = insert(JobOutcomeHour).values(
        hour=hour_of(now),
        owner=end.owner or "",
        checkpoint=end.checkpoint,
        status=end.status.value,
        category=end.category or "",
        jobs=1,
        images=images,
    )
    session.execute(
        counted.on_conflict_do_update(
            index_elements=["hour", "owner", "checkpoint", "status", "category"],
            set_={"jobs": JobOutcomeHour.jobs + 1, "images": JobOutcomeHour.images + images},
        )
    )
    if end.callback_url:
        session.execute(
            core_insert(WebhookDelivery).values(
                job_id=end.job_id,
                url=end.callback_url,
                event=f"job.{end.status.value}",
                state=DeliveryState.PENDING.value,
                tries=0,
                next_attempt_at=now,
                log=[],
            )
        )
