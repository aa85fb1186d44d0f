"""The webhook dispatcher: sends due deliveries from the outbox, signs them, retries with exponential
backoff, and logs every try on the delivery (shown with the job).

Run as `sdfleet dispatcher` (the local stack and compose run one); any number may run, since deliveries
are claimed with FOR UPDATE SKIP LOCKED. A delivery whose URL the guard now refuses, or that has no
secret to sign with, fails at once: retrying would not change either.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from worker.errors import InvalidRequest
from worker.jobs.view import IMAGE_PATH, job_view
from worker.policy.backoff import backoff_s
from worker.settings import CoreSettings
from worker.store.api_keys import ApiKeys
from worker.store.deliveries import DeliveryStore, DueDelivery
from worker.store.engine import make_engine, make_session_factory
from worker.store.jobs import JobStore
from worker.store.records import utcnow
from worker.vocabulary import DeliveryState
from worker.webhooks import signature
from worker.webhooks.guard import CallbackGuard
from worker.webhooks.sender import TryResult, post

log = logging.getLogger(__name__)
CLAIM_LEASE_MARGIN_S = 30.0  # a claim outlives the POST's timeout by this much


@dataclass(frozen=True)
class DispatchPolicy:
    """How deliveries are tried (from the settings)."""

    timeout_s: float = 10.0
    max_tries: int = 8
    retry_base_s: float = 10.0
    retry_max_s: float = 3600.0
    batch: int = 16
    concurrency: int = 4


class Dispatcher:
    def __init__(
        self,
        *,
        deliveries: DeliveryStore,
        jobs: JobStore,
        keys: ApiKeys,
        guard: CallbackGuard,
        policy: DispatchPolicy,
        deployment_secret: str | None,
        image_url: str | None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deliveries = deliveries
        self._jobs = jobs
        self._keys = keys
        self._guard = guard
        self._policy = policy
        self._deployment_secret = deployment_secret
        self._image_url = image_url
        self._clock = clock
        self._client = httpx.Client(
            transport=transport, timeout=policy.timeout_s, follow_redirects=False, trust_env=False
        )
        self._pool = ThreadPoolExecutor(max_workers=policy.concurrency, thread_name_prefix="webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def run_once(self) -> int:
        """Try every delivery due now; returns how many were tried."""
        due = self._deliveries.claim_due(
            limit=self._policy.batch, lease_s=self._policy.timeout_s + CLAIM_LEASE_MARGIN_S
        )
        for _ in self._pool.map(self._deliver, due):
            pass
        return len(due)

    def run_forever(self, *, poll_s: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Dispatch until `stop()`; a database outage is logged and waited out."""
        while not stop():
            try:
                tried = self.run_once()
            except Exception:  # the dispatcher must outlive a Postgres outage; it logs and tries again
                log.exception("dispatch failed; trying again in %s s", poll_s)
                tried = 0
            if not tried:
                time.sleep(poll_s)

    def _deliver(self, delivery: DueDelivery) -> None:
        job = self._jobs.get(delivery.job_id)
        secret = self._keys.webhook_secret(job.owner) if job.owner else self._deployment_secret
        if not secret:
            self._give_up(delivery, "no secret to sign with (the key has none; SDFLEET_WEBHOOK_SECRET unset)")
            return
        try:
            target = self._guard.check(delivery.url)
        except InvalidRequest as exc:
            self._give_up(delivery, f"refused: {exc}")
            return
        body = json.dumps(job_view(job, image_url=self._image_url), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Sdfleet-Event": delivery.event,
            "Sdfleet-Delivery": str(delivery.id),
            signature.HEADER: signature.sign(secret, body, int(self._clock())),
        }
        result = post(self._client, target, body, headers)
        self._record(delivery, result)

    def _record(self, delivery: DueDelivery, result: TryResult) -> None:
        entry = self._entry(delivery, result.status_code, result.error, result.duration_s)
        if result.delivered:
            state, wait_s = DeliveryState.DELIVERED, 0.0
        elif delivery.tries >= self._policy.max_tries:
            state, wait_s = DeliveryState.FAILED, 0.0
        else:
            state = DeliveryState.PENDING
            wait_s = backoff_s(
                delivery.tries, base_s=self._policy.retry_base_s, cap_s=self._policy.retry_max_s
            )
            entry["retry_in_s"] = wait_s
        self._deliveries.record(delivery, entry, state=state, retry_in_s=wait_s)
        if not result.delivered:
            log.warning(
                "webhook %s of job %s, try %s: %s",
                delivery.id,
                delivery.job_id,
                delivery.tries,
                result.error or result.status_code,
            )

    def _give_up(self, delivery: DueDelivery, error: str) -> None:
        self._deliveries.record(delivery, self._entry(delivery, None, error, 0.0), state=DeliveryState.FAILED)
        log.warning("webhook %s of job %s not sent: %s", delivery.id, delivery.job_id, error)

    def _entry(
        self, delivery: DueDelivery, status_code: int | None, error: str | None, duration_s: float
    ) -> dict[str, Any]:
        return {
            "try": delivery.tries,
            "at": utcnow().isoformat(),
            "status_code": status_code,
            "error": error,
            "duration_ms": round(duration_s * 1000, 1),
        }


def build_dispatcher(settings: CoreSettings) -> Dispatcher:
    """A dispatcher over the settings' database (raises ValueError for an allowed network that does
    not parse)."""
    engine = make_engine(settings.database_url, pool_size=2)
    sessions = make_session_factory(engine)
    image_url = None
    if settings.public_url:
        image_url = settings.public_url.rstrip("/") + IMAGE_PATH
    return Dispatcher(
        deliveries=DeliveryStore(sessions),
        jobs=JobStore(engine),
        keys=ApiKeys(sessions),
        guard=CallbackGuard.from_settings(settings.webhook_allowed_networks, settings.webhook_allowed_hosts),
        policy=DispatchPolicy(
            timeout_s=settings.webhook_timeout_s,
            max_tries=settings.webhook_max_tries,
            retry_base_s=settings.webhook_retry_base_s,
            retry_max_s=settings.webhook_retry_max_s,
        ),
        deployment_secret=settings.webhook_secret,
        image_url=image_url,
    )
