"""SIGTERM drains a launcher: a job that can finish within the grace finishes; one that cannot is
interrupted in A1111 and handed back at once, and another host completes it. Nothing is lost."""

from __future__ import annotations

import signal
import uuid

import redis

from tests.worker.fleet.conftest import CHECKPOINTS, Launchers
from tests.worker.resilience.conftest import A1111, Fleet, emulator_pids, wait_job, wait_until
from worker.fleet.state import WorkerState, read_fleet

GRACE_S = 6.0


def test_sigterm_drains_without_losing_a_job(launchers: Launchers, fleet: Fleet) -> None:
    # Given host A (drain grace 6 s) whose gpu0 runs a job that will never finish
    env = {"SDFLEET_DRAIN_GRACE_S": str(GRACE_S), "SDFLEET_A1111_INTERRUPT_GRACE_S": "1"}
    host_a = launchers.start(gpus=2, env=env)
    stuck, slow = A1111(host_a.a1111(0)), A1111(host_a.a1111(1))
    stuck.add_fault(kind="hang", at_step=2)
    hung_id = fleet.submit(prompt="a mill", checkpoint=CHECKPOINTS[0], steps=8, width=256, height=256, seed=1)
    wait_until(stuck.sampling, 60, "the never-ending job sampling")
    # And host B, idle, serving that job's checkpoint only
    host_b = launchers.start(gpus=1, checkpoints=(CHECKPOINTS[0],))
    # And A's gpu1 in the middle of a job that takes ~3 s
    slow.add_fault(kind="slow", factor=300)  # ~0.5 s per step at the suite's time scale
    short_id = fleet.submit(prompt="a dam", checkpoint=CHECKPOINTS[1], steps=6, width=256, height=256, seed=2)
    wait_until(slow.sampling, 60, "the short job sampling")

    # When host A's launcher gets SIGTERM
    host_a.child.process.send_signal(signal.SIGTERM)

    # Then A's workers show as draining while they finish
    client = redis.Redis.from_url(fleet.redis_url)
    try:
        seen: set[str] = set()

        def draining() -> bool:
            seen.update(v.name for v in read_fleet(client, 5.0) if v.state is WorkerState.DRAINING)
            return seen >= set(host_a.nodes)

        wait_until(draining, 10, "host A's workers draining")
        # And the short job finished where it was, in one attempt
        short = wait_job(fleet.store, short_id, timeout_s=60)
        assert short.status == "succeeded" and [a.worker for a in short.attempts] == [host_a.node(1)]
        # And the stuck job was handed back after the grace (not failed, not left to its lease) and
        # completed on host B
        hung = wait_job(fleet.store, hung_id, timeout_s=90)
        assert hung.status == "succeeded", (hung.failure_category, hung.failure_message)
        first, second = hung.attempts
        assert (first.worker, first.outcome) == (host_a.node(0), "retried")
        assert "drain grace ran out" in (first.message or "")
        assert (second.worker, second.outcome) == (host_b.node(0), "succeeded")
        assert hung.id == uuid.UUID(hung_id) and len(hung.images) == 1
        # And host A stopped: its launcher exited 0 and left no A1111 behind; its workers show offline
        assert host_a.child.process.wait(GRACE_S + 60) == 0, host_a.child.log_tail(30)
        assert not emulator_pids(stuck.port) and not emulator_pids(slow.port)
        views = {v.name: v.state for v in read_fleet(client, 5.0)}
        assert {views[node] for node in host_a.nodes} == {WorkerState.OFFLINE}
        assert views[host_b.node(0)] in (WorkerState.IDLE, WorkerState.BUSY)
    finally:
        client.close()
