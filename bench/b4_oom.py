"""B4 — what learning a card's limit costs: jobs of 8 images on a card that holds 3, with a stand-in
whose out-of-memory costs what a GPU's does (text encoding and the failing first UNet pass, then the
cache emptied; docs/emulator.md), against an oracle that splits by 3 from the start (same run).

Two workers, each launching its own stand-in with the same small card. The oracle's capacity memory is
seeded with what the card holds, so it never runs out of memory; the other learns: 8 fails, 4 fails,
2 holds, then it probes 3, which holds, and from then on splits by 3 like the oracle. The first job
pays the learning; later jobs should cost what the oracle's do.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from bench.harness import World, world
from bench.report import Figure, Report
from emulator.gpu import vram as gpu
from emulator.models.arch import Arch
from worker.context import producer_context
from worker.stack.services import free_port
from worker.store.models import GpuCapacity
from worker.tasks import txt2img
from worker.vocabulary import JobStatus

ID = "B4"
TITLE = "OOM backoff: batch-8 jobs on a card that holds 3, against an oracle splitting by 3"
BATCH, HOLDS, SIZE, STEPS = 8, 3, 512, 20
CHECKPOINT, ARCH = "jib_mix_illustrious_realistic_v2", Arch.SDXL  # memory grows with the batch at 512²
PRECISION = gpu.Precision(no_half_vae=True)  # sdfleet launches A1111 with --no-half-vae


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b4-jobs", type=int, default=6, help="B4: jobs per arm (the first learns)")
    parser.add_argument("--b4-time-scale", type=float, default=0.25, help="B4: stand-in time scale")


def card_mib(holds: int) -> float:
    """A card whose free memory, with the checkpoint loaded, lies between `holds` and `holds + 1`."""

    def need(batch: int) -> float:
        return gpu.working_mib(ARCH, SIZE, SIZE, batch, linear_attention=True, precision=PRECISION)

    if not need(1) < need(holds) < need(holds + 1):
        raise SystemExit(f"the stand-in's memory model does not tell {holds} from {holds + 1} at {SIZE}²")
    return gpu.CUDA_CONTEXT_MIB + gpu.weights_mib(ARCH, PRECISION) + (need(holds) + need(holds + 1)) / 2


def run(args: argparse.Namespace) -> Report:
    jobs = 2 if args.smoke else args.b4_jobs
    scale = 0.05 if args.smoke else args.b4_time_scale
    env = {"A1111_EMU_TIME_SCALE": str(scale), "A1111_EMU_VRAM_MB": f"{card_mib(HOLDS):.0f}"}
    with world(env) as w:  # each arm in a world of its own: its own worker, stand-in and database
        learning = _arm(w, f"learner-{uuid.uuid4().hex[:6]}", jobs)
    with world(env) as w:
        oracle = f"oracle-{uuid.uuid4().hex[:6]}"
        _seed_oracle(oracle)
        known = _arm(w, oracle, jobs)
    first = learning.seconds[0] / known.seconds[0]
    later = statistics.mean(learning.seconds[1:]) / statistics.mean(known.seconds[1:])
    return Report(
        ID,
        TITLE,
        [
            Figure(
                "first job, learning",
                learning.seconds[0],
                "s",
                known.seconds[0],
                "oracle",
                "≤ 1.3×",
                first <= 1.3,
            ),
            Figure(
                "later jobs (mean), learning",
                statistics.mean(learning.seconds[1:]),
                "s",
                statistics.mean(known.seconds[1:]),
                "oracle",
                "≤ 1.05×",
                later <= 1.05,
            ),
            Figure("OOMs, learning arm", learning.ooms, "", known.ooms, "oracle"),
            Figure("A1111 calls per job, learning", learning.calls / jobs, "", known.calls / jobs, "oracle"),
        ],  # fmt: skip
        notes=[
            f"{jobs} jobs per arm, SDXL {SIZE}² batch {BATCH}, {STEPS} steps, card holds {HOLDS}, "
            f"time scale {scale}; the arms run one after the other on identical cards",
            f"learning: {' | '.join(learning.plans)}",
            f"oracle: {' | '.join(known.plans)}",
        ],
    )


class Arm:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.ooms = 0
        self.calls = 0
        self.plans: list[str] = []  # each job's sub-batches, e.g. "8✗ 4✗ 2 3 3"


def _arm(w: World, name: str, jobs: int) -> Arm:
    """A worker that launches its own stand-in; warmed with a batch-1 job; then `jobs` jobs of 8."""
    w.procs.worker(name, [CHECKPOINT], a1111_url=f"http://127.0.0.1:{free_port()}", launch=True)
    arm = Arm()
    _job(1, seed=1)  # A1111 start-up, checkpoint load, connection pools; a batch of 1 teaches nothing
    for n in range(jobs):
        started = time.perf_counter()
        job = _job(BATCH, seed=100 + n)
        arm.seconds.append(time.perf_counter() - started)
        for attempt in job["attempt_history"]:
            arm.ooms += attempt["oom_count"]
            calls = attempt["timings"].get("sub_batches", [])
            arm.calls += len(calls)
            arm.plans.append(" ".join(f"{c['size']}{'' if c['outcome'] == 'ok' else '✗'}" for c in calls))
    return arm


def _job(batch: int, *, seed: int) -> dict[str, Any]:
    job: dict[str, Any] = txt2img.delay(
        prompt="a lighthouse at dusk", checkpoint=CHECKPOINT, steps=STEPS, width=SIZE, height=SIZE,
        batch_size=batch, seed=seed, sampler="Euler a",
    ).get(timeout=600)  # fmt: skip
    assert job["status"] == JobStatus.SUCCEEDED, job
    return job


def _seed_oracle(gpu_key: str) -> None:
    """The oracle knows the card: 3 holds, 4 does not, so it splits by 3 from its first job."""
    engine = producer_context().engine
    with engine.begin() as connection:
        connection.execute(
            insert(GpuCapacity).values(
                gpu=gpu_key, architecture=ARCH.value, pixels=SIZE * SIZE, largest_ok=HOLDS,
                smallest_oom=HOLDS + 1, batch_limit=HOLDS,
            )
        )  # fmt: skip
