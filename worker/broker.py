"""What the broker holds: the task ids of messages waiting in queues or delivered and not yet acked.

Reads kombu's Redis layout (a list per queue and priority step; the `unacked` hash of delivered
messages) so the sweeper re-publishes only jobs whose message is really gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import redis

PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


def _task_id(raw: bytes | str) -> str | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if isinstance(message, list):  # unacked entries are [payload, exchange, routing_key]
        message = message[0] if message else {}
        if isinstance(message, str):
            return _task_id(message)
    headers = message.get("headers") if isinstance(message, dict) else None
    task_id = headers.get("id") if isinstance(headers, dict) else None
    return str(task_id) if task_id else None


def broker_task_ids(redis_url: str, queues: Iterable[str]) -> set[str]:
    """Task ids present in `queues` (every priority step) or in the unacked hash."""
    client = redis.Redis.from_url(redis_url)
    try:
        found: set[str] = set()
        for queue in queues:
            for step in PRIORITY_STEPS:
                key = queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}"
                for raw in client.lrange(key, 0, -1):
                    task_id = _task_id(raw)
                    if task_id:
                        found.add(task_id)
        for raw in client.hvals("unacked"):
            task_id = _task_id(raw)
            if task_id:
                found.add(task_id)
        return found
    finally:
        client.close()
