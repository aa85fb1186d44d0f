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


def broker_messages(redis_url: str, queues: Iterable[str]) -> list[str]:
    """The task id of every message in `queues` (every priority step) or in the unacked hash, one entry
    per message: a job whose message was published twice appears twice."""
    client = redis.Redis.from_url(redis_url)
    try:
        raws: list[bytes | str] = []
        for queue in queues:
            for step in PRIORITY_STEPS:
                key = queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}"
                raws.extend(client.lrange(key, 0, -1))
        raws.extend(client.hvals("unacked"))
    finally:
        client.close()
    return [task_id for task_id in map(_task_id, raws) if task_id]


def broker_task_ids(redis_url: str, queues: Iterable[str]) -> set[str]:
    """Task ids present in `queues` (every priority step) or in the unacked hash."""
    return set(broker_messages(redis_url, queues))
