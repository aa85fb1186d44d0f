"""A restart loop: a worker whose A1111 crashes on every job takes itself out of rotation after three
crashes in a row, instead of burning every job in the queue; the queue drains to a healthy worker."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.processes import Processes, node
from tests.worker.resilience.conftest import Fleet, launched_worker, unique, wait_job, wait_until
from worker.store.jobs import JobStore

JOBS = 5


def test_a_restart_loop_takes_the_worker_out_of_rotation_and_the_queue_drains_to_a_healthy_worker(
    processes: Processes, fleet: Fleet, job_store: JobStore, models_volume: Path
) -> None:
    # Given a worker whose A1111 (any A1111 it starts) crashes one step into every generation
    crash_always = json.dumps({"kind": "crash", "at_step": 1, "times": None, "exit_code": 1})
    name_bad = unique("gpu-bad")
    bad, a1111 = launched_worker(processes, name_bad, env={"A1111_EMU_FAULTS": crash_always})
    assert fleet.queues_of(name_bad) == ["sd.deliberate_v6.interactive", "sd.deliberate_v6.batch"]
    # When jobs are queued for it
    ids = [fleet.submit(prompt=f"a kite {n}", steps=4, width=64, height=64) for n in range(JOBS)]
    # Then after three crashes in a row it stops consuming its queue, and leaves its A1111 down
    wait_until(lambda: fleet.queues_of(name_bad) == [], 120, f"{name_bad} leaving rotation")
    assert bad.alive(), "an unhealthy worker stays up for an operator to look at"
    assert not a1111.answers() and not a1111.pids()
    # And when a healthy worker joins, the queue drains to it: every job completes
    spare = processes.emulator(models_volume, "deliberate_v6.safetensors")
    name_good = unique("gpu-good")
    processes.worker(name_good, ["deliberate_v6"], a1111_url=spare.url)
    jobs = [wait_job(job_store, job_id, timeout_s=120) for job_id in ids]
    assert [job.status for job in jobs] == ["succeeded"] * JOBS, [
        (j.failure_category, j.failure_message) for j in jobs
    ]
    attempts = [attempt for job in jobs for attempt in job.attempts]
    on_bad = [a for a in attempts if a.worker == node(name_bad)]
    # The bad worker burned three attempts in all (the restart loop), each recorded as a crash
    assert len(on_bad) == 3
    assert {(a.outcome, a.category) for a in on_bad} == {("retried", "backend_crashed")}
    assert all("exited with code 1" in (a.message or "") for a in on_bad)
    assert {a.worker for a in attempts if a.outcome == "succeeded"} == {node(name_good)}
    assert fleet.queues_of(name_bad) == []
