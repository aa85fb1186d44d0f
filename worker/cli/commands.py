"""Command lines of sdfleet's long-running processes, built in one place for the CLI, the stack and tests."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from worker.jobs.queues import checkpoint_queues


def worker_command(
    name: str, checkpoints: Sequence[str], *, host: str = "%h", loglevel: str = "INFO"
) -> list[str]:
    """`celery worker` for one GPU as node `name@host`: prefork, one process, prefetch 1, events on.

    It consumes the lanes of the first checkpoint (the one its A1111 loads at start), interactive first;
    the balancer moves it to the others.
    """
    queues = ",".join(checkpoint_queues(checkpoints[0]))
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "-n", f"{name}@{host}", "-Q", queues,
        "-P", "prefork", "-c", "1", "--prefetch-multiplier", "1",
        "-E", "--without-gossip", "--without-mingle", "-l", loglevel,
    ]  # fmt: skip


def launcher_command(
    *,
    emulate: int,
    host: str,
    checkpoints: Sequence[str],
    a1111_base_port: int,
    metrics_base_port: int,
) -> list[str]:
    """`sdfleet worker --emulate N`: one launcher running N emulated GPUs' workers (the local stack)."""
    return [
        sys.executable, "-m", "worker.cli.main", "worker", "--emulate", str(emulate), "--host-name", host,
        "--checkpoints", ",".join(checkpoints), "--a1111-base-port", str(a1111_base_port),
        "--metrics-base-port", str(metrics_base_port),
    ]  # fmt: skip


def api_command(host: str | None = None, port: int | None = None) -> list[str]:
    """The producer API (`python -m api`); host and port default to its settings."""
    command = [sys.executable, "-m", "api"]
    if host is not None:
        command += ["--host", host]
    if port is not None:
        command += ["--port", str(port)]
    return command


def flower_command(host: str, port: int) -> list[str]:
    """Flower on `host:port`; its basic-auth credentials come from FLOWER_BASIC_AUTH in the environment."""
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower",
        f"--address={host}", f"--port={port}", "--purge_offline_workers=600",
    ]  # fmt: skip


def sweeper_command() -> list[str]:
    return [sys.executable, "-m", "worker.cli.main", "sweeper"]


def dispatcher_command() -> list[str]:
    return [sys.executable, "-m", "worker.cli.main", "dispatcher"]


def emulator_launcher() -> list[str]:
    """How workers launch the A1111 stand-in: A1111's own flags follow it unchanged."""
    return [sys.executable, "-m", "emulator"]
