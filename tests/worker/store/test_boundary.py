"""Postgres's connection errors become RecordUnavailable at the store's boundary; other errors do not."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, exc

from worker.errors import RecordUnavailable
from worker.stack.services import free_port
from worker.store.engine import make_engine
from worker.store.jobs import JobStore
from worker.store.records import NewJob


def test_an_unreachable_postgres_is_record_unavailable() -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2")
    try:
        with pytest.raises(RecordUnavailable, match="Postgres is unavailable"):
            JobStore(engine).status(uuid.uuid4())
    finally:
        engine.dispose()


def test_a_constraint_violation_is_not_translated(pg_engine: Engine) -> None:
    store = JobStore(pg_engine)
    new = NewJob("deliberate_v6", "sd.deliberate_v6", {"prompt": "x"}, 1, 1, 0)  # max_attempts 0 is fine
    job, _ = store.create(new)
    with pytest.raises(exc.DataError):  # worker names are at most 200 characters
        store.claim(job.id, "w" * 300, 60)
