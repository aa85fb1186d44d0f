"""Real child processes for tests: emulated A1111s, GPU workers, the API; each stopped with its group."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from celery import Celery

from worker.cli.commands import api_command, worker_command
from worker.stack.processes import Child, ProcessGroup
from worker.stack.services import free_port

A1111_FLAGS = (
    "--xformers", "--no-half-vae", "--skip-python-version-check", "--skip-torch-cuda-test", "--skip-install",
    "--opt-sdp-attention", "--disable-safe-unpickle", "--api", "--nowebui", "--skip-version-check",
    "--no-hashing", "--no-download-sd-model",
)  # fmt: skip


def a1111_args(volume: Path, port: int, ckpt: str) -> list[str]:
    """The flags our workers give a real A1111 (DESIGN.md), for the stand-in."""
    models = volume / "models"
    return [
        *A1111_FLAGS,
        "--ckpt-dir", str(models / "checkpoints"),
        "--lora-dir", str(models / "loras"),
        "--embeddings-dir", str(models / "embeddings"),
        "--ckpt", str(models / "checkpoints" / ckpt),
        "--port", str(port),
    ]  # fmt: skip


@dataclass
class Emulator:
    child: Child
    url: str

    @property
    def admin(self) -> str:
        return self.url + "/emulator/v1"


def wait_http(url: str, timeout_s: float = 30.0, *, child: Child | None = None) -> None:
    """Returns once `url` answers any HTTP; raises with the child's log if it died first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail(40)}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


class Processes:
    """A test's children, all stopped at teardown.

    Workers are awaited with a Celery ping through `control` (default: the process's own app, on the
    session's broker); a test whose children use another broker passes an app on that broker.
    """

    def __init__(self, log_dir: Path, env: Mapping[str, str], *, control: Celery | None = None) -> None:
        self.group = ProcessGroup(log_dir)
        self.env = dict(env)
        self.control = control

    def emulator(self, volume: Path, ckpt: str, *, env: Mapping[str, str] | None = None) -> Emulator:
        port = free_port()
        args = [sys.executable, "-m", "emulator", *a1111_args(volume, port, ckpt)]
        child = self.group.start(f"a1111-{port}", args, {**self.env, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/sdapi/v1/sd-models", child=child)
        return Emulator(child, url)

    def worker(
        self,
        name: str,
        checkpoints: Sequence[str],
        *,
        a1111_url: str,
        launch: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> Child:
        worker_env = {
            **self.env,
            "SDFLEET_WORKER_NAME": name,
            "SDFLEET_CHECKPOINTS": json.dumps(list(checkpoints)),
            "SDFLEET_A1111_URL": a1111_url,
            "SDFLEET_A1111_LAUNCH": "true" if launch else "false",
            "SDFLEET_A1111_COMMAND": json.dumps([sys.executable, "-m", "emulator"]),
            **(env or {}),
        }
        host = worker_env.setdefault("SDFLEET_HOST_NAME", socket.gethostname())
        child = self.group.start(name, worker_command(name, checkpoints, host=host), worker_env)
        wait_worker(name, child, app=self.control)
        return child

    def api(self, env: Mapping[str, str] | None = None) -> str:
        port = free_port()
        child = self.group.start(f"api-{port}", api_command("127.0.0.1", port), {**self.env, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", child=child)
        return url

    def stop(self) -> None:
        self.group.stop(timeout_s=20)


def wait_worker(name: str, child: Child, timeout_s: float = 60.0, *, app: Celery | None = None) -> None:
    """Wait until the worker answers a Celery ping; raises with its log if it died."""
    from worker.celery_app import app as own_app

    control = (own_app if app is None else app).control
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"worker {name} exited:\n{child.log_tail(40)}")
        replies = control.ping(timeout=0.5) or []
        if any(key.startswith(f"{name}@") for reply in replies for key in reply):
            return
    raise TimeoutError(f"worker {name} did not answer a ping within {timeout_s} s:\n{child.log_tail(40)}")


def node(name: str) -> str:
    """The Celery node name (recorded on attempts) of a worker the helpers start as `name`."""
    return f"{name}@{socket.gethostname()}"


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env
