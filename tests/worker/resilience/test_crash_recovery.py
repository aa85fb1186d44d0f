"""A1111 supervision with real processes: a launched stand-in that is killed, or hangs, in the middle of
a job is restarted, and the job is retried and completed; each attempt is recorded with its category."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from emulator.gpu import timing as gpu
from emulator.models.arch import Arch
from tests.helpers.processes import Processes, node
from tests.worker.resilience.conftest import A1111, Fleet, launched_worker, unique, wait_job, wait_until
from worker.store.jobs import JobStore

STALL_S = 2.0
TIME_SCALE = 0.02  # sdfleet_env's A1111_EMU_TIME_SCALE
FAST_FLEET = {
    "SDFLEET_HEARTBEAT_S": "0.5",
    "SDFLEET_BALANCER_INTERVAL_S": "0.3",
    "SDFLEET_BALANCER_COOLDOWN_S": "0",
}
SIZE, STEPS = 256, 40


@dataclass
class Gpu:
    name: str
    a1111: A1111


@pytest.fixture(scope="module")
def gpu_worker(module_processes: Processes) -> Iterator[Gpu]:
    """A worker that launches its A1111, with a short stall limit (a hang is a few seconds, not minutes)."""
    name = unique("gpu-sup")
    env = {"SDFLEET_A1111_STALL_S": str(STALL_S), "SDFLEET_A1111_INTERRUPT_GRACE_S": "1"}
    _, a1111 = launched_worker(module_processes, name, env=env)
    wait_until(a1111.answers, 60, "the launched A1111 answering")
    yield Gpu(name, a1111)


def slow_factor(real_step_s: float) -> float:
    """The `slow` fault factor that makes one step of our job take `real_step_s` seconds."""
    step_s = gpu.step_seconds(Arch.SD15, SIZE, SIZE, 1, linear_attention=True) * TIME_SCALE
    return real_step_s / step_s


def _submit(fleet: Fleet, seed: int) -> str:
    return fleet.submit(prompt="a harbour in fog", steps=STEPS, width=SIZE, height=SIZE, seed=seed)


def test_a1111_killed_mid_job_is_restarted_and_the_job_retried_and_completed(
    gpu_worker: Gpu, fleet: Fleet, job_store: JobStore
) -> None:
    a1111 = gpu_worker.a1111
    # Given a job in the middle of sampling (steps of 0.1 s, which keep advancing: no stall)
    a1111.add_fault(kind="slow", factor=slow_factor(0.1))
    job_id = _submit(fleet, seed=31)
    wait_until(lambda: a1111.sampling() and a1111.progress()["sampling_step"] >= 2, 60, "sampling under way")
    pid = a1111.pid()
    # When its A1111 is SIGKILLed (as the kernel's OOM killer would)
    os.kill(pid, signal.SIGKILL)
    # Then A1111 was restarted, the job retried and completed
    job = wait_job(job_store, job_id)
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    assert len(job.images) == 1 and job.images[0].seed == 31
    assert a1111.pid() != pid
    # And the first attempt is recorded as backend_crashed, with its cause, batch size, worker and timings
    crashed, succeeded = job.attempts
    assert (crashed.outcome, crashed.category) == ("retried", "backend_crashed")
    assert "SIGKILL" in (crashed.message or "") and "OOM killer" in (crashed.message or "")
    assert (crashed.worker, crashed.batch_size) == (node(gpu_worker.name), 1)
    assert crashed.timings["sub_batches"] == [
        {
            "size": 1,
            "first_index": 0,
            "outcome": "backend_crashed",
            "s": crashed.timings["sub_batches"][0]["s"],
        }
    ]
    assert crashed.timings["total_s"] >= crashed.timings["prepare_s"] >= 0
    assert crashed.started_at is not None and crashed.finished_at is not None
    assert crashed.finished_at >= crashed.started_at
    assert (succeeded.outcome, succeeded.category, succeeded.number) == ("succeeded", None, 2)
    assert [c["outcome"] for c in succeeded.timings["sub_batches"]] == ["ok"]
    assert job.failure_category is None and job.attempt == 2


def test_a1111_hung_mid_job_is_interrupted_killed_restarted_and_the_job_completes_after_a_timeout(
    gpu_worker: Gpu, fleet: Fleet, job_store: JobStore
) -> None:
    a1111 = gpu_worker.a1111
    pid = a1111.pid()
    # Given an A1111 that will stop making progress at step 3 of the next job (an interrupt does not help)
    a1111.add_fault(kind="hang", at_step=3)
    # When a job runs on it
    job = wait_job(job_store, _submit(fleet, seed=41))
    # Then the stall was detected, A1111 killed and restarted, and the job retried and completed
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    assert a1111.pid() != pid
    timed_out, succeeded = job.attempts
    assert (timed_out.outcome, timed_out.category) == ("retried", "timeout")
    assert f"no progress for {STALL_S:.0f} s" in (timed_out.message or "")
    assert [c["outcome"] for c in timed_out.timings["sub_batches"]] == ["timeout"]
    assert timed_out.timings["sub_batches"][0]["s"] >= STALL_S
    assert succeeded.outcome == "succeeded"


def test_a_checkpoint_load_past_its_deadline_restarts_a1111_and_the_attempt_is_a_timeout(
    processes: Processes, fleet: Fleet, job_store: JobStore
) -> None:
    # Given a worker serving two checkpoints, whose A1111 would take 100 s to load the SDXL one, and the
    # balancer, which moves it to the checkpoint a job needs
    sdxl = "jib_mix_illustrious_realistic_v2"
    env = {"A1111_EMU_LOAD_S_SDXL": str(100 / TIME_SCALE), "SDFLEET_A1111_CHECKPOINT_LOAD_DEADLINE_S": "1.5",
           **FAST_FLEET}  # fmt: skip
    _, a1111 = launched_worker(processes, unique("gpu-load"), env=env, checkpoints=["deliberate_v6", sdxl])
    processes.group.start(
        "balancer", [sys.executable, "-m", "worker.cli.main", "balancer"], {**processes.env, **FAST_FLEET}
    )
    wait_until(a1111.answers, 60, "the launched A1111 answering")
    pid = a1111.pid()
    # When a job needs the SDXL checkpoint
    job = wait_job(job_store, fleet.submit(checkpoint=sdxl, prompt="a barn", steps=2, width=64, height=64))
    # Then each load was cut at its deadline, A1111 killed and restarted, and the job retried once
    assert (job.status, job.failure_category) == ("failed", "timeout")
    outcomes = [(a.outcome, a.category) for a in job.attempts]
    assert outcomes == [("retried", "timeout"), ("failed", "timeout")], [a.message for a in job.attempts]
    assert all("took longer than 1.5 s; A1111 was restarted" in (a.message or "") for a in job.attempts)
    assert a1111.pid() != pid
    # And the restarted A1111 runs the next job, on the checkpoint it starts with
    after = wait_job(job_store, fleet.submit(prompt="a field", steps=2, width=64, height=64))
    assert after.status == "succeeded", (after.failure_category, after.failure_message)
