"""A worker's state from its record, as a table; and the record's round trip through Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from worker.fleet import state
from worker.fleet.state import WorkerState, derive_state, read_fleet

NOW = 10_000.0
LIVE = {"main_seen_at": str(NOW - 1), "child_seen_at": str(NOW - 1), "ready": "1", "healthy": "1"}

CASES = [
    ("nothing heard", {}, WorkerState.OFFLINE),
    (
        "silent past the offline time",
        {**LIVE, "main_seen_at": "9980", "child_seen_at": "9980"},
        WorkerState.OFFLINE,
    ),
    ("stopped cleanly", {**LIVE, "stopped": "1"}, WorkerState.OFFLINE),
    ("draining wins over busy", {**LIVE, "job": "j1", "draining": "1"}, WorkerState.DRAINING),
    ("A1111 in a restart loop", {**LIVE, "healthy": "0"}, WorkerState.UNHEALTHY),
    ("A1111 not ready yet", {**LIVE, "ready": "0"}, WorkerState.STARTING),
    ("main process up, pool process not heard yet", {"main_seen_at": str(NOW)}, WorkerState.STARTING),
    ("pool process silent while the main one beats", {**LIVE, "child_seen_at": "9900"}, WorkerState.STARTING),
    ("running a job", {**LIVE, "job": "j1"}, WorkerState.BUSY),
    ("ready and no job", LIVE, WorkerState.IDLE),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_derive_state(fields: dict[str, str], expected: WorkerState) -> None:
    assert derive_state(fields, NOW, offline_after_s=15.0) is expected


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(state.KEY_PREFIX + "test-*"):
        client.delete(key)
    client.srem(
        state.INDEX_KEY, *[m for m in client.smembers(state.INDEX_KEY) if m.startswith(b"test-")] or [b"-"]
    )
    client.close()


def test_a_record_round_trips_and_an_expired_one_leaves_the_index(client: redis.Redis) -> None:
    fields = {
        **LIVE,
        "serves": '["a", "b"]',
        "queues": '["sd.b.interactive", "sd.b.batch"]',
        "gpu_index": "1",
    }
    state.write(client, "test-gpu1@h", fields, offline_after_s=15.0)
    assert 0 < client.ttl(state.worker_key("test-gpu1@h")) <= state.ttl_s(15.0)
    (view,) = [v for v in read_fleet(client, 15.0, now=NOW) if v.name == "test-gpu1@h"]
    assert (view.state, view.assigned, view.gpu_index, view.host) == (WorkerState.IDLE, "b", 1, "h")
    # When its record expires, it leaves the index on the next read
    client.delete(state.worker_key("test-gpu1@h"))
    assert "test-gpu1@h" not in {v.name for v in read_fleet(client, 15.0, now=NOW)}
    assert not client.sismember(state.INDEX_KEY, "test-gpu1@h")
