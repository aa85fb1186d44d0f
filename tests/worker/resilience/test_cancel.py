"""Cancel with real processes: a queued job never runs; a running job is interrupted in A1111 and ends
`cancelled`; the A1111 it ran on stays usable."""

from __future__ import annotations

import uuid
from pathlib import Path

from emulator.gpu import timing as gpu
from emulator.models.arch import Arch
from tests.helpers.processes import Processes
from tests.worker.resilience.conftest import A1111, Fleet, wait_job, wait_until
from worker.store.jobs import JobStore

TIME_SCALE = 0.02  # sdfleet_env's A1111_EMU_TIME_SCALE


def test_cancel_ends_a_running_job_in_a1111_and_a_queued_one_before_it_runs(
    processes: Processes, fleet: Fleet, job_store: JobStore, models_volume: Path
) -> None:
    emulator = processes.emulator(models_volume, "deliberate_v6.safetensors")
    a1111 = A1111(emulator.url)
    processes.worker(f"gpu-cancel-{uuid.uuid4().hex[:6]}", ["deliberate_v6"], a1111_url=emulator.url)
    # Given a job sampling (100 steps of 0.1 s) and another queued behind it
    step_s = gpu.step_seconds(Arch.SD15, 128, 128, 1, linear_attention=True) * TIME_SCALE
    a1111.add_fault(kind="slow", factor=0.1 / step_s)
    running = fleet.submit(prompt="a long one", steps=100, width=128, height=128)
    wait_until(lambda: a1111.sampling(), 60, "the first job sampling")
    queued = fleet.submit(prompt="a queued one", steps=2, width=64, height=64)
    # When both are cancelled
    assert job_store.request_cancel(uuid.UUID(queued)).status == "cancelled"
    job_store.request_cancel(uuid.UUID(running))
    # Then the running one was interrupted in A1111 and ended cancelled, long before its 10 s of sampling
    stopped = wait_job(job_store, running, timeout_s=30)
    assert (stopped.status, stopped.failure_category) == ("cancelled", "cancelled")
    assert [(a.outcome, a.category) for a in stopped.attempts] == [("cancelled", "cancelled")]
    assert stopped.images == []
    stats = a1111.stats()
    assert stats["interrupts"] == 1 and stats["sampling_steps"] < 100
    # And the queued one never ran: no attempt, and A1111 saw one request only
    never = job_store.get(uuid.UUID(queued))
    assert (never.status, never.attempts, never.images) == ("cancelled", [], [])
    # And the A1111 is still usable: the next job succeeds on it
    after = fleet.submit(prompt="next", steps=2, width=64, height=64)
    assert wait_job(job_store, after).status == "succeeded"
    assert a1111.stats()["txt2img_requests"] == 2
    assert job_store.get(uuid.UUID(queued)).attempts == []
