"""Feedback on real Postgres: a caller's rating replaces its earlier one, downloads add up, and the
hourly rollup row of the job's end follows both in the same transaction — also when one caller rates
one image from several threads at once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from worker.jobs.feedback import FeedbackRequest
from worker.store.jobs import JobStore
from worker.store.models import Job, QualityHour
from worker.store.quality import QualityStore
from worker.store.records import AttemptReport, NewJob, StoredImage

ENDED = datetime(2026, 5, 1, 9, 10, tzinfo=UTC)
RATED = datetime(2026, 5, 3, 17, 0, tzinfo=UTC)  # days later: still counted in the hour of the job's end


@pytest.fixture
def job(pg_engine: Engine) -> Job:
    """A succeeded job of alice's with two images, on a checkpoint of the test's own."""
    store = JobStore(pg_engine, clock=lambda: ENDED)
    params = {"width": 64, "height": 64, "sampler": "Euler a", "scheduler": "Automatic", "loras": []}
    ref, _ = store.create(NewJob(f"ck-{uuid.uuid4().hex[:8]}", "sd.x", params, 1, 2, 1, owner="alice"))
    assert store.claim(ref.id, "w", 60) is not None
    images = [StoredImage(i, i, f"x/{i}.png", 64, 64, "0" * 64, "", 0.9, False, None) for i in (0, 1)]
    assert store.complete(ref.id, 1, images, {}, AttemptReport(2))
    return store.get(ref.id)


@pytest.fixture
def quality(pg_engine: Engine) -> QualityStore:
    return QualityStore(pg_engine, clock=lambda: RATED)


def _rollup(sessions: sessionmaker[Session], job: Job) -> QualityHour:
    with sessions() as session:
        (row,) = session.scalars(select(QualityHour).where(QualityHour.checkpoint == job.checkpoint)).all()
        assert row.hour == datetime(2026, 5, 1, 9, tzinfo=UTC) and row.status == "succeeded"
        return row


def _rating(value: str | int, reason: str | None = None) -> FeedbackRequest:
    return FeedbackRequest(rating=value, reason=reason)


def test_a_rating_is_stored_and_a_new_one_replaces_it(
    job: Job, quality: QualityStore, pg_sessions: sessionmaker[Session]
) -> None:
    first = quality.rate(job, 0, "alice", _rating("up").as_rating())
    assert (first.rating, first.satisfaction, first.rated_at) == ("up", 1.0, RATED)
    row = _rollup(pg_sessions, job)
    assert (row.ratings, row.satisfaction_sum, row.thumbs_up, row.thumbs_down) == (1, 1.0, 1, 0)

    second = quality.rate(job, 0, "alice", _rating(2, "too dark").as_rating())
    assert (second.rating, second.satisfaction, second.reason) == (2, 0.25, "too dark")
    row = _rollup(pg_sessions, job)
    assert (row.ratings, row.satisfaction_sum, row.thumbs_up, row.thumbs_down) == (1, 0.25, 0, 0)

    quality.rate(job, 1, "alice", _rating("down").as_rating())
    quality.rate(job, 1, "bob", _rating(5).as_rating())  # another caller's rating of the same image
    row = _rollup(pg_sessions, job)
    assert (row.ratings, row.satisfaction_sum, row.thumbs_up, row.thumbs_down) == (3, 1.25, 0, 1)
    assert [(f.index, f.rating) for f in quality.of_job(job, "alice")] == [(0, 2), (1, "down")]


def test_downloads_add_up_per_caller_and_in_the_rollup(
    job: Job, quality: QualityStore, pg_sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        quality.downloaded(job, 1, "alice")
    quality.downloaded(job, 1, None)
    assert [(f.index, f.downloads, f.rating) for f in quality.of_job(job, "alice")] == [(1, 3, None)]
    assert [f.downloads for f in quality.of_job(job, None)] == [1]
    assert _rollup(pg_sessions, job).downloads == 4


def test_one_callers_ratings_at_once_count_as_one_rating(
    job: Job, quality: QualityStore, pg_sessions: sessionmaker[Session]
) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: quality.rate(job, 0, "alice", _rating(1 + n % 5).as_rating()), range(16)))
    (mine,) = quality.of_job(job, "alice")
    row = _rollup(pg_sessions, job)
    assert row.ratings == 1 and row.satisfaction_sum == pytest.approx(mine.satisfaction)
