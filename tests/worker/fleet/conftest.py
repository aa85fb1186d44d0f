"""Fleets for the tests of this package: launchers (`sdfleet worker --emulate N`) as real processes, on a
database and a Redis of the package's own (as the resilience tests have), and a balancer beside them."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.processes import Processes, base_env
from tests.worker.resilience.conftest import Fleet, wait_until
from worker.cli.commands import launcher_command
from worker.stack.processes import Child
from worker.stack.services import drop_database, ensure_database, free_port, start_redis
from worker.store.migrate import upgrade_head

# Fast heartbeats and a quick balancer, so that tests wait seconds, not minutes.
FLEET_ENV = {
    "SDFLEET_HEARTBEAT_S": "0.5",
    "SDFLEET_WORKER_OFFLINE_AFTER_S": "5",
    "SDFLEET_BALANCER_INTERVAL_S": "0.3",
    "SDFLEET_BALANCER_COOLDOWN_S": "2",
    "SDFLEET_LEASE_S": "10",
}
CHECKPOINTS = ("deliberate_v6", "jib_mix_illustrious_realistic_v2")


@dataclass
class Launched:
    """One launcher and what it runs."""

    child: Child
    host: str
    a1111_base_port: int
    metrics_base_port: int
    gpus: int

    def node(self, index: int) -> str:
        return f"gpu{index}@{self.host}"

    @property
    def nodes(self) -> list[str]:
        return [self.node(i) for i in range(self.gpus)]

    def a1111(self, index: int) -> str:
        return f"http://127.0.0.1:{self.a1111_base_port + index}"

    def loaded(self, index: int) -> bool:
        """True once GPU `index`'s A1111 answers with its start-up checkpoint loaded."""
        try:
            stats = self.stats(index)
        except httpx.HTTPError:
            return False
        return bool(stats["loaded_model"]) and not stats["model_loading"]

    def stats(self, index: int) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(self.a1111(index) + "/emulator/v1/stats", timeout=5).json()
        return stats


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(50):
        base = free_port()
        if base + count < 65000 and all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free ports")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Launchers:
    def __init__(self, processes: Processes, fleet: Fleet, tmp_path: Path) -> None:
        self.processes = processes
        self.fleet = fleet
        self.tmp_path = tmp_path

    def start(
        self,
        host: str | None = None,
        gpus: int = 2,
        checkpoints: tuple[str, ...] = CHECKPOINTS,
        env: Mapping[str, str] | None = None,
    ) -> Launched:
        host = host or f"host-{uuid.uuid4().hex[:6]}"
        a1111_base, metrics_base = free_ports(gpus), free_ports(gpus)
        state = self.tmp_path / f"state-{host}"
        child_env = {**self.processes.env, **FLEET_ENV, "SDFLEET_STATE_DIR": str(state), **(env or {})}
        command = launcher_command(
            emulate=gpus,
            host=host,
            checkpoints=checkpoints,
            a1111_base_port=a1111_base,
            metrics_base_port=metrics_base,
        )
        child = self.processes.group.start(f"launcher-{host}", command, child_env)
        launched = Launched(child, host, a1111_base, metrics_base, gpus)
        self.wait_nodes(launched.nodes, child)
        for index in range(gpus):
            wait_until(lambda i=index: launched.loaded(i), 60, f"{launched.node(index)}'s A1111 loaded")
        return launched

    def wait_nodes(self, nodes: list[str], child: Child, timeout_s: float = 120.0) -> None:
        def answered() -> bool:
            assert child.alive(), child.log_tail(40)
            replies = self.fleet.app.control.ping(timeout=0.5) or []
            return set(nodes) <= {name for reply in replies for name in reply}

        wait_until(answered, timeout_s, f"{nodes} answering a ping")

    def balancer(self, env: Mapping[str, str] | None = None) -> Child:
        command = [sys.executable, "-m", "worker.cli.main", "balancer"]
        return self.processes.group.start(
            "balancer", command, {**self.processes.env, **FLEET_ENV, **(env or {})}
        )

    def sweeper(self, env: Mapping[str, str] | None = None) -> Child:
        command = [sys.executable, "-m", "worker.cli.main", "sweeper", "--interval-s=0.5", "--grace-s=2"]
        return self.processes.group.start(
            "sweeper", command, {**self.processes.env, **FLEET_ENV, **(env or {})}
        )


@pytest.fixture(scope="package")
def fleet(
    postgres_server_url: str,
    sdfleet_env: dict[str, str],
    models_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    name = f"sdfleet_fleet_{uuid.uuid4().hex[:10]}"
    database_url = ensure_database(postgres_server_url, name)
    upgrade_head(database_url)
    redis = start_redis(tmp_path_factory.mktemp("fleet-redis"), persist=False)
    fleet = Fleet(database_url, redis.url, models_volume)
    yield fleet
    fleet.close()
    redis.stop()
    drop_database(postgres_server_url, name)


@pytest.fixture
def processes(fleet: Fleet, sdfleet_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path / "logs", {**base_env(), **sdfleet_env, **fleet.env}, control=fleet.app)
    yield procs
    procs.stop()


@pytest.fixture
def launchers(processes: Processes, fleet: Fleet, tmp_path: Path) -> Launchers:
    return Launchers(processes, fleet, tmp_path)


def wait_all(fleet: Fleet, ids: list[str], timeout_s: float = 180.0) -> list[Any]:
    """Every job of `ids` once all are finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [fleet.store.get(uuid.UUID(i)) for i in ids]
        if all(j.status in ("succeeded", "failed", "cancelled") for j in jobs):
            return jobs
        if time.monotonic() > deadline:
            pending = [(str(j.id), j.status, j.checkpoint) for j in jobs if j.status not in ("succeeded",)]
            raise TimeoutError(f"jobs not finished within {timeout_s} s: {pending[:5]}")
        time.sleep(0.2)
