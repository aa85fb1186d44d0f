from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes, base_env
from worker.apikeys import ApiKeys


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
