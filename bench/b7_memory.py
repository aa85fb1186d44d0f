"""B7 — memory: a GPU worker after a run of jobs, an API process under submissions, and what one queued
job costs Redis (its message and its event stream).

Worker memory is counted as PSS (proportional set size: a page shared by the Celery main process and its
forked pool child is counted once, split between them), for sdfleet's worker and, as the baseline, for a
bare Celery worker with the same pool settings running a no-op task. RSS per process is shown too.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

import redis

from bench.harness import World, world
from bench.report import Figure, Report
from tests.helpers.processes import wait_worker
from worker.context import producer_context
from worker.tasks import txt2img
from worker.vocabulary import JobStatus

ID = "B7"
TITLE = "memory: GPU worker, API process, Redis per queued job"
BARE_APP = Path(__file__).with_name("bare_celery.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b7-jobs", type=int, default=50, help="B7: jobs the worker runs first")
    parser.add_argument("--b7-queued", type=int, default=2000, help="B7: jobs queued to weigh Redis")


def run(args: argparse.Namespace) -> Report:
    jobs, queued = (2, 20) if args.smoke else (args.b7_jobs, args.b7_queued)
    with world({"A1111_EMU_TIME_SCALE": "0.01"}) as w:
        a1111 = w.procs.emulator(w.volume, "deliberate_v6.safetensors")
        worker = w.procs.worker("bench0", ["deliberate_v6"], a1111_url=a1111.url)
        job = {"prompt": "a lighthouse", "checkpoint": "deliberate_v6", "steps": 4, "width": 256,
               "height": 256, "sampler": "Euler a"}  # fmt: skip
        for seed in range(jobs):
            assert txt2img.delay(**job, seed=seed).get(timeout=120)["status"] == JobStatus.SUCCEEDED
        ours = _tree(worker.process.pid)
        bare = _bare_worker(w)
        api_url = w.procs.api()
        api_pid = next(c.process.pid for c in w.procs.group.children if c.name.startswith("api-"))
        worker.process.terminate()  # no consumer: the queued jobs stay in Redis
        worker.process.wait(30)
        per_job = _redis_bytes_per_queued_job(w, {**job, "steps": 20}, queued)
        api = _tree(api_pid)
        del api_url
    worker_pss, bare_pss = sum(p[1] for p in ours), sum(p[1] for p in bare)
    return Report(
        ID,
        TITLE,
        [
            Figure(
                "GPU worker (main + pool child), PSS",
                worker_pss,
                "MB",
                bare_pss,
                "bare Celery, same pool",
                "≤ 150 MB",
                worker_pss <= 150,
            ),
            Figure("GPU worker pool child, RSS", ours[-1][0], "MB", bare[-1][0], "bare Celery child"),
            Figure("GPU worker main process, RSS", ours[0][0], "MB", bare[0][0], "bare Celery main"),
            Figure(
                "API process, PSS",
                sum(p[1] for p in api),
                "MB",
                None,
                "",
                "≤ 200 MB",
                sum(p[1] for p in api) <= 200,
            ),
            Figure("Redis per queued job", per_job, "bytes", None, "", "≤ 2048 bytes", per_job <= 2048),
        ],  # fmt: skip
        notes=[
            f"worker after {jobs} jobs (SD1.5 256², 4 steps); Redis weighed with {queued} queued jobs",
            "worker processes (RSS, PSS MB): " + ", ".join(f"({r:.0f}, {p:.0f})" for r, p in ours),
            "bare Celery processes (RSS, PSS MB): " + ", ".join(f"({r:.0f}, {p:.0f})" for r, p in bare),
        ],
    )


def _tree(pid: int) -> list[tuple[float, float]]:
    """(RSS MB, PSS MB) of `pid` and each of its children, the process itself first."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    pids += [int(child) for child in children]
    return [(_field(p, "status", "VmRSS"), _field(p, "smaps_rollup", "Pss")) for p in pids]


def _field(pid: int, table: str, name: str) -> float:
    for line in Path(f"/proc/{pid}/{table}").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/{table} has no {name}")


def _bare_worker(w: World) -> list[tuple[float, float]]:
    """A Celery worker of a no-op app with our pool settings, after the same number of tasks."""
    name = f"bare-{uuid.uuid4().hex[:6]}"
    args = [sys.executable, "-m", "celery", "-A", "bench.bare_celery", "worker", "-n", f"{name}@%h",
            "-Q", "bare", "-P", "prefork", "-c", "1", "--prefetch-multiplier", "1", "--without-gossip",
            "--without-mingle", "-l", "WARNING"]  # fmt: skip
    child = w.procs.group.start(name, args, w.procs.env)
    from bench.bare_celery import app, noop

    wait_worker(name, child, app=app)
    for _ in range(10):
        noop.apply_async(queue="bare").get(timeout=30)
    time.sleep(0.5)
    return _tree(child.process.pid)


def _redis_bytes_per_queued_job(w: World, job: dict[str, object], count: int) -> float:
    client = redis.Redis.from_url(w.env["SDFLEET_REDIS_URL"])
    try:
        before = int(client.info("memory")["used_memory"])
        jobs = producer_context().jobs
        for seed in range(count):
            jobs.submit({**job, "seed": 1000 + seed})
        after = int(client.info("memory")["used_memory"])
    finally:
        client.close()
    return (after - before) / count
