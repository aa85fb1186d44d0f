"""`sdfleet worker --emulate N`: the launcher names and pins its workers, restarts one that dies (handing
its job back at once), and leaves the others alone."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

from tests.worker.fleet.conftest import CHECKPOINTS, Launchers
from tests.worker.resilience.conftest import A1111, Fleet, wait_job, wait_until
from worker.jobs.queues import checkpoint_queues


def celery_main(launcher_pid: int, node: str) -> int:
    """The pid of the Celery main process of `node`: the launcher's child with that worker's name."""
    name = node.split("@")[0]
    found = [pid for pid in _children(launcher_pid) if _environ(pid).get("SDFLEET_WORKER_NAME") == name]
    assert len(found) == 1, (node, found)
    return found[0]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_launcher_names_pins_and_restarts_its_workers(launchers: Launchers, fleet: Fleet) -> None:
    # Given a launcher with two emulated GPUs, and no sweeper: only the launcher can hand a job back early
    launched = launchers.start(gpus=2, env={"SDFLEET_LEASE_S": "300"})
    # Then its workers are gpu0@<host> and gpu1@<host>, spread over the checkpoints, each A1111 on base + i
    # and pinned to its GPU
    for index, checkpoint in enumerate(CHECKPOINTS):
        assert fleet.queues_of(f"gpu{index}") == checkpoint_queues(checkpoint)
        a1111 = A1111(launched.a1111(index))
        wait_until(a1111.answers, 60, f"gpu{index}'s A1111")
        assert _environ(a1111.pid())["CUDA_VISIBLE_DEVICES"] == str(index)
        assert _environ(celery_main(launched.child.process.pid, launched.node(index)))[
            "CUDA_VISIBLE_DEVICES"
        ] == str(index)
    survivor = celery_main(launched.child.process.pid, launched.node(0))
    # And gpu1 is in the middle of a job that will not finish on this A1111
    hung = A1111(launched.a1111(1))
    hung.add_fault(kind="hang", at_step=2)
    job_id = fleet.submit(
        prompt="a harbour", checkpoint=CHECKPOINTS[1], steps=6, width=256, height=256, seed=5
    )
    wait_until(hung.sampling, 60, "the job sampling on gpu1")
    doomed = celery_main(launched.child.process.pid, launched.node(1))

    # When gpu1's worker is SIGKILLed
    os.kill(doomed, signal.SIGKILL)

    # Then the launcher starts it again, under the same name, and gpu0 was not touched
    def restarted() -> bool:
        children = _children(launched.child.process.pid)
        return any(_environ(p).get("SDFLEET_WORKER_NAME") == "gpu1" and p != doomed for p in children)

    wait_until(restarted, 60, "gpu1 started again")
    launchers.wait_nodes([launched.node(1)], launched.child)
    assert celery_main(launched.child.process.pid, launched.node(0)) == survivor
    # And its job, handed back when the worker died (its 300 s lease had not run out), completed once
    job = wait_job(fleet.store, job_id, timeout_s=120)
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    lost, done = job.attempts
    assert (lost.worker, lost.outcome, done.worker, done.outcome) == (
        launched.node(1),
        "lost",
        launched.node(1),
        "succeeded",
    )
    assert len(job.images) == 1 and job.id == uuid.UUID(job_id)
