"""The whole local stack in one process tree: services, migrations, emulated GPUs, workers, API, Flower.

Used by `sdfleet up` (in the foreground until Ctrl-C/SIGTERM) and `sdfleet demo`.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from worker.cli import commands
from worker.errors import ConfigurationError
from worker.settings import CoreSettings
from worker.stack.demo_volume import seed_volume
from worker.stack.processes import ProcessGroup
from worker.stack.record import StackRecord, remove_record, write_record
from worker.stack.services import EmbeddedRedis, ensure_database, start_postgres, start_redis, wait_for_port
from worker.store.migrate import upgrade_head

log = logging.getLogger(__name__)


CATALOGUE_CHECKPOINTS = ("deliberate_v6", "jib_mix_illustrious_realistic_v2")
# A 16 GB card: SDXL at 1024² holds a batch of 2, so the demo's batch of 4 shows the OOM backoff.
EMULATED_VRAM_MB = 16384


@dataclass
class StackConfig:
    settings: CoreSettings
    gpus: int = 2  # emulated GPUs, run by one launcher (`sdfleet worker --emulate N`)
    checkpoints: tuple[str, ...] = CATALOGUE_CHECKPOINTS  # what the GPUs serve; they start spread over it
    a1111_base_port: int = 7861
    metrics_base_port: int = 9200
    api_port: int = 8000
    flower_port: int = 5555
    time_scale: float = 0.25
    host_name: str = "local"
    drain_grace_s: float = 30.0  # Ctrl-C lets running jobs finish this long before handing them back
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return [f"gpu{i}@{self.host_name}" for i in range(self.gpus)]


class LocalStack:
    """Starts everything on enter and stops everything on exit, children first, services last."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.state_dir = config.settings.state_dir.resolve()
        self.processes = ProcessGroup(self.state_dir / "logs")
        self.redis_url = config.settings.redis_url
        self.database_url = config.settings.database_url
        self._redis: EmbeddedRedis | None = None
        self._postgres: Any = None
        self.flower_credentials = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{self.config.flower_port}"

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._start_services()
        assert self.database_url is not None
        upgrade_head(self.database_url)
        seed_volume(self.config.settings.models_dir.resolve())
        env = self.env()
        config = self.config
        launcher = commands.launcher_command(
            emulate=config.gpus,
            host=config.host_name,
            checkpoints=config.checkpoints,
            a1111_base_port=config.a1111_base_port,
            metrics_base_port=config.metrics_base_port,
        )
        drain = {"SDFLEET_DRAIN_GRACE_S": str(config.drain_grace_s)}
        self.processes.start("workers", launcher, {**drain, **env, **self._emulator_env()})
        self.processes.start("api", commands.api_command("127.0.0.1", self.config.api_port), env)
        self.flower_credentials = self._flower_credentials()
        flower_env = {**env, "FLOWER_BASIC_AUTH": self.flower_credentials}
        self.processes.start(
            "flower", commands.flower_command("127.0.0.1", self.config.flower_port), flower_env
        )
        self.processes.start("sweeper", commands.sweeper_command(), env)
        self.processes.start("dispatcher", commands.dispatcher_command(), env)
        write_record(
            self.state_dir,
            StackRecord(os.getpid(), self.redis_url or "", self.database_url, self.api_url, self.flower_url),
        )

    def stop(self) -> None:
        remove_record(self.state_dir, os.getpid())
        # The launcher drains its workers first: give it their grace and its margin.
        self.processes.stop(timeout_s=self.config.drain_grace_s + 60.0)
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None

    def env(self) -> dict[str, str]:
        """The environment every child gets: the URLs and directories, explicit and absolute."""
        settings = self.config.settings
        assert self.redis_url is not None and self.database_url is not None
        return {
            **os.environ,
            **self.config.extra_env,
            "SDFLEET_REDIS_URL": self.redis_url,
            "SDFLEET_DATABASE_URL": self.database_url,
            "SDFLEET_STATE_DIR": str(self.state_dir),
            "SDFLEET_MODELS_DIR": str(settings.models_dir.resolve()),
            "SDFLEET_RESULT_DIR": str(settings.result_dir.resolve()),
            "SDFLEET_PUBLIC_URL": settings.public_url or self.api_url,
            "PYTHONUNBUFFERED": "1",
        }

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Returns when the API is ready and every worker answers a ping; raises ConfigurationError."""
        from worker.celery_app import app

        wait_for_port("127.0.0.1", self.config.api_port, timeout_s)
        deadline = time.monotonic() + timeout_s
        wanted = set(self.config.nodes)
        while time.monotonic() < deadline:
            self._check_alive()
            answered = {name for reply in (app.control.ping(timeout=1.0) or []) for name in reply}
            ready = httpx.get(self.api_url + "/readyz", timeout=5).status_code == 200
            if ready and wanted <= answered:
                return
            time.sleep(0.5)
        raise ConfigurationError(
            f"the stack was not ready within {timeout_s:g} s; see {self.processes.log_dir}"
        )

    def _check_alive(self) -> None:
        dead = self.processes.dead()
        if dead:
            child = dead[0]
            raise ConfigurationError(
                f"{child.name} exited with {child.process.returncode}; last lines of {child.log_path}:\n"
                + child.log_tail()
            )

    def _emulator_env(self) -> dict[str, str]:
        """Knobs of the stand-ins only (a real A1111 ignores them)."""
        return {
            "A1111_EMU_TIME_SCALE": str(self.config.time_scale),
            "A1111_EMU_VRAM_MB": str(EMULATED_VRAM_MB),
        }

    def _start_services(self) -> None:
        if self.redis_url is None:
            self._redis = start_redis(self.state_dir / "redis")
            self.redis_url = self._redis.url
            log.info("embedded Redis at %s", self.redis_url)
        if self.database_url is None:
            self._postgres, server_url = start_postgres(self.state_dir / "postgres")
            self.database_url = ensure_database(server_url, "sdfleet")
            log.info("embedded Postgres at %s", self.database_url)

    def _flower_credentials(self) -> str:
        path = self.state_dir / "flower-credentials"
        if not path.exists():
            path.write_text(f"admin:{secrets.token_urlsafe(18)}\n")
            path.chmod(0o600)
        return path.read_text().strip()
