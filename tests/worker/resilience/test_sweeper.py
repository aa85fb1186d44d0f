"""One sweep of `worker/recovery/sweeper.py` on real Postgres, with the broker's side injected: what is
published again, and what is not. It runs on this package's own database: a sweep of the session's would
also find every job the suite's other tests left behind (and only the first 100 expired leases).

The end-to-end runs (a real sweeper process after a worker is SIGKILLed, after Redis loses its data) are
test_worker_loss.py and test_broker_loss.py.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from worker.recovery.sweeper import SweepReport, sweep_once
from worker.store.jobs import JobStore
from worker.store.records import NewJob, utcnow


def _job(store: JobStore, *, max_attempts: int = 3) -> uuid.UUID:
    new = NewJob("deliberate_v6", f"sd.sweep-{uuid.uuid4().hex[:6]}", {"prompt": "x"}, 1, 1, max_attempts)
    return store.create(new)[0].id


class Broker:
    """The broker as the sweeper sees it: which job ids it holds; what was published."""

    def __init__(self, held: set[uuid.UUID] | None = None) -> None:
        self.held = {str(job_id) for job_id in held or set()}
        self.published: list[tuple[str, str]] = []

    def present(self, queues: set[str]) -> set[str]:
        return set(self.held)

    def publish(self, job_id: str, queue: str) -> None:
        self.published.append((job_id, queue))
        self.held.add(job_id)


def _ids(broker: Broker) -> set[str]:
    return {job_id for job_id, _ in broker.published}


def _sweep(store: JobStore, broker: Broker, seconds_later: float) -> SweepReport:
    return sweep_once(
        store,
        present_ids=broker.present,
        publish=broker.publish,
        grace_s=20,
        now=utcnow() + timedelta(seconds=seconds_later),
    )


def test_a_queued_job_is_published_again_only_when_its_message_is_gone_and_the_grace_has_passed(
    job_store: JobStore,
) -> None:
    lost, present = _job(job_store), _job(job_store)
    # Within the grace period a job without a message is left alone (its publish may be on its way)
    early = Broker(held={present})
    _sweep(job_store, early, seconds_later=1)
    assert str(lost) not in _ids(early)
    # After it, the job whose message is gone is published again, the one whose message is there is not
    broker = Broker(held={present})
    report = _sweep(job_store, broker, seconds_later=60)
    assert (str(lost), job_store.get(lost).queue) in broker.published and str(present) not in _ids(broker)
    assert report.republished >= 1
    # Idempotent: the next pass finds the new message and publishes nothing more for it
    broker.published.clear()
    _sweep(job_store, broker, seconds_later=61)
    assert str(lost) not in _ids(broker)


def test_an_expired_lease_is_handed_back_and_published_at_once_and_a_last_attempt_fails(
    job_store: JobStore,
) -> None:
    retried, last = _job(job_store), _job(job_store, max_attempts=1)
    for job_id in (retried, last):
        assert job_store.claim(job_id, "gpu-dead", lease_s=30) is not None
    # The dead worker's message is still "delivered" in the broker: the sweeper must not wait for it
    broker = Broker(held={retried, last})
    report = _sweep(job_store, broker, seconds_later=40)
    assert (str(retried), job_store.get(retried).queue) in broker.published
    assert str(last) not in _ids(broker)
    assert report.recovered >= 1 and report.failed >= 1
    assert job_store.get(retried).status == "queued"
    assert (job_store.get(last).status, job_store.get(last).failure_category) == (
        "failed",
        "backend_unavailable",
    )
    # A second sweeper (or pass) finds nothing left to expire for these jobs
    broker.published.clear()
    _sweep(job_store, broker, seconds_later=41)
    assert str(retried) not in _ids(broker)
