"""B3 — jobs go where their model is loaded: checkpoint loads and makespan for interleaved jobs of two
checkpoints on two GPUs, where a load costs as much as ten jobs, against FIFO routing in the same run.

FIFO: both workers consume one queue holding every job in submission order (what a worker serving both
checkpoints' queues amounts to), so nearly every job finds the other model loaded. sdfleet: a launcher
with two emulated GPUs and the balancer; each worker consumes its loaded checkpoint's lanes. Loads are
counted by the stand-ins themselves (their start-up loads left out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid

import httpx

from bench.harness import World, world
from bench.report import Figure, Report
from tests.helpers.processes import wait_http
from worker.celery_app import app, publish_job
from worker.cli.commands import launcher_command
from worker.context import producer_context
from worker.jobs.queues import checkpoint_queues
from worker.jobs.service import JobService, Publish
from worker.stack.services import free_port

ID = "B3"
TITLE = "checkpoint loads and makespan, 2 checkpoints, 2 GPUs, interleaved jobs, a load worth 10 jobs"
CHECKPOINTS = ("deliberate_v6", "jib_mix_illustrious_realistic_v2")
SIZE, STEPS = 512, 8
TARGET_JOB_S = 0.25
FIFO_QUEUE = "sd.fifo.batch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b3-jobs", type=int, default=400, help="B3: interleaved jobs per arm")


def run(args: argparse.Namespace) -> Report:
    jobs = 8 if args.smoke else args.b3_jobs
    job_s = _job_seconds_at_full_scale()
    scale = TARGET_JOB_S / job_s
    env = {"A1111_EMU_TIME_SCALE": f"{scale:.4f}", "A1111_EMU_LOAD_S": f"{10 * job_s:.3f}",
           "SDFLEET_HEARTBEAT_S": "0.5", "SDFLEET_BALANCER_INTERVAL_S": "0.5"}  # fmt: skip
    with world(env) as w:  # one world, so that this process's Celery app keeps one broker
        fifo = _fifo_arm(w, jobs)
        w.procs.group.stop(timeout_s=30)
        affinity = _affinity_arm(w, jobs)
    loads, makespan, wait = affinity
    fifo_loads, fifo_makespan, fifo_wait = fifo
    return Report(
        ID,
        TITLE,
        [
            Figure("checkpoint loads", loads, "", fifo_loads, "FIFO", "≥ 5× fewer", loads * 5 <= fifo_loads),
            Figure(
                "makespan", makespan, "s", fifo_makespan, "FIFO", "≤ 0.6×", makespan <= 0.6 * fifo_makespan
            ),
            Figure("longest wait (queued → started)", wait, "s", fifo_wait, "FIFO"),
        ],  # fmt: skip
        notes=[
            f"{jobs} jobs alternating {CHECKPOINTS[0]} / {CHECKPOINTS[1]}, {SIZE}², {STEPS} steps, "
            f"submitted at once; a job ≈ {TARGET_JOB_S} s and a load ≈ {10 * TARGET_JOB_S:g} s (stand-in "
            f"time scale {scale:.3f}); start-up loads not counted"
        ],
    )


def _job_seconds_at_full_scale() -> float:
    """The mean time of one job of each checkpoint, straight to a stand-in at time scale 1."""
    seconds = []
    with world({"A1111_EMU_TIME_SCALE": "1"}) as probe:
        for checkpoint in CHECKPOINTS:
            a1111 = probe.procs.emulator(probe.volume, f"{checkpoint}.safetensors")
            payload = {
                "prompt": "x",
                "steps": STEPS,
                "width": SIZE,
                "height": SIZE,
                "sampler_name": "Euler a",
            }
            with httpx.Client(base_url=a1111.url, timeout=300) as http:
                http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()
                started = time.perf_counter()
                http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()
                seconds.append(time.perf_counter() - started)
    return sum(seconds) / len(seconds)


def _submit_and_wait(jobs: int, publish: Publish | None = None) -> tuple[float, float]:
    """Submit `jobs` interleaved jobs at once; (makespan, longest wait) once all succeeded."""
    service = producer_context().jobs
    if publish is not None:
        service = JobService(
            store=service.store,
            resolver=service.resolver,
            settings=service.settings,
            results=service.results,
            events=service.events,
            publish=publish,
        )
    started = time.perf_counter()
    ids = [
        service.submit(
            {
                "prompt": f"view {n}",
                "checkpoint": CHECKPOINTS[n % 2],
                "steps": STEPS,
                "width": SIZE,
                "height": SIZE,
                "sampler": "Euler a",
                "seed": n,
            }
        )  # fmt: skip
        for n in range(jobs)
    ]
    store = producer_context().jobs.store
    while True:
        done = [store.get(uuid.UUID(i)) for i in ids]
        if all(j.status in ("succeeded", "failed", "cancelled") for j in done):
            break
        time.sleep(0.5)
    makespan = time.perf_counter() - started
    assert all(j.status == "succeeded" for j in done), [
        j.failure_message for j in done if j.status != "succeeded"
    ]
    wait = max((j.started_at - j.created_at).total_seconds() for j in done)
    return makespan, wait


def _loads(ports: list[int]) -> int:
    """Switches the stand-ins made (each one's start-up load left out)."""
    stats = [httpx.get(f"http://127.0.0.1:{port}/emulator/v1/stats", timeout=5).json() for port in ports]
    return sum(s["checkpoint_loads"] - 1 for s in stats)


def _fifo_arm(w: World, jobs: int) -> tuple[int, float, float]:
    ports = []
    for index in range(2):
        port = free_port()
        name = f"fifo{index}"
        w.procs.worker(name, list(CHECKPOINTS[index:] + CHECKPOINTS[:index]), a1111_url=f"http://127.0.0.1:{port}",
                       launch=True)  # fmt: skip
        wait_http(f"http://127.0.0.1:{port}/sdapi/v1/sd-models", 120)
        node = [n for reply in app.control.ping(timeout=1.0) for n in reply if n.startswith(name + "@")][0]
        app.control.add_consumer(FIFO_QUEUE, destination=[node], reply=True)
        for queue in checkpoint_queues(CHECKPOINTS[index]):
            app.control.cancel_consumer(queue, destination=[node], reply=True)
        ports.append(port)
    _wait_loaded(ports)
    makespan, wait = _submit_and_wait(jobs, publish=lambda job_id, queue: publish_job(job_id, FIFO_QUEUE))
    return _loads(ports), makespan, wait


def _affinity_arm(w: World, jobs: int) -> tuple[int, float, float]:
    base = free_port()
    ports = [base, base + 1]
    launcher = launcher_command(
        emulate=2, host="bench", checkpoints=CHECKPOINTS, a1111_base_port=base, metrics_base_port=0
    )
    w.procs.group.start("launcher", launcher, w.procs.env)
    w.procs.group.start("balancer", [sys.executable, "-m", "worker.cli.main", "balancer"], w.procs.env)
    deadline = time.monotonic() + 120
    while {f"gpu{i}@bench" for i in range(2)} - {n for r in app.control.ping(timeout=1.0) for n in r}:
        assert time.monotonic() < deadline, "the launcher's workers did not answer"
    _wait_loaded(ports)
    makespan, wait = _submit_and_wait(jobs)
    return _loads(ports), makespan, wait


def _wait_loaded(ports: list[int]) -> None:
    deadline = time.monotonic() + 120
    for port in ports:
        while True:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/emulator/v1/stats", timeout=5).json()
                if stats["loaded_model"] and not stats["model_loading"]:
                    break
            except (httpx.HTTPError, json.JSONDecodeError):
                pass
            assert time.monotonic() < deadline, f"the stand-in on {port} did not load"
            time.sleep(0.2)
