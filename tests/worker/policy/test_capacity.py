"""The capacity memory on real Postgres: shared across workers by GPU label, and a worker's cache that
writes only when what is known changes."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select

from worker.policy.capacity import CachedCapacity, PostgresCapacity
from worker.store.engine import make_session_factory
from worker.store.models import GpuCapacity


def _row(engine: Engine, gpu: str) -> tuple[int | None, int | None, object] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(GpuCapacity.largest_ok, GpuCapacity.batch_limit, GpuCapacity.updated_at).where(
                GpuCapacity.gpu == gpu
            )
        ).one_or_none()
    return None if row is None else (row.largest_ok, row.batch_limit, row.updated_at)


def test_a_settled_shape_costs_no_writes_and_an_oom_is_shared(pg_engine: Engine) -> None:
    gpu = f"card-{uuid.uuid4().hex[:8]}"
    shared = PostgresCapacity(make_session_factory(pg_engine))
    mine = CachedCapacity(shared)

    mine.record_oom(gpu, "sd15", 65536, batch_size=8)  # 8 fails: try 4
    mine.record_success(gpu, "sd15", 65536, batch_size=4)  # 4 holds: probe 6
    assert mine.known_max(gpu, "sd15", 65536) == 6
    written = _row(pg_engine, gpu)
    assert written is not None and written[:2] == (4, 6)

    for _ in range(5):  # a batch of 2 teaches nothing new: nothing is written
        mine.record_success(gpu, "sd15", 65536, batch_size=2)
    assert _row(pg_engine, gpu) == written

    # Another worker with the same GPU label reads what this one learned
    assert CachedCapacity(shared).known_max(gpu, "sd15", 65536) == 6
    assert shared.held_elsewhere("other-card", "sd15", 65536) is not None
