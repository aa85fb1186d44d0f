"""Job lists, statistics and queue positions at a million jobs: the cost per request, and the full-table
GROUP BY they avoid as the baseline, measured in the same run on the same database.

    python -m bench.job_lists [--jobs 1000000] [--queued 5000] [--repeat 20]

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

from bench.services import services
from worker.store.engine import make_engine, make_session_factory
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, services(Path(work)) as env:
        engine = make_engine(env["SDFLEET_DATABASE_URL"])
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(FILL), {"jobs": args.jobs, "queued": args.queued})
            connection.execute(text(ROLLUP))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE jobs"))
            connection.execute(text("VACUUM ANALYZE job_outcomes_hourly"))
        print(f"filled {args.jobs} jobs ({args.queued} queued) in {time.perf_counter() - started:.1f} s")
        store = JobStore(make_session_factory(engine))
        mine = JobFilter(owner="caller-7")
        with engine.connect() as connection:
            deep = connection.execute(
                text("SELECT created_at, id FROM jobs WHERE owner = 'caller-7' "
                     "ORDER BY created_at DESC, id DESC OFFSET 25000 LIMIT 1")
            ).one()  # fmt: skip
            last_queued = connection.execute(
                text("SELECT id FROM jobs WHERE status = 'queued' AND queue = 'sd.deliberate_v6' "
                     "ORDER BY created_at DESC LIMIT 1")
            ).scalar_one()  # fmt: skip
        figures = {
            "stats, 24 h, one caller": lambda: store.stats(owner="caller-7", hours=24),
            "stats, 30 days, everyone": lambda: store.stats(owner=None, hours=720),
            "list, first page of 50": lambda: store.page(mine, limit=50),
            "list, page at row 25,000 (cursor)": lambda: store.page(
                mine, limit=50, after=Cursor(deep.created_at, deep.id)
            ),
            "list, failed only, first page": lambda: store.page(
                JobFilter(owner="caller-7", statuses=(JobStatus.FAILED,)), limit=50
            ),
            "queue position, last of the queue": lambda: store.standing(last_queued),
        }
        for name, call in figures.items():
            print(f"{name:40} {median_ms(call, args.repeat):8.2f} ms")

        def baseline() -> None:
            with engine.connect() as connection:
                connection.execute(text(BASELINE)).all()

        baseline_ms = median_ms(baseline, max(3, args.repeat // 4))
        print(f"{'baseline: GROUP BY over the jobs table':40} {baseline_ms:8.2f} ms")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
