"""A GPU worker SIGKILLed in the middle of a job: its A1111 dies with it (no orphan), the sweeper recovers
the job once its lease expires, and another worker completes it exactly once."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path

from tests.helpers.pids import emulator_pids, live_processes
from tests.helpers.processes import Processes, node
from tests.worker.resilience.conftest import (
    A1111,
    Fleet,
    launched_worker,
    message_count,
    unique,
    wait_job,
    wait_until,
)
from worker.store.jobs import JobStore


def sweeper_command(interval_s: float, grace_s: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "worker.cli.main",
        "sweeper",
        f"--interval-s={interval_s}",
        f"--grace-s={grace_s}",
    ]


def test_a_worker_killed_mid_job_leaves_no_a1111_and_the_job_completes_once_on_another_worker(
    processes: Processes, fleet: Fleet, job_store: JobStore, models_volume: Path
) -> None:
    # Given worker A, which launched its own A1111, holding a job in the middle of sampling
    name_a = unique("gpu-doomed")
    worker_a, a1111 = launched_worker(processes, name_a, env={"SDFLEET_LEASE_S": "5"})
    wait_until(a1111.answers, 60, "worker A's A1111 answering")
    a1111.add_fault(kind="hang", at_step=2)  # progress stops at step 2 until the process dies
    job_id = fleet.submit(prompt="a quiet street", steps=10, width=128, height=128, seed=51)
    wait_until(lambda: a1111.sampling(), 60, "the job sampling on worker A")
    assert job_store.get(uuid.UUID(job_id)).worker == node(name_a)
    a1111_pid = a1111.pid()
    # And worker B (attached to an A1111 of its own) and a sweeper
    spare = processes.emulator(models_volume, "deliberate_v6.safetensors")
    name_b = unique("gpu-spare")
    processes.worker(name_b, ["deliberate_v6"], a1111_url=spare.url)
    processes.group.start("sweeper", sweeper_command(0.5, 2.0), processes.env)

    # When worker A's main process is SIGKILLed
    os.kill(worker_a.process.pid, signal.SIGKILL)

    # Then no process of its A1111 survives it (nor the sentinel watching over it)
    wait_until(lambda: not emulator_pids(a1111.port), 15, f"A1111 (pid {a1111_pid}) gone after its worker")
    wait_until(lambda: not live_processes(f"{a1111_pid}", "sdfleet-a1111-sentinel"), 15, "sentinel gone")
    # And the job completed exactly once, on worker B, once the sweeper expired A's lease
    job = wait_job(job_store, job_id, timeout_s=90)
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    lost, succeeded = job.attempts
    assert (lost.number, lost.worker, lost.outcome, lost.category) == (
        1,
        node(name_a),
        "lost",
        "backend_unavailable",
    )
    assert "stopped renewing its lease" in (lost.message or "")
    assert (succeeded.number, succeeded.worker, succeeded.outcome) == (2, node(name_b), "succeeded")
    assert [(i.index, i.seed) for i in job.images] == [(0, 51)]
    assert job.images[0].storage_path.startswith(f"{job_id}/attempt-2/")
    assert A1111(spare.url).stats()["images_generated"] == 1

    # When the job's message is delivered once more (as Redis will restore the dead worker's copy, which
    # it still counts as delivered)
    redis_url = fleet.redis_url
    held = message_count(redis_url, job_id)
    fleet.publish(job_id, job.queue)
    wait_until(lambda: message_count(redis_url, job_id) == held, 30, "the duplicate delivered and acked")
    # Then nothing changed: one result, two attempts, the same image
    again = job_store.get(uuid.UUID(job_id))
    assert [a.number for a in again.attempts] == [1, 2] and again.status == "succeeded"
    assert [i.sha256 for i in again.images] == [i.sha256 for i in job.images]
    assert A1111(spare.url).stats()["images_generated"] == 1


def test_stopping_a_worker_stops_its_a1111(processes: Processes) -> None:
    # Given a worker that launched its A1111
    worker, a1111 = launched_worker(processes, unique("gpu-stopped"))
    wait_until(a1111.answers, 60, "the launched A1111 answering")
    # When the worker is stopped as an operator stops it (SIGTERM: warm shutdown)
    os.kill(worker.process.pid, signal.SIGTERM)
    worker.process.wait(60)
    # Then its A1111 is gone with it
    wait_until(lambda: not emulator_pids(a1111.port), 15, "A1111 gone after its worker stopped")
    assert "A1111 (pid" in worker.log_tail(200) and "stopped as asked" in worker.log_tail(200)
