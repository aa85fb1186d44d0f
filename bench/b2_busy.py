"""B2 — how busy the GPUs stay: generation time / (workers × makespan), 2 workers, a burst of jobs of
~0.5 s each, against the same requests sent straight to the two A1111s by two threads (same run).

A GPU is idle between two jobs for as long as the queue takes to hand it the next one (delivery, claim)
plus what the worker does after a generation (checks, the image file, the commit). Generation time is
what the worker measured around each A1111 call (the attempt's `sub_batches`), so HTTP time to the
stand-in counts as busy in both arms.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import httpx

from bench.harness import world
from bench.report import Figure, Report
from tests.helpers.processes import Emulator
from worker.context import producer_context
from worker.tasks import txt2img
from worker.vocabulary import JobStatus

ID = "B2"
TITLE = "GPU busy fraction: generation time / (workers × makespan), 2 workers, jobs of ~0.5 s"
WORKERS = 2
TARGET_JOB_S = 0.5
SIZE, STEPS = 512, 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b2-jobs", type=int, default=200, help="B2: jobs in the burst")


def run(args: argparse.Namespace) -> Report:
    jobs = 4 if args.smoke else args.b2_jobs
    payload = {"prompt": "a lighthouse", "steps": STEPS, "width": SIZE, "height": SIZE,
               "sampler_name": "Euler a", "batch_size": 1, "n_iter": 1, "seed": 1}  # fmt: skip
    with world({"A1111_EMU_TIME_SCALE": "1"}) as probe:  # what one call costs at full scale
        a1111 = probe.procs.emulator(probe.volume, "deliberate_v6.safetensors")
        with httpx.Client(base_url=a1111.url, timeout=120) as http:
            http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()
            started = time.perf_counter()
            http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()
            scale = TARGET_JOB_S / (time.perf_counter() - started)
    with world({"A1111_EMU_TIME_SCALE": f"{scale:.4f}", "SDFLEET_A1111_POLL_INTERVAL_S": "0.1"}) as w:
        a1111s = [w.procs.emulator(w.volume, "deliberate_v6.safetensors") for _ in range(WORKERS)]
        direct_busy, direct_makespan = _direct(a1111s, payload, jobs)
        for index, a1111 in enumerate(a1111s):
            w.procs.worker(f"gpu{index}", ["deliberate_v6"], a1111_url=a1111.url)
        job = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6", "steps": STEPS, "width": SIZE,
               "height": SIZE, "sampler": "Euler a"}  # fmt: skip
        for seed in range(2 * WORKERS):  # warm every worker
            txt2img.delay(**job, seed=seed).get(timeout=120)
        started = time.perf_counter()
        results = [txt2img.delay(**job, seed=100 + n) for n in range(jobs)]
        for result in results:
            assert result.get(timeout=600)["status"] == JobStatus.SUCCEEDED
        makespan = time.perf_counter() - started
        store = producer_context().jobs.store
        calls = [
            c["s"] for r in results for c in store.get(uuid.UUID(r.id)).attempts[-1].timings["sub_batches"]
        ]
    busy = sum(calls) / (WORKERS * makespan)
    direct = direct_busy / (WORKERS * direct_makespan)
    return Report(
        ID,
        TITLE,
        [
            Figure("GPU busy fraction", busy * 100, "%", 100.0, "(ideal)", "≥ 98 %", busy >= 0.98),
            Figure("direct to A1111, busy fraction", direct * 100, "%", 100.0, "(ideal)"),
            Figure(
                "idle per job per GPU",
                (WORKERS * makespan - sum(calls)) / jobs * 1000,
                "ms",
                (WORKERS * direct_makespan - direct_busy) / jobs * 1000,
                "direct",
            ),
            Figure("generation time per job (mean)", statistics.mean(calls) * 1000, "ms"),
        ],  # fmt: skip
        notes=[f"{jobs} jobs, SD1.5 {SIZE}², {STEPS} steps, stand-in time scale {scale:.3f}"],
    )


def _direct(a1111s: list[Emulator], payload: dict[str, object], jobs: int) -> tuple[float, float]:
    """Two threads, each sending its share straight to its own stand-in: (busy seconds, makespan)."""
    busy: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(len(a1111s) + 1)

    def drive(url: str, count: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()  # warm, before the clock
            ready.wait()
            for _ in range(count):
                t0 = time.perf_counter()
                http.post("/sdapi/v1/txt2img", json=payload).raise_for_status()
                with lock:
                    busy.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=drive, args=(a.url, jobs // len(a1111s))) for a in a1111s]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(busy), time.perf_counter() - started
