from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes, base_env
from worker.store.api_keys import ApiKeys
from worker.store.models import Job


@pytest.fixture(scope="module")
def api_url(sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The producer API as a real uvicorn process (no worker: jobs stay queued)."""
    procs = Processes(tmp_path_factory.mktemp("api-logs"), {**base_env(), **sdfleet_env})
    try:
        yield procs.api()
    finally:
        procs.stop()


@pytest.fixture(scope="module")
def api_key(pg_sessions: sessionmaker[Session]) -> str:
    return ApiKeys(pg_sessions).create(f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def http(api_url: str, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module", autouse=True)
def leave_no_queued_jobs(sdfleet_env: dict[str, str], pg_sessions: sessionmaker[Session]) -> Iterator[None]:
    """These tests queue jobs that no worker runs: cancel them and empty the suite's own queues after the
    module, so that a later module's worker does not spend its time (and its armed faults) on them."""
    yield
    with pg_sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.status == "queued")
            .values(status="cancelled", cancel_requested=True, failure_category="cancelled",
                    failure_message="left queued by an API test")
        )  # fmt: skip
    client = redis.Redis.from_url(sdfleet_env["SDFLEET_REDIS_URL"])
    try:
        for key in client.scan_iter("sd.*"):
            client.delete(key)
    finally:
        client.close()
