"""The fleet as workers publish it: one Redis hash per worker, read back into `WorkerView`s.

`sdfleet:worker:<node>` holds a worker's fields as text. Three writers fill it, each with what it sees:
the pool child (its A1111, its job, its GPU: `presence.py`), the main Celery process (the queues it
consumes and its shutdown: `consumer_step.py`) and the balancer (when it moves the worker). Every write
refreshes a TTL of `RETAIN_FACTOR` × the offline time, so a worker that is gone shows `offline` for a while
and then disappears. `sdfleet:workers` indexes the node names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import redis

from worker.jobs.queues import checkpoint_of

KEY_PREFIX = "sdfleet:worker:"
INDEX_KEY = "sdfleet:workers"
RETAIN_FACTOR = 20  # a silent worker's record is kept this many offline periods, then expires


class WorkerState(StrEnum):
    """What a worker is doing, derived from its record (docs/operations.md, "Worker states")."""

    STARTING = "starting"  # its A1111 has not answered with a loaded checkpoint yet (or its child restarts)
    IDLE = "idle"  # ready, consuming its checkpoint's queues, no job
    BUSY = "busy"  # running a job
    UNHEALTHY = "unhealthy"  # A1111 is in a restart loop: the worker left rotation and takes no jobs
    DRAINING = "draining"  # shutting down: takes no new job, finishes (or hands back) the one it holds
    OFFLINE = "offline"  # nothing heard from it for longer than `worker_offline_after_s`


class ModelStatus(StrEnum):
    LOADING = "loading"  # A1111 has no checkpoint loaded yet (starting or restarting)
    LOADED = "loaded"  # `checkpoint` is in VRAM and generating
    FAILED = "failed"  # the last load failed (not found, timed out, A1111 refused)


def worker_key(node: str) -> str:
    return KEY_PREFIX + node


def ttl_s(offline_after_s: float) -> int:
    return max(60, int(offline_after_s * RETAIN_FACTOR))


def write(client: redis.Redis, node: str, fields: Mapping[str, str], offline_after_s: float) -> None:
    """Set `fields` of `node`'s record (one round trip) and keep the record alive."""
    key = worker_key(node)
    pipe = client.pipeline(transaction=False)
    mapping: dict[str | bytes, str | bytes] = {k: v for k, v in fields.items()}
    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]  # the stubs' Mapping key type is invariant
    pipe.expire(key, ttl_s(offline_after_s))
    pipe.sadd(INDEX_KEY, node)
    pipe.execute()


@dataclass(frozen=True)
class WorkerView:
    """One worker as `GET /v1/workers` and `sdfleet workers` show it."""

    name: str  # Celery node name, gpu<i>@<host>
    host: str | None
    gpu_index: int | None
    gpu_label: str | None
    state: WorkerState
    model_status: str | None
    checkpoint: str | None  # what its A1111 has loaded
    assigned: str | None  # the checkpoint whose queues it consumes (the balancer's view of it)
    queues: list[str]
    serves: list[str]  # checkpoints it may be moved to
    job: str | None
    job_started_at: float | None
    vram_used_mb: float | None
    vram_total_mb: float | None
    gpu_utilization_pct: float | None
    gpu_temperature_c: float | None
    gpu_power_w: float | None
    capacity: list[dict[str, Any]] = field(default_factory=list)
    jobs_done: int = 0
    images_done: int = 0
    last_heartbeat: float | None = None  # Unix time
    idle_since: float | None = None
    moved_at: float | None = None
    metrics_port: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value}


def _float(fields: Mapping[str, str], name: str) -> float | None:
    value = fields.get(name)
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _list(fields: Mapping[str, str], name: str) -> list[Any]:
    try:
        value = json.loads(fields.get(name) or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def derive_state(fields: Mapping[str, str], now: float, offline_after_s: float) -> WorkerState:
    """The state of a worker from its record at `now` (Unix time). Pure; table-tested."""
    seen = [t for t in (_float(fields, "main_seen_at"), _float(fields, "child_seen_at")) if t is not None]
    if fields.get("stopped") == "1" or not seen or now - max(seen) > offline_after_s:
        return WorkerState.OFFLINE
    if fields.get("draining") == "1":
        return WorkerState.DRAINING
    if fields.get("healthy") == "0":
        return WorkerState.UNHEALTHY
    child_seen = _float(fields, "child_seen_at")
    if child_seen is None or now - child_seen > offline_after_s or fields.get("ready") != "1":
        return WorkerState.STARTING
    if fields.get("job"):
        return WorkerState.BUSY
    return WorkerState.IDLE


def view(node: str, fields: Mapping[str, str], now: float, offline_after_s: float) -> WorkerView:
    serves = [str(s) for s in _list(fields, "serves")]
    queues = [str(q) for q in _list(fields, "queues")]
    seen = [t for t in (_float(fields, "main_seen_at"), _float(fields, "child_seen_at")) if t is not None]
    index = _float(fields, "gpu_index")
    port = _float(fields, "metrics_port")
    return WorkerView(
        name=node,
        host=fields.get("host") or node.partition("@")[2] or None,
        gpu_index=int(index) if index is not None else None,
        gpu_label=fields.get("gpu_label") or None,
        state=derive_state(fields, now, offline_after_s),
        model_status=fields.get("model_status") or None,
        checkpoint=fields.get("checkpoint") or None,
        assigned=checkpoint_of(queues, serves),
        queues=queues,
        serves=serves,
        job=fields.get("job") or None,
        job_started_at=_float(fields, "job_started_at"),
        vram_used_mb=_float(fields, "vram_used_mb"),
        vram_total_mb=_float(fields, "vram_total_mb"),
        gpu_utilization_pct=_float(fields, "gpu_utilization_pct"),
        gpu_temperature_c=_float(fields, "gpu_temperature_c"),
        gpu_power_w=_float(fields, "gpu_power_w"),
        capacity=[c for c in _list(fields, "capacity") if isinstance(c, dict)],
        jobs_done=int(_float(fields, "jobs_done") or 0),
        images_done=int(_float(fields, "images_done") or 0),
        last_heartbeat=max(seen) if seen else None,
        idle_since=_float(fields, "idle_since"),
        moved_at=_float(fields, "moved_at"),
        metrics_port=int(port) if port is not None else None,
    )


def read_fleet(client: redis.Redis, offline_after_s: float, *, now: float | None = None) -> list[WorkerView]:
    """Every worker with a record, sorted by name; records that expired leave the index here."""
    nodes = sorted(str(n, "utf-8") if isinstance(n, bytes) else str(n) for n in client.smembers(INDEX_KEY))
    if not nodes:
        return []
    pipe = client.pipeline(transaction=False)
    for node in nodes:
        pipe.hgetall(worker_key(node))
    records = pipe.execute()
    moment = time.time() if now is None else now
    views, gone = [], []
    for node, raw in zip(nodes, records, strict=True):
        if not raw:
            gone.append(node)
            continue
        fields = {_text(k): _text(v) for k, v in raw.items()}
        views.append(view(node, fields, moment, offline_after_s))
    if gone:
        client.srem(INDEX_KEY, *gone)
    return views


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
