"""Probes for the resilience tests: wait for a job, look at a stand-in A1111 from outside, inject faults.

Every wait polls a condition against a deadline; none sleeps for a fixed time.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.helpers.processes import Processes, base_env
from worker.broker import broker_messages
from worker.cli.processes import Child
from worker.cli.services import free_port
from worker.db.models import Job
from worker.jobs.store import JobStore

T = TypeVar("T")
TERMINAL = ("succeeded", "failed", "cancelled")


def unique(name: str) -> str:
    """A worker name no other test uses: what a GPU holds is remembered per worker name."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def wait_until(condition: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy; returns it. Raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)


def wait_job(
    store: JobStore, job_id: str, timeout_s: float = 120.0, statuses: Sequence[str] = TERMINAL
) -> Job:
    """The job once its status is one of `statuses` (by default: finished)."""

    def reached() -> Job | None:
        job = store.get(uuid.UUID(job_id))
        return job if job.status in statuses else None

    return wait_until(reached, timeout_s, f"job {job_id} reaching {'/'.join(statuses)}", interval_s=0.1)


@dataclass
class A1111:
    """A stand-in A1111 seen from outside: its HTTP API, its admin API, its process."""

    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def progress(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(f"{self.url}/sdapi/v1/progress", timeout=5).json()["state"]
        return state

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.url}/emulator/v1/stats", timeout=5).json()
        return stats

    def add_fault(self, **spec: Any) -> None:
        httpx.post(f"{self.url}/emulator/v1/faults", json=spec, timeout=5).raise_for_status()

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/sdapi/v1/sd-models", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def pids(self) -> list[int]:
        return emulator_pids(self.port)

    def pid(self, timeout_s: float = 30.0) -> int:
        """The pid of the one live stand-in on this port."""
        pids = wait_until(self.pids, timeout_s, f"a stand-in A1111 on port {self.port}")
        assert len(pids) == 1, pids
        return pids[0]

    def sampling(self) -> bool:
        """True while a generation is between its first and last step."""
        try:
            state = self.progress()
        except httpx.HTTPError:
            return False
        return bool(state["job_count"] != 0 and state["sampling_step"] >= 1)


def _live_cmdline(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):  # a zombie is dead; PID 1 here never reaps
        return None
    return raw.decode(errors="replace").split("\0")


def emulator_pids(port: int) -> list[int]:
    """Live processes whose command line is a stand-in A1111 listening on `port`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _live_cmdline(int(entry))
        if argv and "emulator" in argv and "--port" in argv:
            index = argv.index("--port")
            if index + 1 < len(argv) and argv[index + 1] == str(port):
                found.append(int(entry))
    return found


def live_processes(*parts: str) -> list[int]:
    """Live processes whose command line contains every one of `parts`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = _live_cmdline(int(entry))
            if argv and all(any(part in arg for arg in argv) for part in parts):
                found.append(int(entry))
    return found


def message_count(redis_url: str, job_id: str, queue: str = "sd.deliberate_v6") -> int:
    """How many messages for `job_id` the broker holds (queued, or delivered and not yet acked)."""
    return broker_messages(redis_url, [queue]).count(job_id)


def local_a1111() -> A1111:
    """The address a launched A1111 will listen on."""
    return A1111(f"http://127.0.0.1:{free_port()}")


def launched_worker(
    processes: Processes, name: str, *, env: Mapping[str, str] | None = None, checkpoints: Sequence[str] = ()
) -> tuple[Child, A1111]:
    """A GPU worker that launches its own stand-in A1111 (with A1111's flags); returns both."""
    a1111 = local_a1111()
    child = processes.worker(
        name, list(checkpoints or ["deliberate_v6"]), a1111_url=a1111.url, launch=True, env=env
    )
    return child, a1111


@pytest.fixture(scope="module")
def module_processes(
    sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processes]:
    """Children shared by the tests of one module (a worker whose start-up several tests share)."""
    procs = Processes(tmp_path_factory.mktemp("module-logs"), {**base_env(), **sdfleet_env})
    yield procs
    procs.stop()
