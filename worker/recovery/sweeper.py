"""The sweeper: periodic and idempotent, it makes sure every accepted job reaches a worker.

- A running job whose lease expired (its worker died) gets its attempt recorded as lost and is handed
  back to the queue with a new message — its old one is still "delivered" to the dead worker in the
  broker's unacked set, where kombu would only restore it after the visibility timeout (an hour) — or
  failed once it has used all its attempts.
- A queued job whose message is in no queue and not delivered (Redis restarted without persistence,
  or a crash between commit and publish) is published again.
Duplicates this may create are harmless: a worker's claim is fenced by the attempt number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.celery_app import publish_job
from worker.errors import ConfigurationError
from worker.events.stream import JobEvents
from worker.fleet.balancing import build_balancer
from worker.recovery.queue_contents import broker_task_ids
from worker.settings import CoreSettings
from worker.store.engine import make_engine
from worker.store.jobs import JobStore
from worker.store.records import ExpiredLease, LeaseExpiry, utcnow
from worker.vocabulary import EventKind, FailureCategory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    republished: int  # queued jobs whose message had vanished
    recovered: int  # expired leases handed back (and published again)
    failed: int  # expired leases that were their job's last attempt


def sweep_once(
    store: JobStore,
    *,
    present_ids: Callable[[set[str]], set[str]],
    publish: Callable[[str, str], None],
    grace_s: float,
    events: JobEvents | None = None,
    now: datetime | None = None,
) -> SweepReport:
    """One pass. `present_ids(queues)` returns the job ids the broker still holds for those queues."""
    now = now or utcnow()
    recovered, failed = _recover(store, store.expired_leases(now), publish, now, events)
    candidates = store.queued_before(now - timedelta(seconds=grace_s))
    present = present_ids({queue for _, queue in candidates}) if candidates else set()
    republished = 0
    for job_id, queue in candidates:
        if str(job_id) not in present:
            publish(str(job_id), queue)
            store.mark_published(job_id)
            republished += 1
    if republished or recovered or failed:
        log.warning(
            "sweep: republished %s, recovered %s expired leases, failed %s", republished, recovered, failed
        )
    return SweepReport(republished, recovered, failed)


def recover_worker(
    store: JobStore, worker: str, publish: Callable[[str, str], None], events: JobEvents | None = None
) -> SweepReport:
    """Hand back at once the jobs of `worker` (a node name), whose process is known to be dead: what the
    sweeper does when their leases expire, without waiting for that."""
    now = utcnow()
    recovered, failed = _recover(store, store.end_leases_of(worker, now), publish, now, events)
    if recovered or failed:
        log.warning(
            "worker %s died: %s jobs handed back, %s failed (no attempts left)", worker, recovered, failed
        )
    return SweepReport(0, recovered, failed)


def _recover(
    store: JobStore,
    leases: list[ExpiredLease],
    publish: Callable[[str, str], None],
    now: datetime,
    events: JobEvents | None,
) -> tuple[int, int]:
    """Record expired leases' attempts as lost; publish the jobs handed back. Returns (handed back,
    failed)."""
    recovered = failed = 0
    for lease in leases:
        expiry = store.expire_lease(lease.job_id, lease.attempt, now)
        if expiry is LeaseExpiry.HANDED_BACK:
            publish(str(lease.job_id), lease.queue)
            store.mark_published(lease.job_id)
            if events is not None:
                events.emit(lease.job_id, EventKind.LOST, attempt=lease.attempt)
            recovered += 1
        elif expiry is LeaseExpiry.FAILED:
            if events is not None:
                events.emit(
                    lease.job_id,
                    EventKind.FAILED,
                    attempt=lease.attempt,
                    category=FailureCategory.BACKEND_UNAVAILABLE.value,
                    message="its worker stopped renewing the lease on its last attempt",
                )
            failed += 1
    return recovered, failed


def run_forever(
    settings: CoreSettings, *, interval_s: float, grace_s: float | None = None, balance: bool = True
) -> None:
    """Sweep every `interval_s` until killed; `grace_s` defaults to the `sweeper_grace_s` setting.

    With `balance`, the fleet's balancer runs in the same loop every `balancer_interval_s`.
    """
    if settings.redis_url is None:
        raise ConfigurationError("the sweeper needs SDFLEET_REDIS_URL")
    redis_url = settings.redis_url
    grace = settings.sweeper_grace_s if grace_s is None else grace_s
    store = JobStore(make_engine(settings.database_url, pool_size=1))
    events = JobEvents.from_url(redis_url, finished_ttl_s=settings.events_ttl_s)
    balancer = build_balancer(settings, store) if balance else None
    log.info("sweeper: every %g s, grace %g s%s", interval_s, grace, ", balancing" if balancer else "")
    next_sweep = 0.0
    while True:
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + interval_s
            try:
                sweep_once(
                    store,
                    present_ids=lambda queues: broker_task_ids(redis_url, queues),
                    publish=publish_job,
                    grace_s=grace,
                    events=events,
                )
            except Exception:  # the sweeper must outlive a Postgres or Redis outage; it logs and tries again
                log.exception("sweep failed; trying again in %s s", interval_s)
        if balancer is not None:
            try:
                balancer.tick()
            except Exception:  # as above: the balancer tries again at its next tick
                log.exception("balancing failed; trying again")
        pause = settings.balancer_interval_s if balancer is not None else interval_s
        time.sleep(max(0.0, min(pause, next_sweep - time.monotonic())))
