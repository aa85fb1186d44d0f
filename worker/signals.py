"""Celery signal handlers: per-process start-up and shutdown of the worker's resources.

Connected when the app imports this module (listed in the app's `include`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown

from worker.celery_app import celery_config, check_visibility_timeout
from worker.context import close_worker_context, init_worker_context
from worker.errors import ConfigurationError
from worker.settings import get_worker_settings

log = logging.getLogger(__name__)


@worker_init.connect
def _refuse_unsafe_settings(sender: Any = None, **_: Any) -> None:
    """In the main worker process, before consuming: refuse missing URLs, a visibility timeout too short,
    or a node name (`-n`) other than the settings' (`SDFLEET_WORKER_NAME@SDFLEET_HOST_NAME`), which the
    fleet's view and the balancer's moves go by.

    Exits the process: Celery logs and swallows an Exception raised by a signal handler, and would go on
    to consume with the unsafe settings, but lets SystemExit through.
    """
    settings = get_worker_settings()
    try:
        celery_config(settings)  # raises ConfigurationError naming a missing URL
        check_visibility_timeout(settings)
        hostname = getattr(sender, "hostname", None)
        if hostname is not None and hostname != settings.node_name:
            raise ConfigurationError(
                f"the node name is {hostname} but the settings say {settings.node_name} "
                "(SDFLEET_WORKER_NAME@SDFLEET_HOST_NAME): start it with `sdfleet worker`, or pass -n "
                f"{settings.node_name}"
            )
    except ConfigurationError as exc:
        log.critical("refusing to start: %s", exc)
        raise SystemExit(f"sdfleet worker: refusing to start: {exc}") from exc


@worker_process_init.connect
def _build_context(**_: Any) -> None:
    settings = get_worker_settings()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per A1111 poll drowns the log
    init_worker_context(settings)
    log.info(
        "worker %s ready for %s (A1111 at %s)", settings.worker_name, settings.checkpoints, settings.a1111_url
    )


@worker_process_shutdown.connect
def _close_context(**_: Any) -> None:
    close_worker_context()
