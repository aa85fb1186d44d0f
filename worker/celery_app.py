"""The Celery app, configured for long GPU jobs as celery-notes.md recommends, and the one way a job id
is published (`publish_job`).

The app object exists at import so that `from worker.tasks import txt2img` works, but its configuration
is a promise (`add_defaults` with a callable): settings are read, and URLs checked, only when Celery first
needs them, in the process that uses it.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from worker.errors import ConfigurationError
from worker.fleet.node import QueuesStep
from worker.jobs.queues import CONTROL_QUEUE
from worker.settings import CoreSettings, get_settings

app = Celery("sdfleet", include=["worker.tasks", "worker.signals", "worker.fleet.node"])
TASK_NAME = "sdfleet.txt2img"  # the one task; `worker.tasks.txt2img`


def celery_config(settings: CoreSettings, *, strict: bool = True) -> dict[str, Any]:
    """Celery settings for `settings`.

    Raises ConfigurationError when a URL is missing, unless not `strict`: then the URLs are left out,
    and `ensure_configured()` fills them in (or raises) when the app is first used to send or consume.
    """
    if strict and not settings.redis_url:
        raise ConfigurationError(
            "no broker URL: set SDFLEET_REDIS_URL (e.g. redis://127.0.0.1:6379/0) "
            "or run `sdfleet up` (from the same directory, or with the same SDFLEET_STATE_DIR: every "
            "`sdfleet` command then finds its embedded Redis)"
        )
    urls: dict[str, Any] = {"broker_url": settings.redis_url} if settings.redis_url else {}
    visibility_timeout = settings.visibility_timeout_s
    return {
        **urls,
        # No result backend: the job row is the result. `.get()` and the API read it, woken by the
        # job's event stream (worker.events), so no STARTED or SUCCESS write is made per job.
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_track_started": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        # At-least-once delivery; the Postgres claim/fence makes a second delivery harmless.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_retry_on_worker_lost": True,
        "task_acks_on_failure": True,
        "task_acks_on_timeout": True,
        "task_default_retry_delay": min(5, settings.max_retry_delay_s),
        "task_time_limit": settings.task_time_limit_s,
        "task_soft_time_limit": settings.task_time_limit_s - 30,
        # No task-sent event per publish (an extra Redis round trip per submission); Flower still sees
        # every task from the workers' received/started/succeeded events.
        "task_send_sent_event": False,
        "task_default_queue": CONTROL_QUEUE,
        # One GPU = one worker = one A1111 = one job at a time.
        "worker_pool": "prefork",
        "worker_concurrency": 1,
        "worker_prefetch_multiplier": 1,
        "worker_send_task_events": True,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_soft_shutdown_timeout": 30.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
            "socket_keepalive": True,
            "health_check_interval": 25,
            # A worker serves its queues in the order it lists them: a checkpoint's interactive lane
            # before its batch lane (celery-notes §2: separate queues rather than message priorities).
            "queue_order_strategy": "priority",
        },
        "visibility_timeout": visibility_timeout,
    }


def check_visibility_timeout(settings: CoreSettings) -> None:
    """Raises ConfigurationError when a long job could be delivered twice while it still runs."""
    needed = settings.task_time_limit_s + settings.max_retry_delay_s
    if settings.visibility_timeout_s <= needed:
        raise ConfigurationError(
            f"SDFLEET_VISIBILITY_TIMEOUT_S={settings.visibility_timeout_s} must exceed the hard time limit "
            f"plus the longest retry delay ({settings.task_time_limit_s} + {settings.max_retry_delay_s} = "
            f"{needed} s); otherwise Redis hands a running job to a second worker"
        )


def configure(settings: CoreSettings) -> None:
    """Configure the app from this process's settings (the API, the CLI and tests call it explicitly)."""
    app.conf.update(celery_config(settings))


def ensure_configured() -> None:
    """Called before the app sends anything: raises ConfigurationError if it has no broker, instead of
    letting kombu fall back to its default broker on localhost."""
    if not app.conf.broker_url:
        configure(get_settings())


def publish_job(
    job_id: str, queue: str, *, countdown_s: float | None = None, via: Celery | None = None
) -> None:
    """Ring the doorbell for a recorded job: a message carrying its id alone, on `queue`.

    The task is named, not imported, so the API and the sweeper never load the task module. The message's
    task id is the job id: a duplicate is recognisable, and a worker's claim makes it harmless. `via`
    sends through another app (a test's, on a broker of its own) instead of this process's.
    """
    if via is None:
        ensure_configured()
    (via or app).send_task(
        TASK_NAME, kwargs={"job_id": job_id}, task_id=job_id, queue=queue, countdown=countdown_s
    )


app.add_defaults(lambda: celery_config(get_settings(), strict=False))
app.steps["consumer"].add(QueuesStep)  # publishes the queues a worker consumes (the fleet's view)
