"""The webhook outbox as the dispatcher uses it: claim due deliveries (FOR UPDATE SKIP LOCKED, so any
number of dispatchers share the work), then record each try.

A claim moves the delivery's `next_attempt_at` past the claim lease and counts the try before anything
is sent: a dispatcher that dies mid-send leaves a delivery that becomes due again when the lease ends.
A try is recorded only by the claim that made it (fenced by the try count).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.store.models import WebhookDelivery
from worker.store.records import utcnow
from worker.vocabulary import DeliveryState


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery: `tries` counts this one."""

    id: int
    job_id: uuid.UUID
    url: str
    event: str
    tries: int


class DeliveryStore:
    def __init__(self, sessions: sessionmaker[Session], *, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    def claim_due(self, *, limit: int, lease_s: float) -> list[DueDelivery]:
        """Up to `limit` due deliveries, held for `lease_s` (locked rows of other dispatchers skipped)."""
        now = self._clock()
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.state == DeliveryState.PENDING.value,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in rows:
                row.tries += 1
                row.next_attempt_at = now + timedelta(seconds=lease_s)
                claimed.append(DueDelivery(row.id, row.job_id, row.url, row.event, row.tries))
            return claimed

    def record(
        self, delivery: DueDelivery, entry: dict[str, Any], *, state: DeliveryState, retry_in_s: float = 0
    ) -> bool:
        """Append `entry` to the log and set the state (PENDING: due again in `retry_in_s`); False if
        another claim took the delivery over meanwhile."""
        now = self._clock()
        values: dict[str, Any] = {"log": WebhookDelivery.log.op("||")([entry]), "state": state.value}
        if state is DeliveryState.PENDING:
            values["next_attempt_at"] = now + timedelta(seconds=retry_in_s)
        else:
            values["finished_at"] = now
        with self._sessions.begin() as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery.id,
                    WebhookDelivery.tries == delivery.tries,
                    WebhookDelivery.state == DeliveryState.PENDING.value,
                )
                .values(**values)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]
