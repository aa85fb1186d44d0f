"""Settings of a worker process, and of any Python process that submits with `txt2img.delay`.

Read once per process through `get_settings()`; nothing else in `worker` reads the environment.
Every variable is `SDFLEET_<FIELD>` (for example `SDFLEET_REDIS_URL`); docs/configuration.md lists them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    """What every sdfleet process needs: where the record, the doorbell, the models and images live."""

    model_config = SettingsConfigDict(env_prefix="SDFLEET_", extra="ignore")

    redis_url: str | None = Field(
        default=None, description="Celery broker, e.g. redis://127.0.0.1:6379/0. Required."
    )
    database_url: str | None = Field(
        default=None, description="Postgres, e.g. postgresql+psycopg://user@host/db. Required."
    )
    state_dir: Path = Field(default=Path("var"), description="Local state: embedded services, logs.")
    models_dir: Path = Field(default=Path("var/models"), description="The model volume (holds models/).")
    result_dir: Path = Field(default=Path("var/results"), description="Where job images are written.")
    default_checkpoint: str = "deliberate_v6"
    max_batch_size: int = Field(default=16, ge=1, description="Largest batch_size a job may ask for.")
    max_pixels: int = Field(default=2048 * 2048, description="Largest width × height.")
    task_time_limit_s: int = Field(default=1800, ge=60, description="Celery hard time limit per job.")
    max_retry_delay_s: int = Field(default=30, ge=0, description="Longest countdown of any retry.")
    visibility_timeout_s: int = Field(default=3900, description="Redis visibility timeout.")
    max_attempts: int = Field(default=4, ge=1, description="Attempts per job, all causes together.")
    lease_s: int = Field(default=60, ge=5, description="A running job's lease; renewed while it runs.")
    blocked_terms: list[str] = Field(default_factory=list, description="Content policy: refused terms.")


class WorkerSettings(CoreSettings):
    """A GPU worker: which A1111 it owns or attaches to, and which checkpoints it serves."""

    worker_name: str = "gpu0"
    gpu_index: int = 0
    gpu_label: str | None = Field(
        default=None,
        description="Key under which what this GPU holds is remembered; workers with identical cards "
        "may share one (e.g. 'rtx4090-24g'). Default: the worker name.",
    )
    checkpoints: list[str] = Field(default_factory=lambda: ["deliberate_v6"])
    a1111_url: str = "http://127.0.0.1:7861"
    a1111_launch: bool = Field(default=False, description="Launch A1111 (else attach to a1111_url).")
    a1111_command: list[str] = Field(default_factory=lambda: ["python", "webui.py"])
    a1111_request_timeout_s: float = 600.0
    a1111_startup_deadline_s: float = 300.0
    a1111_poll_interval_s: float = 0.5

    @property
    def gpu_key(self) -> str:
        return self.gpu_label or self.worker_name


@lru_cache(maxsize=1)
def get_settings() -> WorkerSettings:
    """The settings of this process, read from the environment on first call."""
    return WorkerSettings()
