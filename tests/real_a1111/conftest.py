"""The real-A1111 tier: the real sdfleet worker launches A1111 itself and runs real Celery jobs through it.

Each scenario runs twice, on two targets, with the same worker, flags, volume and jobs:

- `stand-in`: `python -m emulator` (always);
- `real`: AUTOMATIC1111 v1.10.1 on the CPU (when `environment.py` finds the install and the fixtures;
  otherwise skipped, naming what is missing).

The worker may serve both test checkpoints; a balancer of the tier's own moves it between them.

The worker gets A1111's fixed flags (DESIGN.md) plus the CPU ones through `SDFLEET_A1111_EXTRA_ARGS`, and
a fresh `--data-dir` per session, so nothing A1111 saves (config.json, caches) outlives the session or
lands in its checkout. Jobs go through a database and a Redis of the tier's own (the resilience tests'
`Fleet`), so no job left over by another test reaches a worker that takes seconds per step.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.gpu import timing
from emulator.models.arch import Arch
from tests.helpers.pids import a1111_auth, a1111_pids
from tests.helpers.processes import Processes, base_env
from tests.real_a1111.environment import (
    CPU_FLAGS,
    Fixtures,
    fixtures_from_env,
    fixtures_problems,
    install_from_env,
)
from tests.worker.resilience.conftest import Fleet, own_fleet, wait_until
from worker.registry.architecture import Architecture
from worker.stack.processes import Child
from worker.stack.samples import write_checkpoint, write_lora
from worker.stack.services import free_port

TARGETS = ("stand-in", "real")
CHECKPOINTS = ("deliberate_v6", "sd15_alt")
LORA = "test_lora_sd15"
STAND_IN_TIME_SCALE = 0.02  # sdfleet_env's A1111_EMU_TIME_SCALE
# A CPU is slower than the GPUs the worker's limits are made for: seconds per 64² step (17 s on a loaded
# machine), up to 25 s to apply a LoRA the first time. Its operator would set these, as the tier does.
CPU_WORKER_ENV = {"SDFLEET_A1111_DEADLINE_FACTOR": "20", "SDFLEET_A1111_STALL_S": "240"}


@dataclass
class Gpu:
    """One worker and the A1111 it launched, seen from outside as a test sees a real one."""

    target: str
    name: str
    url: str
    worker: Child
    data_dir: Path
    state_dir: Path
    notes: dict[str, Any] = field(default_factory=dict)

    def portable(self, text: str) -> str:
        """`text` without what differs between the targets' runs (their folders and worker names)."""
        for own, shown in (
            (self.state_dir, "<state dir>"),
            (self.data_dir, "<data dir>"),
            (self.name, "<worker>"),
        ):
            text = text.replace(str(own), shown)
        return text

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def pid(self, timeout_s: float = 120.0) -> int:
        """The pid of the one live A1111 on this worker's port."""
        pids = wait_until(lambda: a1111_pids(self.port), timeout_s, f"an A1111 on port {self.port}")
        assert len(pids) == 1, pids
        return pids[0]

    def peak_rss_gb(self) -> float | None:
        """The most memory the current A1111 process has held (VmHWM), for the run log."""
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**20, 2)
        return None

    def auth(self) -> tuple[str, str] | None:
        return a1111_auth(self.pid())

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        """One call to A1111's API, as the worker would make it (with its --api-auth, if any)."""
        credentials = self.auth() if auth else None
        return httpx.request(method, self.url + path, auth=credentials, timeout=60, **kwargs)

    def json(self, path: str) -> Any:
        answer = self.request("GET", path)
        answer.raise_for_status()
        return answer.json()

    def sampling_step(self) -> int:
        """The step A1111 is at (0 when idle or between jobs; -1 when it does not answer)."""
        try:
            state = self.json("/sdapi/v1/progress?skip_current_image=true")["state"]
        except httpx.HTTPError:
            return -1
        return int(state["sampling_step"]) if state["job_count"] != 0 else 0

    def slow_down(self, step_s: float, width: int, height: int) -> None:
        """Stand-in only: make each step of the next job of this size take `step_s` seconds (the real
        A1111 on a CPU is slow enough by itself)."""
        if self.target != "stand-in":
            return
        base_s = timing.step_seconds(Arch.SD15, width, height, 1, linear_attention=True)
        fault = {"kind": "slow", "factor": step_s / (base_s * STAND_IN_TIME_SCALE)}
        httpx.post(self.url + "/emulator/v1/faults", json=fault, timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def observations() -> dict[str, dict[str, Any]]:
    """What each target answered, noted by the scenarios and compared by test_stand_in_fidelity.py."""
    return {target: {} for target in TARGETS}


@pytest.fixture(scope="session")
def tier_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prepared fixtures' volume when there is one (both targets then read the same files), else a
    volume of small sample files with the same names (the stand-in reads headers only)."""
    fixtures = fixtures_from_env()
    if not fixtures_problems(fixtures):
        return fixtures.volume
    volume = tmp_path_factory.mktemp("tier-volume")
    models = volume / "models"
    for name in CHECKPOINTS:
        write_checkpoint(models / "checkpoints" / f"{name}.safetensors", Architecture.SD15)
    write_lora(models / "loras" / f"{LORA}.safetensors", Architecture.SD15, output_name=LORA)
    (models / "embeddings").mkdir(parents=True)
    return volume


@pytest.fixture(scope="session")
def tier_fleet(
    postgres_server_url: str,
    sdfleet_env: dict[str, str],
    tier_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    redis_dir = tmp_path_factory.mktemp("tier-redis")
    with own_fleet(postgres_server_url, tier_volume, redis_dir, "sdfleet_real_a1111") as fleet:
        yield fleet


def _launcher_and_env(target: str) -> tuple[list[str], dict[str, str]]:
    """How the worker launches this target's A1111, and what A1111 needs in its environment."""
    if target == "stand-in":
        return [sys.executable, "-m", "emulator"], {}
    install, problems = install_from_env()
    fixtures: Fixtures = fixtures_from_env()
    problems += fixtures_problems(fixtures)
    if install is None or problems:
        pytest.skip("real A1111 not available: " + "; ".join(problems))
    return install.launcher, {**fixtures.env(), **CPU_WORKER_ENV}


@pytest.fixture(scope="module", params=TARGETS)
def gpu(
    request: pytest.FixtureRequest,
    tier_fleet: Fleet,
    tier_volume: Path,
    sdfleet_env: dict[str, str],
    observations: dict[str, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gpu]:
    """A GPU worker serving both checkpoints, which launches its own A1111 of this target."""
    target: str = request.param
    launcher, target_env = _launcher_and_env(target)
    root = tmp_path_factory.mktemp(f"tier-{target}")
    data_dir, state_dir = root / "a1111-data", root / "state"
    data_dir.mkdir()
    procs = Processes(root / "logs", {**base_env(), **sdfleet_env, **tier_fleet.env}, control=tier_fleet.app)
    name = f"tier-{target}-{uuid.uuid4().hex[:6]}"
    url = f"http://127.0.0.1:{free_port()}"
    # The worker consumes the first checkpoint's lanes; the balancer moves it to the other's when a job
    # waits there (docs/operations.md), looking often, so a switch is not a wait
    balancing = {
        "SDFLEET_HEARTBEAT_S": "0.5",
        "SDFLEET_BALANCER_INTERVAL_S": "0.3",
        "SDFLEET_BALANCER_COOLDOWN_S": "0",
    }
    env = {
        **balancing,
        "SDFLEET_MODELS_DIR": str(tier_volume),
        "SDFLEET_STATE_DIR": str(state_dir),
        "SDFLEET_A1111_COMMAND": json.dumps(launcher),
        "SDFLEET_A1111_EXTRA_ARGS": json.dumps([*CPU_FLAGS, "--data-dir", str(data_dir)]),
        **target_env,
    }
    started = time.monotonic()
    try:
        worker = procs.worker(name, list(CHECKPOINTS), a1111_url=url, launch=True, env=env)
        procs.group.start(
            "balancer", [sys.executable, "-m", "worker.cli.main", "balancer"], {**procs.env, **balancing}
        )
        gpu = Gpu(target, name, url, worker, data_dir, state_dir, observations[target])
        # A1111 listens 7-30 s after it starts on a CPU (before its model is loaded)
        wait_until(lambda: gpu.sampling_step() >= 0, 300, f"the {target} A1111 answering", interval_s=0.5)
        observations[target].setdefault("_timings", {})["A1111 answers"] = round(
            time.monotonic() - started, 1
        )
        yield gpu
    finally:
        procs.stop()
        observations[target].setdefault("_timings", {})["session_s"] = round(time.monotonic() - started, 1)
