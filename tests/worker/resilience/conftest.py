"""Probes for the resilience tests: wait for a job, look at a stand-in A1111 from outside, inject faults.

Every wait polls a condition against a deadline; none sleeps for a fixed time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from celery import Celery

from tests.helpers.pids import emulator_pids
from tests.helpers.processes import Processes, base_env
from worker.celery_app import publish_job
from worker.jobs.service import JobService
from worker.output.files import ResultStore
from worker.recovery.queue_contents import broker_messages
from worker.registry.resolver import RegistryResolver
from worker.settings import get_settings
from worker.stack.processes import Child
from worker.stack.services import drop_database, ensure_database, free_port, start_redis
from worker.store.engine import make_engine
from worker.store.jobs import JobStore
from worker.store.migrate import upgrade_head
from worker.store.models import Job

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


def message_count(redis_url: str, job_id: str, queue: str = "sd.deliberate_v6.batch") -> int:
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


class Fleet:
    """This package's own record and doorbell: a database and a Redis no other test writes to.

    The suite's other tests leave queued jobs and messages behind in the session's database and Redis;
    a worker or a sweeper started here would run them, and eat the faults armed for this package's jobs.
    Jobs are submitted here through a Celery app of the package's own.
    """

    def __init__(self, database_url: str, redis_url: str, volume: Path) -> None:
        self.redis_url = redis_url
        self.env = {"SDFLEET_DATABASE_URL": database_url, "SDFLEET_REDIS_URL": redis_url}
        self.engine = make_engine(database_url)
        self.store = JobStore(self.engine)
        self.resolver = RegistryResolver.for_volume(volume)
        self.app = probe_app(redis_url)

    def close(self) -> None:
        self.app.close()
        self.engine.dispose()

    def submit(self, **params: Any) -> str:
        """Validate, record and publish a job as `txt2img.delay` does; returns its id."""
        params.setdefault("checkpoint", "deliberate_v6")
        service = JobService(
            store=self.store,
            resolver=self.resolver,
            settings=get_settings(),
            results=ResultStore(get_settings().result_dir),
            events=None,
            publish=self.publish,
        )
        return service.submit(params)

    def publish(self, job_id: str, queue: str) -> None:
        """Ring the doorbell for a recorded job (also: deliver it once more)."""
        publish_job(job_id, queue, via=self.app)

    def queues_of(self, name: str) -> list[str] | None:
        """The queues worker `name` consumes, or None if it does not answer."""
        replies = self.app.control.inspect(timeout=1.0).active_queues() or {}
        for node, queues in replies.items():
            if node.startswith(f"{name}@"):
                return [queue["name"] for queue in queues]
        return None


def probe_app(redis_url: str) -> Celery:
    """A Celery app of a test's own on `redis_url`, to publish job ids and ping workers; close it after."""
    app = Celery("resilience-probe", broker=redis_url, set_as_current=False)
    app.conf.update(broker_connection_retry_on_startup=True, task_serializer="json", accept_content=["json"])
    return app


@contextmanager
def own_fleet(postgres_server_url: str, volume: Path, redis_dir: Path, prefix: str) -> Iterator[Fleet]:
    """A Fleet on a new database (named `<prefix>_<random>`) and a new embedded Redis; both are
    removed afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    database_url = ensure_database(postgres_server_url, name)
    upgrade_head(database_url)
    redis = start_redis(redis_dir, persist=False)
    fleet = Fleet(database_url, redis.url, volume)
    try:
        yield fleet
    finally:
        fleet.close()
        redis.stop()
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="package")
def fleet(
    postgres_server_url: str,
    sdfleet_env: dict[str, str],
    models_volume: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    redis_dir = tmp_path_factory.mktemp("fleet-redis")
    with own_fleet(postgres_server_url, models_volume, redis_dir, "sdfleet_resilience") as fleet:
        yield fleet


@pytest.fixture(scope="package")
def job_store(fleet: Fleet) -> JobStore:
    """This package's job record (shadows the session's)."""
    return fleet.store


@pytest.fixture
def processes(fleet: Fleet, sdfleet_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    """Children on this package's database and Redis (shadows the session's `processes`)."""
    procs = Processes(tmp_path / "logs", {**base_env(), **sdfleet_env, **fleet.env}, control=fleet.app)
    yield procs
    procs.stop()


@pytest.fixture(scope="module")
def module_processes(
    fleet: Fleet, sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processes]:
    """Children shared by the tests of one module (a worker whose start-up several tests share)."""
    procs = Processes(
        tmp_path_factory.mktemp("module-logs"), {**base_env(), **sdfleet_env, **fleet.env}, control=fleet.app
    )
    yield procs
    procs.stop()
