"""What the queue costs per job: sdfleet (submit → Redis → worker → A1111 → Postgres → result) against
calling the same A1111 stand-in directly, in the same run, on the same machine.

    python -m bench.queue_overhead [--jobs 40] [--steps 4] [--size 256]

The stand-in runs at a fixed simulated speed, so the difference between the two columns is what sdfleet
adds: validation, two Postgres transactions, the broker round trip, readiness and checkpoint checks,
progress polling, image checks and the result write. Services come from SDFLEET_REDIS_URL and
SDFLEET_DATABASE_URL, or are started embedded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.services import adopt, services
from tests.helpers.processes import Processes, base_env
from worker.celery_app import app
from worker.context import close_producer_context
from worker.stack.demo_volume import seed_volume


def _timed(count: int, run: Callable[[int], object]) -> list[float]:
    times = []
    for index in range(count):
        start = time.perf_counter()
        run(index)
        times.append(time.perf_counter() - start)
    return times


def _row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    mean, p50 = statistics.mean(times) * 1000, statistics.median(times) * 1000
    return f"{name:28} mean {mean:7.1f} ms   p50 {p50:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sdfleet-bench-"))
    work.chmod(0o755)
    with services(work) as urls:
        return _run(args, work, urls)


def _run(args: argparse.Namespace, work: Path, urls: dict[str, str]) -> int:
    seed_volume(work / "volume")
    env = {
        **urls,
        "SDFLEET_MODELS_DIR": str(work / "volume"),
        "SDFLEET_RESULT_DIR": str(work / "results"),
        "SDFLEET_STATE_DIR": str(work / "state"),
        "SDFLEET_A1111_POLL_INTERVAL_S": "0.05",
        "A1111_EMU_TIME_SCALE": str(args.time_scale),
    }
    adopt(env)
    procs = Processes(work / "logs", {**base_env(), **env})
    try:
        a1111 = procs.emulator(work / "volume", "deliberate_v6.safetensors")
        procs.worker("bench0", ["deliberate_v6"], a1111_url=a1111.url)
        from worker.tasks import txt2img

        job = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6", "steps": args.steps,
               "width": args.size, "height": args.size, "sampler": "Euler a"}  # fmt: skip
        payload = {"prompt": "a lighthouse", "steps": args.steps, "width": args.size, "height": args.size,
                   "sampler_name": "Euler a", "batch_size": 1, "n_iter": 1}  # fmt: skip
        with httpx.Client(base_url=a1111.url, timeout=120) as http:
            # Warm both paths once (A1111 checkpoint load, worker readiness, connection pools).
            http.post("/sdapi/v1/txt2img", json={**payload, "seed": 1}).raise_for_status()
            txt2img.delay(**job, seed=1).get(timeout=120)

            def direct(index: int) -> object:
                response = http.post("/sdapi/v1/txt2img", json={**payload, "seed": 100 + index})
                return response.raise_for_status()

            def queued(index: int) -> object:
                result = txt2img.delay(**job, seed=100 + index).get(timeout=120)
                assert result["status"] == "succeeded", result
                return result

            direct_times = _timed(args.jobs, direct)
            queued_times = _timed(args.jobs, queued)
            burst_start = time.perf_counter()
            results = [txt2img.delay(**job, seed=1000 + i) for i in range(args.jobs)]
            for result in results:
                assert result.get(timeout=600)["status"] == "succeeded"
            burst_s = time.perf_counter() - burst_start
        overhead = statistics.mean(queued_times) - statistics.mean(direct_times)
        print(f"jobs={args.jobs} steps={args.steps} size={args.size}² time_scale={args.time_scale}")
        print(_row("A1111 direct (baseline)", direct_times))
        print(_row("sdfleet delay().get()", queued_times))
        ratio = statistics.mean(queued_times) / statistics.mean(direct_times)
        print(f"{'ratio (sdfleet / direct)':28} {ratio:.2f}x   overhead per job {overhead * 1000:.1f} ms")
        print(f"{'burst of submissions':28} {args.jobs / burst_s:.2f} jobs/s "
              f"(direct sequential: {args.jobs / sum(direct_times):.2f} jobs/s)")  # fmt: skip
    finally:
        procs.stop()
        close_producer_context()
        app.backend.session_manager.invalidate(app.backend.url)  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
