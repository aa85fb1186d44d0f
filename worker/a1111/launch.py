"""Building a worker's Supervisor from its settings (called in `worker_process_init`, main thread)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from worker.a1111.command import a1111_command, a1111_env
from worker.a1111.supervisor import Supervisor
from worker.errors import ConfigurationError
from worker.settings import WorkerSettings

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def a1111_log_path(settings: WorkerSettings) -> Path:
    return settings.state_dir / "logs" / f"a1111-gpu{settings.gpu_index}.log"


def launch_supervisor(settings: WorkerSettings, *, start: bool = True) -> Supervisor:
    """A Supervisor for this worker's A1111, started unless `start` is false (it loads while we connect).

    Raises ConfigurationError when `a1111_url` is not a local URL with a port, or A1111 cannot launch.
    """
    port = local_port(settings.a1111_url)
    if not settings.checkpoints:
        raise ConfigurationError("a launched A1111 needs a checkpoint: SDFLEET_CHECKPOINTS is empty")
    volume = settings.models_dir.absolute()
    ckpt = volume / "models" / "checkpoints" / f"{settings.checkpoints[0]}.safetensors"
    launcher = settings.a1111_command
    cmd = a1111_command(
        volume=volume, port=port, ckpt=ckpt, launcher=launcher, extra_flags=settings.a1111_extra_args
    )
    # `python /opt/webui/webui.py` runs where A1111 expects to be: next to webui.py.
    cwd = Path(launcher[-1]).parent if launcher and launcher[-1].endswith(".py") else None
    supervisor = Supervisor(
        cmd,
        a1111_env(settings.gpu_index, os.environ),
        a1111_log_path(settings),
        cwd=cwd,
        startup_deadline_s=settings.a1111_startup_deadline_s,
    )
    if start:
        supervisor.start()
    return supervisor


def local_port(url: str) -> int:
    """The port of a URL on this host; raises ConfigurationError for anything else."""
    parts = urlsplit(url)
    if parts.hostname not in _LOCAL_HOSTS or parts.port is None:
        raise ConfigurationError(
            f"SDFLEET_A1111_URL={url!r}: a launched A1111 listens on this host, so the URL must be "
            "http://127.0.0.1:<port>"
        )
    return parts.port
