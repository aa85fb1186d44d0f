"""B8: job lists, statistics and queue positions at a million jobs: the cost per request, and the
full-table GROUP BY they avoid as the baseline, measured in the same run on the same database.

    python -m bench B8 [--b8-jobs 1000000] [--b8-queued 5000] [--b8-repeat 20]

Rows are written with one INSERT … SELECT from generate_series (30 days of history, 20 callers, two
checkpoints, a realistic mix of outcomes, `--queued` jobs still queued); the hourly rollup is filled as
migration 0003 fills it. Each figure is the median of `--repeat` calls of the job store, in this
process, against the environment's Postgres (SDFLEET_DATABASE_URL) or an embedded one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.report import Figure, Report
from bench.services import services
from worker.store.engine import make_engine
from worker.store.jobs import JobStore
from worker.store.listing import Cursor, JobFilter
from worker.vocabulary import JobStatus

FILL = """
INSERT INTO jobs (id, status, checkpoint, queue, params, seed, batch_size, attempt, max_attempts, owner,
                  failure_category, created_at, updated_at, started_at, finished_at)
SELECT gen_random_uuid(),
       CASE WHEN n <= :queued THEN 'queued'
            WHEN n % 50 = 0 THEN 'failed' WHEN n % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
       CASE WHEN n % 3 = 0 THEN 'jib_mix_illustrious_realistic_v2' ELSE 'deliberate_v6' END,
       CASE WHEN n % 3 = 0 THEN 'sd.jib_mix_illustrious_realistic_v2' ELSE 'sd.deliberate_v6' END,
       jsonb_build_object('prompt', 'a lighthouse ' || n, 'steps', 20),
       n, 2, 1, 4, 'caller-' || (n % 20),
       CASE WHEN n <= :queued THEN NULL WHEN n % 50 = 0 THEN 'backend_crashed'
            WHEN n % 97 = 0 THEN 'cancelled' END,
       now() - make_interval(secs => n * (2592000.0 / :jobs)),
       now() - make_interval(secs => n * (2592000.0 / :jobs)),
       CASE WHEN n <= :queued THEN NULL ELSE now() - make_interval(secs => n * (2592000.0 / :jobs)) END,
       CASE WHEN n <= :queued THEN NULL ELSE now() - make_interval(secs => n * (2592000.0 / :jobs) - 5) END
FROM generate_series(1, :jobs) AS n
"""
ROLLUP = """
INSERT INTO job_outcomes_hourly (hour, owner, checkpoint, status, category, jobs, images)
SELECT date_trunc('hour', finished_at), coalesce(owner, ''), checkpoint, status,
       coalesce(failure_category, ''), count(*),
       sum(CASE WHEN status = 'succeeded' THEN batch_size ELSE 0 END)
FROM jobs WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5
"""
BASELINE = """
SELECT status, failure_category, date_trunc('hour', finished_at), count(*)
FROM jobs WHERE owner = 'caller-7' GROUP BY 1, 2, 3
"""


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm the cache: steady state is what a busy API sees
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


ID = "B8"
TITLE = "job lists, stats and queue positions at a million jobs"
TARGET_MS = 50.0  # a list page, the stats or a queue position: well under a human's notice


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b8-jobs", type=int, default=1_000_000, help="B8: jobs in the table")
    parser.add_argument("--b8-queued", type=int, default=5_000, help="B8: of which still queued")
    parser.add_argument("--b8-repeat", type=int, default=20, help="B8: calls per figure (median)")


def run(args: argparse.Namespace) -> Report:
    jobs = 20_000 if args.smoke else args.b8_jobs
    queued = min(args.b8_queued, jobs // 4)
    repeat = 3 if args.smoke else args.b8_repeat
    with tempfile.TemporaryDirectory() as work, services(Path(work)) as env:
        engine = make_engine(env["SDFLEET_DATABASE_URL"])
        with engine.begin() as connection:
            connection.execute(text(FILL), {"jobs": jobs, "queued": queued})
            connection.execute(text(ROLLUP))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE jobs"))
            connection.execute(text("VACUUM ANALYZE job_outcomes_hourly"))
        store = JobStore(engine)
        mine = JobFilter(owner="caller-7")
        with engine.connect() as connection:
            deep = connection.execute(
                text("SELECT created_at, id FROM jobs WHERE owner = 'caller-7' "
                     "ORDER BY created_at DESC, id DESC OFFSET :n LIMIT 1"), {"n": jobs // 40}
            ).one()  # fmt: skip
            last_queued = connection.execute(
                text("SELECT id FROM jobs WHERE status = 'queued' AND queue = 'sd.deliberate_v6' "
                     "ORDER BY created_at DESC LIMIT 1")
            ).scalar_one()  # fmt: skip

        def baseline() -> None:
            with engine.connect() as connection:
                connection.execute(text(BASELINE)).all()

        baseline_ms = median_ms(baseline, max(3, repeat // 4))
        calls: dict[str, Callable[[], Any]] = {
            "stats, 30 days, everyone": lambda: store.stats(owner=None, hours=720),
            "stats, 24 h, one caller": lambda: store.stats(owner="caller-7", hours=24),
            "list, first page of 50": lambda: store.page(mine, limit=50),
            f"list, page at row {jobs // 40:,} (cursor)": lambda: store.page(
                mine, limit=50, after=Cursor(deep.created_at, deep.id)
            ),
            "list, failed only, first page": lambda: store.page(
                JobFilter(owner="caller-7", statuses=(JobStatus.FAILED,)), limit=50
            ),
            f"queue position, last of {queued * 2 // 3:,} queued": lambda: store.standing(last_queued),
        }
        figures = []
        for name, call in calls.items():
            value = median_ms(call, repeat)
            figures.append(
                Figure(name, round(value, 2), "ms", round(baseline_ms, 2), "GROUP BY over jobs",
                       f"< {TARGET_MS:g} ms", value < TARGET_MS)
            )  # fmt: skip
        engine.dispose()
    return Report(
        ID,
        TITLE,
        figures,
        notes=[
            f"{jobs:,} jobs over 30 days (20 callers, 2 checkpoints, 2 % failed, 1 % cancelled, {queued:,} "
            "queued); rollup filled as migration 0003 fills it; median of "
            f"{repeat} calls of the job store after a warm-up call",
            "baseline: one caller's counts by status, category and hour with a GROUP BY over the jobs "
            "table, what a per-request statistic would cost without the rollup",
        ],
    )
