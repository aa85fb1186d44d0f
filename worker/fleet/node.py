"""The main Celery process's part of a worker's published state: the queues it consumes, and its end.

- `QueuesStep`, a consumer bootstep, writes the queues the consumer listens to every heartbeat (the
  balancer moves a worker by changing them with remote control).
- On warm shutdown (SIGTERM) the worker is marked `draining` with a deadline `drain_grace_s` away; the
  pool process watches for it (`presence.py`) and hands back a job still running then. On exit the worker
  is marked stopped, and shows `offline` at once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import redis
from celery import bootsteps
from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from worker.fleet import state
from worker.settings import WorkerSettings, get_worker_settings

log = logging.getLogger(__name__)


def _client(settings: WorkerSettings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url or "", socket_timeout=2, socket_connect_timeout=2)


class QueuesStep(bootsteps.StartStopStep):
    """Publishes the queues this worker consumes, every `heartbeat_s`, from the consumer's timer."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer: Any = None
        self._redis: redis.Redis | None = None

    def start(self, parent: Any) -> None:
        settings = get_worker_settings()
        self._redis = _client(settings)
        self._beat(parent)
        self._timer = parent.timer.call_repeatedly(settings.heartbeat_s, self._beat, (parent,), priority=10)

    def stop(self, parent: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        if self._redis is not None:
            self._redis.close()

    def _beat(self, consumer: Any) -> None:
        settings = get_worker_settings()
        task_consumer = consumer.task_consumer
        queues = [queue.name for queue in task_consumer.queues] if task_consumer is not None else []
        fields = {"queues": json.dumps(queues), "main_seen_at": f"{time.time():.3f}", "pid": str(os.getpid())}
        try:
            assert self._redis is not None
            state.write(self._redis, settings.node_name, fields, settings.worker_offline_after_s)
        except redis.RedisError as exc:  # a Redis outage must not stop the consumer
            log.warning("publishing the worker's queues failed: %s", exc)


def _mark(fields: dict[str, str]) -> None:
    settings = get_worker_settings()
    client = _client(settings)
    try:
        state.write(client, settings.node_name, fields, settings.worker_offline_after_s)
    except redis.RedisError as exc:
        log.warning("marking the worker %s failed: %s", fields, exc)
    finally:
        client.close()


@worker_init.connect
def _fresh_record(**_: Any) -> None:
    """A (re)started worker is neither draining nor stopped, whatever its last run left behind."""
    settings = get_worker_settings()
    client = _client(settings)
    try:
        client.hdel(state.worker_key(settings.node_name), "draining", "drain_deadline", "stopped", "job")
    except redis.RedisError as exc:
        log.warning("resetting the worker's record failed: %s", exc)
    finally:
        client.close()


@worker_shutting_down.connect
def _draining(how: str = "", **_: Any) -> None:
    """Warm shutdown: running jobs have `drain_grace_s`; a cold one hands them back at once."""
    grace_s = get_worker_settings().drain_grace_s if how.lower().startswith("warm") else 0.0
    _mark({"draining": "1", "drain_deadline": f"{time.time() + grace_s:.3f}"})


@worker_shutdown.connect
def _stopped(**_: Any) -> None:
    _mark({"stopped": "1"})
