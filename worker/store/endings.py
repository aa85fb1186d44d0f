"""What happens, in the same transaction, whenever a job ends: its outcome is counted in the hourly
rollup (statistics never scan the jobs table), and, if it has a callback URL, a webhook delivery is put
in the outbox (the dispatcher sends it; the delivery cannot be lost between the commit and a send, nor
sent for an end that was rolled back).

Every path that ends a job calls `record_end`: the worker's success and final failure (`complete`,
`fail`), the sweeper's last expired lease (`expire_lease`) and the cancel of a queued job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import insert as core_insert
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.store.models import JobOutcomeHour, WebhookDelivery
from worker.store.records import JobEnd, StoredImage
from worker.store.rollup import count_end, hour_of
from worker.vocabulary import DeliveryState


def record_end(
    session: Connection | Session, end: JobEnd, *, images: Sequence[StoredImage], now: datetime
) -> None:
    """Count the outcome (here and, with its combination and its images' scores, in the quality rollup)
    and queue its webhook, in the caller's transaction (after the ending attempt is recorded)."""
    counted = insert(JobOutcomeHour).values(
        hour=hour_of(now),
        owner=end.owner or "",
        checkpoint=end.checkpoint,
        status=end.status.value,
        category=end.category or "",
        jobs=1,
        images=len(images),
    )
    session.execute(
        counted.on_conflict_do_update(
            index_elements=["hour", "owner", "checkpoint", "status", "category"],
            set_={"jobs": JobOutcomeHour.jobs + 1, "images": JobOutcomeHour.images + len(images)},
        )
    )
    count_end(session, end, images, now=now)
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
