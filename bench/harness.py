"""A benchmark run's world: its own services and work folder, a seeded model volume, real child
processes (stand-ins, workers, the API), and this process adopting the same settings as a client."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.services import adopt, services
from tests.helpers.processes import Processes, base_env
from worker.context import close_producer_context
from worker.stack.demo_volume import seed_volume


@dataclass
class World:
    work: Path
    env: dict[str, str]
    procs: Processes

    @property
    def volume(self) -> Path:
        return self.work / "volume"


@contextlib.contextmanager
def world(extra_env: dict[str, str] | None = None) -> Iterator[World]:
    """Services (the environment's servers, else embedded ones) and a database of the run's own."""
    work = Path(tempfile.mkdtemp(prefix="sdfleet-bench-"))
    work.chmod(0o755)
    try:
        with services(work) as urls:
            env = {
                **urls,
                "SDFLEET_MODELS_DIR": str(work / "volume"),
                "SDFLEET_RESULT_DIR": str(work / "results"),
                "SDFLEET_STATE_DIR": str(work / "state"),
                **(extra_env or {}),
            }
            seed_volume(work / "volume")
            adopt(env)
            procs = Processes(work / "logs", {**base_env(), **env})
            try:
                yield World(work, env, procs)
            finally:
                procs.stop()
                close_producer_context()
    finally:
        shutil.rmtree(work, ignore_errors=True)
