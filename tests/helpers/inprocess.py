"""This test process as a GPU worker attached to a stand-in, for Celery's in-process worker fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from worker.context import close_worker_context, init_worker_context
from worker.settings import CoreSettings, WorkerSettings, get_settings, install


@contextlib.contextmanager
def attached_worker(a1111_url: str, checkpoints: list[str], **overrides: Any) -> Iterator[WorkerSettings]:
    """Install worker settings (the suite's services, `overrides` on top) and build the worker's context
    for the length of the block; the core settings come back afterwards."""
    core = get_settings()
    assert isinstance(core, CoreSettings)
    fields = {
        **core.model_dump(),
        "worker_name": "inproc",
        "checkpoints": checkpoints,
        "a1111_url": a1111_url,
        "a1111_launch": False,
        "a1111_poll_interval_s": 0.05,
        **overrides,
    }
    settings = WorkerSettings(**fields)
    install(settings)
    init_worker_context(settings)
    try:
        yield settings
    finally:
        close_worker_context()
        install(core)
