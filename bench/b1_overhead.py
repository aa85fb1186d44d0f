"""B1 — what the queue adds to one job: submit → result available, with a stand-in that generates in
~zero time, against the same requests sent straight to A1111, one after another, in the same run.

Both arms run sequentially, one job at a time, so each sample is one job's whole latency. sdfleet's arm
is `txt2img.delay(...).get()`: validation, the job row, the Celery message, a worker's claim, the A1111
call, image checks and the fsync'd file, the fenced commit, the terminal event that wakes the caller, and
the caller's read of the row. Overhead per job = sdfleet's latency − the direct arm's median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from bench.harness import world
from bench.report import Figure, Report, percentile
from worker.tasks import txt2img

ID = "B1"
TITLE = "per-job overhead, submit → result available (stand-in at ~zero generation time)"
SIZE, STEPS = 64, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b1-jobs", type=int, default=200, help="B1: jobs per arm")


def run(args: argparse.Namespace) -> Report:
    jobs = 3 if args.smoke else args.b1_jobs
    with world({"A1111_EMU_TIME_SCALE": "0.001", "SDFLEET_A1111_POLL_INTERVAL_S": "0.05"}) as w:
        a1111 = w.procs.emulator(w.volume, "deliberate_v6.safetensors")
        w.procs.worker("bench0", ["deliberate_v6"], a1111_url=a1111.url)
        job = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6", "steps": STEPS, "width": SIZE,
               "height": SIZE, "sampler": "Euler a"}  # fmt: skip
        payload = {"prompt": "a lighthouse", "steps": STEPS, "width": SIZE, "height": SIZE,
                   "sampler_name": "Euler a", "batch_size": 1, "n_iter": 1}  # fmt: skip
        with httpx.Client(base_url=a1111.url, timeout=120) as http:

            def direct(seed: int) -> None:
                http.post("/sdapi/v1/txt2img", json={**payload, "seed": seed}).raise_for_status()

            def queued(seed: int) -> None:
                result = txt2img.delay(**job, seed=seed).get(timeout=120)
                assert result["status"] == "succeeded", result

            for seed in range(5):  # warm both paths: checkpoint, connection pools, worker readiness
                direct(seed)
                queued(seed)
            direct_s = _timed(direct, jobs)
            queued_s = _timed(queued, jobs)
    base = statistics.median(direct_s)
    overhead_ms = [(q - base) * 1000 for q in queued_s]
    p50, p99 = percentile(overhead_ms, 0.5), percentile(overhead_ms, 0.99)
    return Report(
        ID,
        TITLE,
        [
            Figure("overhead per job, p50", p50, "ms", base * 1000, "direct p50", "≤ 15 ms", p50 <= 15),
            Figure("overhead per job, p99", p99, "ms", base * 1000, "direct p50", "≤ 60 ms", p99 <= 60),
            Figure(
                "sdfleet delay().get(), p50",
                percentile(queued_s, 0.5) * 1000,
                "ms",
                base * 1000,
                "direct p50",
            ),
            Figure(
                "sdfleet delay().get(), p99",
                percentile(queued_s, 0.99) * 1000,
                "ms",
                percentile(direct_s, 0.99) * 1000,
                "direct p99",
            ),
        ],  # fmt: skip
        notes=[f"{jobs} jobs per arm, sequential, SD1.5 {SIZE}², {STEPS} step, one worker, one stand-in"],
    )


def _timed(call: object, count: int) -> list[float]:
    times = []
    for seed in range(100, 100 + count):
        started = time.perf_counter()
        call(seed)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return times
