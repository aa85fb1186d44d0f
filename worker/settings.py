"""Settings: one pydantic-settings class per kind of process, one object per process.

- `CoreSettings`: what every process needs (the sweeper, one-shot commands, anything that submits with
  `txt2img.delay`); `get_settings()` reads it from the environment once.
- `WorkerSettings`: a GPU worker; `get_worker_settings()` reads it once, in a Celery worker process.
- The API's `ApiSettings` (in `api/`) extends `CoreSettings` the same way.

An entry point or a test that builds its settings itself hands them over with `install()`; nothing
rewrites the environment or clears a cache to reconfigure a process. Every variable is
`SDFLEET_<FIELD>` (for example `SDFLEET_REDIS_URL`); docs/configuration.md lists them, and each default
is written here only.
"""

from __future__ import annotations

import json
import shlex
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.a1111.command import refused_extra_flags
from worker.policy.quality import QualityPolicy


def _words(separator: str | None) -> Any:
    """A list from the environment: JSON, or text split on `separator` (None: shell words)."""

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        if separator is None:
            return shlex.split(text)
        return [part.strip() for part in text.split(separator) if part.strip()]

    return BeforeValidator(parse)


CommaList = Annotated[list[str], NoDecode, _words(",")]
CommandLine = Annotated[list[str], NoDecode, _words(None)]


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
    sweeper_grace_s: float = Field(
        default=20.0,
        ge=0,
        description="The sweeper re-publishes a queued job only if it has not changed for this long and "
        "its message is in no queue (covers the moment between commit and publish).",
    )
    events_ttl_s: int = Field(
        default=3600,
        ge=60,
        description="How long a finished job's event stream (its live progress) is kept in Redis; the job "
        "and its attempt timeline stay in Postgres.",
    )
    blocked_terms: CommaList = Field(
        default_factory=list, description="Content policy: refused terms, comma-separated or JSON; re:=regex."
    )
    public_url: str | None = Field(
        default=None, description="The API's base URL, for links (image URLs, also in webhooks)."
    )
    webhook_secret: str | None = Field(
        default=None,
        description="Signs webhooks of jobs without an API key (txt2img.delay, or the API without auth); "
        "jobs of a key are signed with that key's own secret.",
    )
    webhook_allowed_networks: CommaList = Field(
        default_factory=list,
        description="Networks (CIDR) callback URLs may resolve to besides public addresses, e.g. "
        "10.0.0.0/8 for an internal receiver.",
    )
    webhook_allowed_hosts: CommaList = Field(
        default_factory=list, description="Host names allowed as callback URLs whatever they resolve to."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="One webhook POST's time limit.")
    webhook_max_tries: int = Field(default=8, ge=1, description="Tries of one webhook delivery.")
    webhook_retry_base_s: float = Field(
        default=10.0, gt=0, description="Wait after a webhook's first failed try; doubled after each next."
    )
    webhook_retry_max_s: float = Field(default=3600.0, gt=0, description="Longest wait between two tries.")
    webhook_poll_s: float = Field(
        default=1.0, gt=0, description="How often the dispatcher looks for due webhook deliveries."
    )

    # The fleet: how workers are seen, and how the balancer moves them (docs/operations.md).
    worker_offline_after_s: float = Field(
        default=15.0, gt=0, description="A worker whose state was not refreshed for this long is offline."
    )
    balancer_interval_s: float = Field(default=1.0, gt=0, description="How often the balancer looks.")
    balancer_switch_cost_s: float = Field(
        default=30.0,
        ge=0,
        description="What one checkpoint load is worth in the balancer's pressure units (seconds of "
        "waiting); a second worker joins a checkpoint only when its pressure per worker exceeds it.",
    )
    balancer_queued_weight_s: float = Field(
        default=10.0, ge=0, description="Pressure of one queued job, in seconds of waiting (SwarmUI's 10)."
    )
    balancer_max_wait_s: float = Field(
        default=120.0,
        gt=0,
        description="A checkpoint whose oldest queued job waited this long with no worker on it takes a "
        "worker from another checkpoint, even a busy one (no starvation).",
    )
    balancer_cooldown_s: float = Field(
        default=5.0, ge=0, description="A worker just moved is not moved again for this long."
    )
    batch_max_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="A batch job queued this long is promoted to its checkpoint's interactive lane.",
    )


class ClientSettings(CoreSettings):
    """A command-line client (`sdfleet submit`, `sdfleet jobs`): which API it talks to, as whom."""

    api_url: str | None = Field(
        default=None,
        description="The sdfleet API the CLI calls; default: the running local stack's, else "
        "http://127.0.0.1:8000.",
    )
    api_key: str | None = Field(default=None, description="The API key the CLI sends.")


class WorkerSettings(CoreSettings):
    """A GPU worker: which A1111 it owns or attaches to, and which checkpoints it serves."""

    worker_name: str = Field(default="gpu0", description="Celery node name before the @ (`gpu<i>`).")
    host_name: str = Field(
        default_factory=socket.gethostname, description="Celery node name after the @; unique per host."
    )
    gpu_index: int = 0
    gpu_label: str | None = Field(
        default=None,
        description="Key under which what this GPU holds is remembered; workers with identical cards "
        "may share one (e.g. 'rtx4090-24g'). Default: the node name (`gpu0@host`).",
    )
    checkpoints: CommaList = Field(
        default_factory=lambda: ["deliberate_v6"],
        description="Checkpoints this worker may serve, comma-separated or JSON; the first is loaded at "
        "A1111 start and its queues consumed; the balancer moves the worker among the others.",
    )
    a1111_url: str = "http://127.0.0.1:7861"
    a1111_launch: bool = Field(default=False, description="Launch A1111 (else attach to a1111_url).")
    a1111_command: CommandLine = Field(
        default_factory=lambda: ["python", "webui.py"],
        description="How to launch A1111 (shell words or JSON); A1111's flags are appended.",
    )
    a1111_extra_args: CommandLine = Field(
        default_factory=list,
        description="Flags appended after the worker's own when it launches A1111 (shell words or JSON), "
        "e.g. `--data-dir /srv/a1111-data`, or `--use-cpu all --no-half --precision full` on a CPU.",
    )
    a1111_request_timeout_s: float = 600.0
    a1111_startup_deadline_s: float = 300.0
    a1111_checkpoint_load_deadline_s: float = Field(
        default=300.0,
        gt=0,
        description="How long one checkpoint switch may take; a load that hangs past it has A1111 killed "
        "and restarted, and the attempt is `timeout`.",
    )
    a1111_poll_interval_s: float = 0.5
    a1111_stall_s: float | None = Field(
        default=None,
        gt=0,
        description="A generation whose progress (batch, step) does not advance for this long is "
        "interrupted, then A1111 is killed and restarted. Default: a quarter of the generation deadline, "
        "at least 60 s.",
    )
    a1111_deadline_factor: float = Field(
        default=1.0,
        gt=0,
        description="Multiplies every generation deadline (worker/policy/deadlines.py, calibrated on "
        "consumer GPUs): raise it for slower hardware, e.g. 20 for A1111 on a CPU.",
    )
    a1111_interrupt_grace_s: float = Field(
        default=10.0,
        gt=0,
        description="How long an interrupted generation may take to return before A1111 is killed.",
    )
    heartbeat_s: float = Field(default=3.0, gt=0, description="How often the worker publishes its state.")
    drain_grace_s: float = Field(
        default=300.0,
        ge=0,
        description="On SIGTERM a running job may finish for this long; then it is interrupted and handed "
        "back to the queue.",
    )
    metrics_port: int | None = Field(
        default=None, description="Serve this worker's Prometheus metrics on this port (None: not served)."
    )
    gpu_metrics_url: str | None = Field(
        default=None,
        description="Without NVML: a dcgm-exporter-format URL to read GPU utilisation and temperature from.",
    )

    quality_floor: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="An image whose output-quality score is below this is stored flagged `low_quality` "
        "(kept, never dropped); 0 flags none. See docs/quality.md.",
    )
    quality_retry: bool = Field(
        default=False,
        description="Retry a job once when one of its images scores below quality_floor (same seeds, so "
        "it helps only where the cause is transient); the retry's images are kept, flagged if low.",
    )

    @property
    def node_name(self) -> str:
        """The Celery node name, `gpu0@host`: unique in the fleet, recorded on attempts."""
        return f"{self.worker_name}@{self.host_name}"

    @field_validator("a1111_extra_args")
    @classmethod
    def _own_flags_stay_ours(cls, value: list[str]) -> list[str]:
        refused = refused_extra_flags(value)
        if refused:
            raise ValueError(
                f"{', '.join(refused)}: where A1111 listens, who may call it and which models it reads are "
                "the worker's to set"
            )
        return value

    @property
    def gpu_key(self) -> str:
        return self.gpu_label or self.node_name

    @property
    def quality(self) -> QualityPolicy:
        """What the runner does with an image's output-quality score."""
        return QualityPolicy(floor=self.quality_floor, retry=self.quality_retry)

    @property
    def limits(self) -> RunLimits:
        """The timing limits the runner, the backend and the supervisor work within."""
        return RunLimits(
            lease_s=self.lease_s,
            poll_interval_s=self.a1111_poll_interval_s,
            request_timeout_s=self.a1111_request_timeout_s,
            startup_deadline_s=self.a1111_startup_deadline_s,
            checkpoint_load_deadline_s=self.a1111_checkpoint_load_deadline_s,
            stall_s=self.a1111_stall_s,
            interrupt_grace_s=self.a1111_interrupt_grace_s,
            deadline_factor=self.a1111_deadline_factor,
        )


@dataclass(frozen=True)
class RunLimits:
    """How long each phase of running a job may take; built from `WorkerSettings` (defaults live there)."""

    lease_s: float  # a running job's lease, renewed while it runs
    poll_interval_s: float  # how often a running generation is watched
    request_timeout_s: float  # the longest any one A1111 call may take
    startup_deadline_s: float  # A1111 process start until its API answers with a model loaded
    checkpoint_load_deadline_s: float  # one checkpoint switch
    stall_s: float | None  # no progress for this long is a hang (None: derived from the deadline)
    interrupt_grace_s: float  # an interrupted generation may take this long to return
    deadline_factor: float  # stretches every generation deadline (slow hardware)

    @classmethod
    def defaults(cls) -> RunLimits:
        """The limits of a worker with no settings given (for tests and tools that build one)."""
        return WorkerSettings.model_construct().limits


_lock = threading.Lock()
_current: CoreSettings | None = None


def install(settings: CoreSettings) -> None:
    """Make `settings` this process's settings: called by an entry point (or a test) that built them."""
    global _current
    with _lock:
        _current = settings


def get_settings() -> CoreSettings:
    """This process's settings: those installed, else `CoreSettings` read from the environment once."""
    global _current
    with _lock:
        if _current is None:
            _current = CoreSettings()
        return _current


def get_worker_settings() -> WorkerSettings:
    """A GPU worker process's settings, read from the environment once.

    Celery reads its own configuration (core fields only) through `get_settings()` before the worker's
    signals run; the worker's settings then replace that object: the same environment, read into the
    class with the worker's fields.
    """
    global _current
    with _lock:
        if not isinstance(_current, WorkerSettings):
            _current = WorkerSettings()
        return _current
