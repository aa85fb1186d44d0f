"""The hourly quality rollup on real Postgres: every way a job ends counts it once, in the transaction
that ends it, with its images' scores; a fenced-off or handed-back attempt counts nothing; the
statistics read it back by window, owner and dimension."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from worker.store.jobs import JobStore
from worker.store.models import QualityHour
from worker.store.quality_stats import quality_stats
from worker.store.records import AttemptReport, NewJob, StoredImage
from worker.store.rollup import Dimensions, dimensions
from worker.vocabulary import FailureCategory

NOON = datetime(2026, 3, 14, 12, 30, tzinfo=UTC)
PARAMS = {
    "prompt": "x", "width": 64, "height": 96, "sampler": "DPM++ 2M", "scheduler": "Karras",
    "preset": "realism",
    "loras": [{"name": "real_skin_slider", "weight": 1.0}, {"name": "detail_tweaker_xl", "weight": 0.5}],
}  # fmt: skip
LORAS = "detail_tweaker_xl+real_skin_slider"


# (params, dimensions)
DIMENSION_CASES = [
    (PARAMS, Dimensions("ck", LORAS, "realism", "DPM++ 2M Karras", "64x96")),
    ({**PARAMS, "loras": [], "preset": None, "sampler": "Euler a", "scheduler": "Automatic"},
     Dimensions("ck", "", "", "Euler a", "64x96")),
    ({**PARAMS, "loras": [{"name": "b"}, {"name": "a"}, {"name": "b"}]},
     Dimensions("ck", "a+b", "realism", "DPM++ 2M Karras", "64x96")),
]  # fmt: skip


@pytest.mark.parametrize(("params", "expected"), DIMENSION_CASES)
def test_dimensions(params: dict[str, Any], expected: Dimensions) -> None:
    assert dimensions("ck", params) == expected


@pytest.fixture
def store(pg_engine: Engine) -> JobStore:
    return JobStore(pg_engine, clock=lambda: NOON)


@pytest.fixture
def checkpoint() -> str:
    """A checkpoint name of the test's own: its rollup rows are the test's alone."""
    return f"ck-{uuid.uuid4().hex[:10]}"


def _job(
    store: JobStore, checkpoint: str, *, owner: str | None = "alice", max_attempts: int = 2
) -> uuid.UUID:
    job, _ = store.create(NewJob(checkpoint, "sd.x", PARAMS, 1, 2, max_attempts, owner=owner))
    return job.id


def _image(index: int, score: float | None, low: bool = False) -> StoredImage:
    return StoredImage(index, index, f"x/{index}.png", 64, 96, "0" * 64, "", score, low, None)


def _rows(sessions: sessionmaker[Session], checkpoint: str) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.scalars(select(QualityHour).where(QualityHour.checkpoint == checkpoint)).all()
        return [
            {k: v for k, v in vars(row).items() if not k.startswith("_") and k not in ("checkpoint",)}
            for row in rows
        ]


def _claimed(store: JobStore, checkpoint: str, **kwargs: Any) -> uuid.UUID:
    job_id = _job(store, checkpoint, **kwargs)
    assert store.claim(job_id, "w", 60) is not None
    return job_id


ENDINGS: list[tuple[str, Callable[[JobStore, str], None], dict[str, Any]]] = [
    ("succeeded", lambda s, c: s.complete(_claimed(s, c), 1, [_image(0, 0.9), _image(1, 0.3, True)], {},
                                          AttemptReport(2, oom_count=2)),
     {"status": "succeeded", "category": "", "images": 2, "scored_images": 2, "score_sum": pytest.approx(1.2),
      "low_quality_images": 1, "oom_events": 2}),
    ("succeeded, images from before scores", lambda s, c: s.complete(_claimed(s, c), 1, [_image(0, None)], {},
                                                                    AttemptReport(2)),
     {"status": "succeeded", "category": "", "images": 1, "scored_images": 0, "score_sum": 0.0}),
    ("failed", lambda s, c: s.fail(_claimed(s, c), 1, FailureCategory.OOM, "oom",
                                   AttemptReport(1, oom_count=3)),
     {"status": "failed", "category": "oom", "images": 0, "oom_events": 3}),
    ("cancelled while running", lambda s, c: s.fail(_claimed(s, c), 1, FailureCategory.CANCELLED, "stop",
                                                    AttemptReport(1)),
     {"status": "cancelled", "category": "cancelled"}),
    ("cancelled while queued", lambda s, c: s.request_cancel(_job(s, c)),
     {"status": "cancelled", "category": "cancelled", "attempts": 0}),
]  # fmt: skip


@pytest.mark.parametrize(("ending", "expected"), [e[1:] for e in ENDINGS], ids=[e[0] for e in ENDINGS])
def test_every_ending_is_counted_once_with_its_dimensions(
    store: JobStore,
    checkpoint: str,
    pg_sessions: sessionmaker[Session],
    ending: Any,
    expected: dict[str, Any],
) -> None:
    ending(store, checkpoint)
    (row,) = _rows(pg_sessions, checkpoint)
    assert row["hour"] == datetime(2026, 3, 14, 12, tzinfo=UTC) and row["owner"] == "alice"
    assert (row["loras"], row["preset"], row["sampler"], row["resolution"]) == (
        "detail_tweaker_xl+real_skin_slider",
        "realism",
        "DPM++ 2M Karras",
        "64x96",
    )
    assert row["jobs"] == 1 and row["attempts"] == expected.get("attempts", 1)
    assert {k: row[k] for k in expected} == expected


def test_the_sweepers_final_expiry_is_counted_with_all_attempts(
    store: JobStore, checkpoint: str, pg_sessions: sessionmaker[Session]
) -> None:
    job_id = _job(store, checkpoint, max_attempts=2)
    later = NOON + timedelta(minutes=5)
    assert store.claim(job_id, "w1", lease_s=-1) is not None
    store.expire_lease(job_id, 1, later)  # handed back: not an ending
    assert _rows(pg_sessions, checkpoint) == []
    assert store.claim(job_id, "w2", lease_s=-1) is not None
    store.expire_lease(job_id, 2, later)
    (row,) = _rows(pg_sessions, checkpoint)
    assert (row["status"], row["category"], row["jobs"], row["attempts"]) == (
        "failed",
        "backend_unavailable",
        1,
        2,
    )


def test_a_fenced_off_or_handed_back_attempt_counts_nothing(
    store: JobStore, checkpoint: str, pg_sessions: sessionmaker[Session]
) -> None:
    job_id = _claimed(store, checkpoint)
    assert not store.complete(job_id, 7, [_image(0, 0.9)], {}, AttemptReport(1))
    assert not store.fail(job_id, 7, FailureCategory.OOM, "stale", AttemptReport(1))
    assert store.hand_back(job_id, 1, FailureCategory.LOW_QUALITY, "image 0 scored 0.2", AttemptReport(1))
    assert _rows(pg_sessions, checkpoint) == []
    assert store.claim(job_id, "w", 60) is not None
    assert store.complete(job_id, 2, [_image(0, 0.8)], {}, AttemptReport(1))
    (row,) = _rows(pg_sessions, checkpoint)
    assert (row["jobs"], row["attempts"], row["images"]) == (1, 2, 1)


def test_endings_of_one_combination_and_hour_add_up(
    store: JobStore, checkpoint: str, pg_sessions: sessionmaker[Session]
) -> None:
    for score in (0.9, 0.7, 0.2):
        store.complete(_claimed(store, checkpoint), 1, [_image(0, score, score < 0.5)], {}, AttemptReport(1))
    (row,) = _rows(pg_sessions, checkpoint)
    assert (row["jobs"], row["images"], row["low_quality_images"]) == (3, 3, 1)
    assert row["score_sum"] == pytest.approx(1.8)


def test_statistics_read_the_window_the_owner_and_the_dimensions(pg_engine: Engine, checkpoint: str) -> None:
    # Given jobs that ended now, three hours ago and two days ago, for two owners
    def at(moment: datetime) -> JobStore:
        return JobStore(pg_engine, clock=lambda: moment)

    now, three_h, two_d = NOON, NOON - timedelta(hours=3), NOON - timedelta(days=2)
    for moment, owner, score in ((now, "alice", 0.9), (three_h, "alice", 0.5), (two_d, "alice", 0.1),
                                 (now, "bob", 0.6)):  # fmt: skip
        s = at(moment)
        s.complete(_claimed(s, checkpoint, owner=owner), 1, [_image(0, score)], {}, AttemptReport(1))
    s = at(now)
    s.fail(_claimed(s, checkpoint, owner="alice"), 1, FailureCategory.TIMEOUT, "slow", AttemptReport(1))

    def stats(hours: int, owner: str | None, by: tuple[str, ...] = ("checkpoint",)) -> dict[str, Any]:
        result = quality_stats(pg_engine, owner=owner, hours=hours, by=by, limit=100, now=now)
        mine = [figures for key, figures in result.groups if key.get("checkpoint") == checkpoint]
        return mine[0].as_json() if mine else {}

    # Then the window, the current hour included, decides which endings count
    one_hour = stats(1, "alice")
    assert (one_hour["jobs"], one_hour["succeeded"], one_hour["failed"]) == (2, 1, 1)
    assert one_hour["success_rate"] == 0.5 and one_hour["failure_categories"] == {"timeout": 1}
    assert one_hour["mean_quality_score"] == pytest.approx(0.9)
    assert stats(4, "alice")["mean_quality_score"] == pytest.approx(0.7)
    assert stats(72, "alice")["jobs"] == 4
    # And the owner: None is everyone's
    assert stats(1, "bob")["jobs"] == 1 and stats(1, None)["jobs"] == 3
    # And the dimensions group together
    by_all = quality_stats(pg_engine, owner="alice", hours=1, limit=100, now=now)
    key = {"checkpoint": checkpoint, "loras": LORAS, "preset": "realism", "sampler": "DPM++ 2M Karras",
           "resolution": "64x96"}  # fmt: skip
    assert key in [k for k, _ in by_all.groups]
    totals_only = quality_stats(pg_engine, owner="alice", hours=1, by=(), limit=100, now=now)
    assert totals_only.groups == [] and totals_only.totals.jobs >= 2
    with pytest.raises(ValueError, match="not a dimension: colour"):
        quality_stats(pg_engine, owner=None, hours=1, by=("colour",), now=now)


def test_a_limit_keeps_the_largest_groups_and_says_how_many_there_are(pg_engine: Engine) -> None:
    prefix = f"lim-{uuid.uuid4().hex[:8]}"
    owner = prefix  # an owner of the test's own: only its groups are read
    s = JobStore(pg_engine, clock=lambda: NOON)
    for index, jobs in enumerate((1, 3, 2)):
        for _ in range(jobs):
            s.complete(
                _claimed(s, f"{prefix}-{index}", owner=owner), 1, [_image(0, 0.9)], {}, AttemptReport(1)
            )
    result = quality_stats(pg_engine, owner=owner, hours=1, by=("checkpoint",), limit=2, now=NOON)
    assert [key["checkpoint"] for key, _ in result.groups] == [f"{prefix}-1", f"{prefix}-2"]
    assert result.group_count == 3 and result.totals.jobs == 6
