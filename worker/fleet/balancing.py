"""The balancer at work: every `balancer_interval_s`, the leader among running balancers reads the fleet
and the demand, applies `balancer.plan`'s moves with Celery remote control, and promotes aged batch jobs.

Runs in the sweeper process (or `sdfleet balancer`). Several may run: a Redis lock elects one leader and
the others wait for it to lapse, so a second one is harmless.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import redis
from celery import Celery
from redis.exceptions import LockError
from redis.lock import Lock

from worker.fleet import state
from worker.fleet.balancer import Demand, Move, Rule, Worker, plan
from worker.fleet.state import WorkerState, WorkerView
from worker.jobs.queues import checkpoint_queues, lane_queue
from worker.recovery.queue_contents import PRIORITY_SEP, PRIORITY_STEPS
from worker.settings import CoreSettings
from worker.store.jobs import JobStore
from worker.store.records import utcnow
from worker.vocabulary import Lane

log = logging.getLogger(__name__)
LEADER_KEY = "sdfleet:balancer:leader"

Publish = Callable[[str, str], None]


def queue_length(client: redis.Redis, queue: str) -> int:
    """Messages waiting in `queue`, every priority sub-list included (kombu's Redis layout)."""
    keys = [queue if step == 0 else f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    return int(sum(pipe.execute()))


class Balancer:
    """One balancer process's loop body (`tick`); leadership is held between ticks."""

    def __init__(
        self,
        settings: CoreSettings,
        client: redis.Redis,
        store: JobStore,
        control: Celery,
        publish: Publish,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rule = Rule(
            queued_weight_s=settings.balancer_queued_weight_s,
            switch_cost_s=settings.balancer_switch_cost_s,
            max_wait_s=settings.balancer_max_wait_s,
        )
        self._redis = client
        self._store = store
        self._app = control
        self._publish = publish
        self._clock = clock
        self._lock = Lock(client, LEADER_KEY, timeout=max(5.0, 5 * settings.balancer_interval_s))

    def tick(self) -> list[Move]:
        """One look: the moves made (none unless this process leads)."""
        if not self._lead():
            return []
        now = self._clock()
        fleet = state.read_fleet(self._redis, self.settings.worker_offline_after_s, now=now)
        workers = [self._candidate(v, now) for v in fleet if v.state in _SERVING]
        checkpoints = sorted({c for w in workers for c in w.serves})
        demand = {c: self.demand(c, now) for c in checkpoints}
        moves = plan(workers, {c: d for c, d in demand.items() if d.queued > 0}, now, self.rule)
        for move in moves:
            self.apply(move, now)
        self.promote_aged(checkpoints)
        return moves

    def demand(self, checkpoint: str, now: float) -> Demand:
        queues = checkpoint_queues(checkpoint)
        queued = sum(queue_length(self._redis, q) for q in queues)
        if queued == 0:
            return Demand(0, 0.0)
        oldest = self._store.oldest_queued(queues)
        wait_s = max(0.0, now - oldest.timestamp()) if oldest is not None else 0.0
        return Demand(queued, wait_s)

    def apply(self, move: Move, now: float) -> None:
        """Point the worker's consumer at the target's lanes (interactive first) and record it."""
        log.info("moving %s from %s to %s (%s)", move.worker, move.source, move.target, move.reason)
        control = self._app.control
        if move.source is not None:
            for queue in checkpoint_queues(move.source):
                control.cancel_consumer(queue, destination=[move.worker])
        for queue in checkpoint_queues(move.target):
            control.add_consumer(queue, destination=[move.worker])
        fields = {"queues": json.dumps(checkpoint_queues(move.target)), "moved_at": f"{now:.3f}"}
        state.write(self._redis, move.worker, fields, self.settings.worker_offline_after_s)

    def promote_aged(self, checkpoints: list[str]) -> list[uuid.UUID]:
        """Batch jobs queued longer than `batch_max_wait_s` join their checkpoint's interactive lane."""
        before = utcnow() - timedelta(seconds=self.settings.batch_max_wait_s)
        promoted = []
        for checkpoint in checkpoints:
            target = lane_queue(checkpoint, Lane.INTERACTIVE)
            for job_id in self._store.promote(lane_queue(checkpoint, Lane.BATCH), target, before):
                self._publish(str(job_id), target)
                promoted.append(job_id)
        if promoted:
            log.info("promoted %s batch jobs that waited %g s to the interactive lane", len(promoted),
                     self.settings.batch_max_wait_s)  # fmt: skip
        return promoted

    def _candidate(self, view: WorkerView, now: float) -> Worker:
        cooling = view.moved_at is not None and now - view.moved_at < self.settings.balancer_cooldown_s
        return Worker(
            name=view.name,
            checkpoint=view.assigned,
            serves=frozenset(view.serves),
            busy=view.state is WorkerState.BUSY,
            idle_since=view.idle_since,
            movable=view.state in (WorkerState.IDLE, WorkerState.BUSY) and not cooling,
        )

    def _lead(self) -> bool:
        try:
            if self._lock.owned():
                self._lock.reacquire()
                return True
            return bool(self._lock.acquire(blocking=False))
        except LockError:
            return False

    def release(self) -> None:
        try:
            self._lock.release()
        except LockError:
            pass


_SERVING = (WorkerState.IDLE, WorkerState.BUSY, WorkerState.STARTING)


def build_balancer(settings: CoreSettings, store: JobStore) -> Balancer:
    """The balancer of a sweeper or `sdfleet balancer` process, on this process's Celery app."""
    from worker.celery_app import app, ensure_configured, publish_job

    ensure_configured()
    client = redis.Redis.from_url(settings.redis_url or "", socket_timeout=5, socket_connect_timeout=5)
    return Balancer(settings, client, store, app, publish_job)
