"""A small real fleet for end-to-end client tests: one A1111 stand-in, one GPU worker, API replicas,
and optionally the webhook dispatcher, all child processes of the test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes, base_env, wait_http
from worker.store.api_keys import ApiKeys

CHECKPOINT = "deliberate_v6"


@dataclass
class Fleet:
    api_urls: list[str]
    key: str
    key_name: str
    webhook_secret: str
    procs: Processes

    @property
    def api_url(self) -> str:
        return self.api_urls[0]


@contextmanager
def running_fleet(
    sdfleet_env: Mapping[str, str],
    volume: Path,
    log_dir: Path,
    sessions: sessionmaker[Session],
    *,
    apis: int = 1,
    dispatcher: bool = False,
    env: Mapping[str, str] | None = None,
    time_scale: float = 1.0,
) -> Iterator[Fleet]:
    """Start the fleet; everything is stopped on exit. `env` is given to every child."""
    procs = Processes(log_dir, {**base_env(), **sdfleet_env, **(env or {})})
    try:
        a1111 = procs.emulator(
            volume, f"{CHECKPOINT}.safetensors", env={"A1111_EMU_TIME_SCALE": str(time_scale)}
        )
        procs.worker(f"gpu-{uuid.uuid4().hex[:6]}", [CHECKPOINT], a1111_url=a1111.url)
        urls = [procs.api() for _ in range(apis)]
        if dispatcher:
            child = procs.group.start("dispatcher", [sys.executable, "-m", "worker.cli.main", "dispatcher"],
                                      procs.env)  # fmt: skip
            wait_http(urls[0] + "/healthz", child=child)
        keys = ApiKeys(sessions)
        name = f"fleet-{uuid.uuid4().hex[:8]}"
        key = keys.create(name)
        yield Fleet(urls, key, name, keys.webhook_secret(name) or "", procs)
    finally:
        procs.stop()
