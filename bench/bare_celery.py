"""A bare Celery app with sdfleet's broker and pool settings and a no-op task: B7's memory baseline."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("bare", broker=os.environ["SDFLEET_REDIS_URL"], set_as_current=False)
app.conf.update(
    task_acks_late=True,
    task_ignore_result=False,
    result_backend=os.environ["SDFLEET_REDIS_URL"],
    worker_prefetch_multiplier=1,
    worker_concurrency=1,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bare.noop")
def noop() -> None:
    """Does nothing."""
