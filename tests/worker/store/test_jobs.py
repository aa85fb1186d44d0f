"""The job record on real Postgres: claims are atomic and numbered; stale attempts change nothing."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from worker.store.jobs import JobStore
from worker.store.records import AttemptReport, LeaseExpiry, NewJob, StoredImage, utcnow
from worker.vocabulary import FailureCategory, JobStatus


def _new_job(store: JobStore, *, max_attempts: int = 3, key: str | None = None) -> uuid.UUID:
    job, _ = store.create(
        NewJob(
            checkpoint="deliberate_v6",
            queue="sd.deliberate_v6",
            params={"prompt": "x", "width": 64, "height": 64},
            seed=10,
            batch_size=2,
            max_attempts=max_attempts,
            idempotency_key=key,
        )
    )
    return job.id


def _image(index: int) -> StoredImage:
    return StoredImage(index, 10 + index, f"x/{index}.png", 64, 64, "0" * 64, "infotext")


def test_claim_numbers_attempts_and_only_one_of_concurrent_claims_wins(job_store: JobStore) -> None:
    job_id = _new_job(job_store)
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda i: job_store.claim(job_id, f"w{i}", 60), range(8)))
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].attempt == 1
    job = job_store.get(job_id)
    assert job.status == JobStatus.RUNNING
    assert [a.number for a in job.attempts] == [1]


def test_stale_attempt_cannot_complete_after_a_newer_claim(job_store: JobStore) -> None:
    # Given attempt 1 whose lease expired and was taken over by attempt 2
    job_id = _new_job(job_store)
    first = job_store.claim(job_id, "w1", lease_s=-1)  # already expired
    assert first is not None
    second = job_store.claim(job_id, "w2", lease_s=60)
    assert second is not None and second.attempt == 2
    # When the stale attempt 1 finishes
    stale = job_store.complete(job_id, 1, [_image(0)], {"a": 1}, AttemptReport(batch_size=2))
    # Then nothing changed; attempt 2 is still the one that can finish
    assert stale is False
    assert job_store.get(job_id).images == []
    assert job_store.complete(job_id, 2, [_image(0), _image(1)], {"a": 2}, AttemptReport(batch_size=2))
    job = job_store.get(job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert [i.index for i in job.images] == [0, 1]
    assert [(a.number, a.outcome) for a in job.attempts] == [(1, "lost"), (2, "succeeded")]
    # And a duplicate delivery after success claims nothing
    assert job_store.claim(job_id, "w3", 60) is None


def test_hand_back_queues_again_and_records_the_category(job_store: JobStore) -> None:
    job_id = _new_job(job_store)
    claim = job_store.claim(job_id, "w1", 60)
    assert claim is not None
    assert job_store.hand_back(job_id, 1, FailureCategory.BACKEND_CRASHED, "died", AttemptReport(2))
    assert job_store.get(job_id).status == JobStatus.QUEUED
    again = job_store.claim(job_id, "w2", 60)
    assert again is not None and again.attempt == 2
    assert again.previous_categories == ("backend_crashed",)


def test_fail_is_fenced_and_final(job_store: JobStore) -> None:
    job_id = _new_job(job_store)
    assert job_store.claim(job_id, "w1", 60) is not None
    assert not job_store.fail(job_id, 7, FailureCategory.OOM, "wrong attempt", AttemptReport(1))
    assert job_store.fail(job_id, 1, FailureCategory.OOM, "out of memory", AttemptReport(1))
    job = job_store.get(job_id)
    assert (job.status, job.failure_category, job.failure_message) == ("failed", "oom", "out of memory")
    assert job_store.claim(job_id, "w2", 60) is None


def test_cancel_of_a_queued_job_means_it_never_runs(job_store: JobStore) -> None:
    job_id = _new_job(job_store)
    job = job_store.request_cancel(job_id)
    assert job.status == JobStatus.CANCELLED
    assert job_store.claim(job_id, "w1", 60) is None


def test_cancel_of_a_running_job_is_seen_at_lease_renewal(job_store: JobStore) -> None:
    job_id = _new_job(job_store)
    assert job_store.claim(job_id, "w1", 60) is not None
    assert job_store.renew_lease(job_id, 1, 60) is False
    job_store.request_cancel(job_id)
    assert job_store.renew_lease(job_id, 1, 60) is True
    assert job_store.renew_lease(job_id, 2, 60) is None  # not our attempt: the claim is lost


def test_idempotency_key_returns_the_same_job(job_store: JobStore) -> None:
    """The second create with a key is recognised as a repeat, so the caller publishes nothing again."""
    key = f"k-{uuid.uuid4()}"
    new = NewJob("deliberate_v6", "sd.deliberate_v6", {"prompt": "x"}, 1, 1, 3, idempotency_key=key)
    first, created = job_store.create(new)
    again, created_again = job_store.create(new)
    assert (again.id, created, created_again) == (first.id, True, False)
    assert _new_job(job_store, key=key) == first.id


def test_expired_lease_is_handed_back_then_failed_when_attempts_are_used_up(job_store: JobStore) -> None:
    job_id = _new_job(job_store, max_attempts=2)
    later = utcnow() + timedelta(seconds=120)
    assert job_store.claim(job_id, "w1", 60) is not None
    assert (job_id, 1, "sd.deliberate_v6") in job_store.expired_leases(later)
    assert job_store.expire_lease(job_id, 1, later) is LeaseExpiry.HANDED_BACK
    assert job_store.get(job_id).status == JobStatus.QUEUED
    assert job_store.expire_lease(job_id, 1, later) is LeaseExpiry.SKIPPED  # a second sweeper: no-op
    assert job_store.claim(job_id, "w2", 60) is not None
    assert job_store.expire_lease(job_id, 2, utcnow()) is LeaseExpiry.SKIPPED  # still renewed
    assert job_store.expire_lease(job_id, 2, later) is LeaseExpiry.FAILED
    job = job_store.get(job_id)
    assert (job.status, job.failure_category) == ("failed", "backend_unavailable")
    assert [a.outcome for a in job.attempts] == ["lost", "lost"]
