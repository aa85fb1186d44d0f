"""Every way a job ends writes its webhook delivery (the outbox) and its rollup count in the same
transaction; a fenced-off attempt writes neither. Real Postgres."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.store.jobs import JobStore
from worker.store.models import JobOutcomeHour, WebhookDelivery
from worker.store.records import AttemptReport, LeaseExpiry, NewJob, StoredImage, utcnow
from worker.vocabulary import FailureCategory


def _job(
    store: JobStore, owner: str, *, callback: str | None = "https://hooks.example.com/x", tries: int = 3
) -> uuid.UUID:
    new = NewJob(
        "deliberate_v6", "sd.deliberate_v6", {"prompt": "x"}, 1, 2, tries, owner=owner, callback_url=callback
    )
    return store.create(new)[0].id


def _deliveries(sessions: sessionmaker[Session], job_id: uuid.UUID) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery.event).where(WebhookDelivery.job_id == job_id)))


def _counted(sessions: sessionmaker[Session], owner: str) -> dict[tuple[str, str], tuple[int, int]]:
    with sessions() as session:
        rows = session.execute(
            select(JobOutcomeHour.status, JobOutcomeHour.category, func.sum(JobOutcomeHour.jobs),
                   func.sum(JobOutcomeHour.images))
            .where(JobOutcomeHour.owner == owner)
            .group_by(JobOutcomeHour.status, JobOutcomeHour.category)
        ).all()  # fmt: skip
    return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}


def test_each_end_writes_one_delivery_and_one_count(
    job_store: JobStore, pg_sessions: sessionmaker[Session]
) -> None:
    owner = f"endings-{uuid.uuid4().hex[:6]}"
    report = AttemptReport(batch_size=2)
    # success, with two images
    done = _job(job_store, owner)
    claim = job_store.claim(done, "w", 60)
    assert claim is not None
    images = [StoredImage(i, 1 + i, f"{i}.png", 64, 64, "0" * 64, "t") for i in range(2)]
    assert job_store.complete(done, claim.attempt, images, {}, report)
    assert not job_store.complete(done, claim.attempt, images, {}, report)  # fenced off: nothing more
    # final failure
    failed = _job(job_store, owner)
    claim = job_store.claim(failed, "w", 60)
    assert claim is not None
    job_store.fail(failed, claim.attempt, FailureCategory.OOM, "out of memory", report)
    # cancel of a queued job
    cancelled = _job(job_store, owner)
    job_store.request_cancel(cancelled)
    # the sweeper's last expired lease
    lost = _job(job_store, owner, tries=1)
    claim = job_store.claim(lost, "w", -1)
    assert claim is not None
    assert job_store.expire_lease(lost, claim.attempt, utcnow()) is LeaseExpiry.FAILED
    # no callback: counted, nothing to deliver
    quiet = _job(job_store, owner, callback=None)
    job_store.request_cancel(quiet)

    assert _deliveries(pg_sessions, done) == ["job.succeeded"]
    assert _deliveries(pg_sessions, failed) == ["job.failed"]
    assert _deliveries(pg_sessions, cancelled) == ["job.cancelled"]
    assert _deliveries(pg_sessions, lost) == ["job.failed"]
    assert _deliveries(pg_sessions, quiet) == []
    assert _counted(pg_sessions, owner) == {
        ("succeeded", ""): (1, 2),
        ("failed", "oom"): (1, 0),
        ("failed", "backend_unavailable"): (1, 0),
        ("cancelled", "cancelled"): (2, 0),
    }
