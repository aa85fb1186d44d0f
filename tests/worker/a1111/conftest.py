from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.worker.a1111 import children
from worker.a1111.supervisor import Supervisor
from worker.stack.services import free_port

MakeSupervisor = Callable[..., Supervisor]


class Scripts:
    """The child programs of children.py, written once per test."""

    def __init__(self, folder: Path) -> None:
        self.standin = children.write_script(folder, "standin", children.STANDIN)
        self.exit_3 = children.write_script(folder, "exit_3", children.EXIT_3)
        self.sigkill_self = children.write_script(folder, "sigkill_self", children.SIGKILL_SELF)
        self.ignores_sigterm = children.write_script(folder, "ignores_sigterm", children.IGNORES_SIGTERM)
        self.with_grandchild = children.write_script(folder, "with_grandchild", children.WITH_GRANDCHILD)
        self.worker = children.write_script(folder, "worker", children.WORKER)


@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    folder = tmp_path / "scripts"
    folder.mkdir()
    return Scripts(folder)


@pytest.fixture
def a1111_log(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "a1111-gpu0.log"


@pytest.fixture
def make_supervisor(a1111_log: Path) -> Iterator[MakeSupervisor]:
    """Supervisors with test-sized timings; every one is stopped after the test."""
    made: list[Supervisor] = []

    def make(cmd: Sequence[str], env: dict[str, str] | None = None, **kwargs: Any) -> Supervisor:
        options: dict[str, Any] = {"poll_interval_s": 0.02, "stop_timeout_s": 2.0, "startup_deadline_s": 10.0}
        options.update(kwargs)
        supervisor = Supervisor(cmd, env or {}, a1111_log, **options)
        made.append(supervisor)
        return supervisor

    yield make
    for supervisor in made:
        supervisor.stop()


@pytest.fixture
def standin_port() -> int:
    return free_port()


def loaded_probe(port: int) -> Callable[[], bool]:
    """What the client's probe checks, in miniature: the API answers and the checkpoint is loaded."""

    def probe() -> bool:
        try:
            return bool(httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).json()["loaded"])
        except httpx.TransportError:
            return False

    return probe
