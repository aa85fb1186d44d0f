"""What the OOM memory buys: a stream of identical jobs on a small emulated GPU, with the capacity memory
(jobs pre-split from what the card is known to hold) against a baseline without it (the GPU's rows in
`gpu_capacity` deleted before every job, so every job runs out of memory and halves again), in the same
run, on the same worker and the same A1111 stand-in.

    python -m bench.oom_memory [--jobs 10] [--rounds 2] [--batch 8] [--holds 3] [--size 256] [--steps 20]

The worker launches its own stand-in, whose VRAM is set from the emulator's memory model so that the
card holds exactly `--holds` images of the shape. Jobs run one after another (submit, wait); the arms
alternate in blocks (baseline, memory, baseline, memory...) so that drift hits both. The memory arm's
first job of each block starts from nothing and learns, like the first job of a new shape in production.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete

from bench.services import adopt, services
from emulator.gpu import vram as gpu
from emulator.models.arch import Arch
from tests.helpers.processes import Processes, base_env
from worker.celery_app import app
from worker.context import close_producer_context
from worker.stack.demo_volume import seed_volume
from worker.stack.services import free_port
from worker.store.engine import make_engine, make_session_factory
from worker.store.models import GpuCapacity

CHECKPOINTS = {"deliberate_v6": Arch.SD15, "jib_mix_illustrious_realistic_v2": Arch.SDXL}
PRECISION = gpu.Precision(no_half_vae=True)  # the A1111 flags sdfleet launches with include --no-half-vae


@dataclass
class Arm:
    name: str
    seconds: list[float] = field(default_factory=list)  # wall time of each job, submit to result
    images: int = 0
    ooms: int = 0
    calls: int = 0  # A1111 txt2img calls, failed ones included

    def line(self) -> str:
        jobs, total_s = len(self.seconds), sum(self.seconds)
        return (
            f"{self.name:9} {jobs:3} jobs  {jobs / total_s:6.3f} jobs/s  "
            f"{self.images / total_s:6.2f} images/s  mean {statistics.mean(self.seconds):6.3f} s/job  "
            f"OOMs/job {self.ooms / jobs:4.2f}  A1111 calls/job {self.calls / jobs:4.2f}"
        )


def vram_mb(arch: Arch, size: int, holds: int) -> float:
    """A card whose free memory, with the checkpoint loaded, lies between `holds` and `holds + 1` images."""

    def need(batch: int) -> float:
        return gpu.working_mib(arch, size, size, batch, linear_attention=True, precision=PRECISION)

    if not need(holds) < need(holds + 1):
        raise SystemExit(f"the emulator's model gives {size}² the same memory at {holds} and {holds + 1}")
    return gpu.CUDA_CONTEXT_MIB + gpu.weights_mib(arch, PRECISION) + (need(holds) + need(holds + 1)) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="jobs per arm per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--holds", type=int, default=3, help="images of the shape the card holds")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--checkpoint", choices=sorted(CHECKPOINTS), default="deliberate_v6")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sdfleet-bench-"))
    work.chmod(0o755)
    vram = vram_mb(CHECKPOINTS[args.checkpoint], args.size, args.holds)
    with services(work) as urls:
        env = {
            **urls,
            "SDFLEET_MODELS_DIR": str(work / "volume"),
            "SDFLEET_RESULT_DIR": str(work / "results"),
            "SDFLEET_STATE_DIR": str(work / "state"),
            "A1111_EMU_TIME_SCALE": str(args.time_scale),
        }
        seed_volume(work / "volume")
        adopt(env)
        engine = make_engine(urls["SDFLEET_DATABASE_URL"])
        procs = Processes(work / "logs", {**base_env(), **env})
        try:
            return _run(args, procs, engine, vram)
        finally:
            procs.stop()
            close_producer_context()
            engine.dispose()
            app.backend.session_manager.invalidate(app.backend.url)  # type: ignore[attr-defined]


def _run(args: argparse.Namespace, procs: Processes, engine: Any, vram: float) -> int:
    from worker.tasks import txt2img

    sessions = make_session_factory(engine)
    name = f"bench-small-{uuid.uuid4().hex[:6]}"
    a1111_url = f"http://127.0.0.1:{free_port()}"
    procs.worker(
        name, [args.checkpoint], a1111_url=a1111_url, launch=True, env={"A1111_EMU_VRAM_MB": str(vram)}
    )

    def forget() -> None:
        with sessions.begin() as session:
            session.execute(delete(GpuCapacity).where(GpuCapacity.gpu == name))

    def run_job(arm: Arm, seed: int) -> None:
        started = time.perf_counter()
        job = txt2img.delay(prompt="a lighthouse at dusk", checkpoint=args.checkpoint, steps=args.steps,
                            width=args.size, height=args.size, batch_size=args.batch, seed=seed,
                            sampler="Euler a").get(timeout=600)  # fmt: skip
        arm.seconds.append(time.perf_counter() - started)
        assert job["status"] == "succeeded", job
        arm.images += len(job["images"])
        for attempt in job["attempt_history"]:
            arm.ooms += attempt["oom_count"]
            arm.calls += len(attempt["timings"].get("sub_batches", []))

    run_job(Arm("warm-up"), seed=1)  # A1111 start-up, checkpoint load, connection pools
    baseline, memory = Arm("baseline"), Arm("memory")
    for round_no in range(args.rounds):
        for n in range(args.jobs):
            forget()
            run_job(baseline, seed=1000 * round_no + n)
        forget()
        for n in range(args.jobs):
            run_job(memory, seed=1000 * round_no + n)
    oom_events = httpx.get(f"{a1111_url}/emulator/v1/stats", timeout=10).json()["cuda_oom_events"]

    print(
        f"{args.checkpoint} {args.size}² batch {args.batch}, {args.steps} steps, card holds {args.holds} "
        f"(VRAM {vram:.0f} MiB), time scale {args.time_scale}; "
        f"{args.rounds} rounds × {args.jobs} jobs per arm"
    )
    print(baseline.line())
    print(memory.line())
    jobs_ratio = (len(memory.seconds) / sum(memory.seconds)) / (len(baseline.seconds) / sum(baseline.seconds))
    print(f"ratio memory / baseline: {jobs_ratio:.2f}× jobs/s (images/s alike: same images per job)")
    print(f"stand-in CUDA OOM events in all (warm-up included): {oom_events}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
