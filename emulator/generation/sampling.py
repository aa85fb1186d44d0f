"""One batch's sampling loop: simulated step time, progress callbacks, interrupt/skip, step faults."""

from __future__ import annotations

import logging
import os
import signal
import sys

from emulator.faults import Fault, FaultKind
from emulator.generation.job import Job
from emulator.generation.samplers import SAMPLERS_BY_NAME
from emulator.gpu.timing import step_seconds
from emulator.runtime import Runtime

log = logging.getLogger("emulator")


def injected_error(fault: Fault) -> Exception:
    """An exception whose class name is the fault's `error`, so the A1111 envelope reports that name."""
    name = fault.error if fault.error.isidentifier() else "RuntimeError"
    error: Exception = type(name, (RuntimeError,), {})(fault.message)
    return error


def _fire_step_faults(rt: Runtime, job: Job, completed: int) -> None:
    """Crash, hang or fail when `completed` sampling steps of this request have run."""
    for fault in job.faults:
        if fault.at_step != completed:
            continue
        if fault.kind is FaultKind.CRASH:
            rt.stats.bump("faults_fired")
            log.warning("injected crash (%s) at step %d", fault.mode, completed)
            sys.stderr.flush()
            if fault.mode == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(fault.exit_code)
        elif fault.kind is FaultKind.HANG:
            rt.stats.bump("faults_fired")
            log.warning("injected hang at step %d; DELETE /emulator/v1/faults releases it", completed)
            rt.faults.wait_until_cleared()
        elif fault.kind is FaultKind.HTTP500:
            rt.stats.bump("faults_fired")
            raise injected_error(fault)


def _evaluations_per_step(job: Job) -> int:
    sampler = SAMPLERS_BY_NAME.get(job.sampler_name)
    return 2 if sampler is not None and sampler.options.get("second_order") else 1


def batch_step_seconds(rt: Runtime, job: Job, width: int, height: int) -> float:
    """Simulated seconds per step of this batch at this size: the GPU model, the card's speed, the
    sampler's UNet evaluations per step, slow faults."""
    loaded = rt.loader.loaded
    if loaded is None:
        return 0.0
    seconds = step_seconds(
        loaded.arch, width, height, job.batch_size, linear_attention=rt.config.linear_attention
    )
    return seconds * _evaluations_per_step(job) / rt.config.gpu_speed * job.slow_factor()


def batch_eval_seconds(rt: Runtime, job: Job, width: int, height: int) -> float:
    """Simulated seconds of one UNet evaluation of this batch (a step of a first-order sampler)."""
    return batch_step_seconds(rt, job, width, height) / _evaluations_per_step(job)


def sample_batch(rt: Runtime, job: Job, steps: int, width: int, height: int, steps_before: int) -> int:
    """Run `steps` steps; returns how many completed (fewer after an interrupt or skip).

    `steps_before` counts the steps this request already ran, for `at_step` faults.
    Raises whatever an http500 fault injects.
    """
    per_step = batch_step_seconds(rt, job, width, height)
    rt.state.start_sampling(steps)
    for index in range(steps):
        _fire_step_faults(rt, job, steps_before + index)
        interrupted, skipped = rt.state.flags()
        if interrupted or skipped:
            return index
        rt.clock.sleep(per_step)
        rt.state.step(index)
        rt.stats.bump("sampling_steps")
    return steps
