"""B9: `GET /v1/stats/quality` at a million jobs, over HTTP from a real API process, against the same
figures computed from the jobs and images tables without the rollup, in the same run on the same
database; and what the rollup costs each job end and each rating.

    python -m bench B9 [--b9-jobs 1000000] [--b9-repeat 20]

The jobs (30 days, 20 callers, two checkpoints, skewed mixes of LoRA combinations, presets, samplers and
sizes, 2 % failed, 1 % cancelled) and their images (one or two, each with a score) are written with
INSERT … SELECT from generate_series; the hourly rollup is filled from them as migration 0005 fills it,
with the images' scores. Endpoint figures are medians of `--repeat` requests after a warm-up one.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.b8_job_lists import median_ms
from bench.harness import world
from bench.report import Figure, Report
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_engine, make_session_factory
from worker.store.jobs import JobStore
from worker.store.quality import QualityStore, Rating
from worker.store.quality_stats import DIMENSIONS
from worker.store.records import JobEnd, StoredImage
from worker.store.rollup import count_end
from worker.vocabulary import JobStatus

ID = "B9"
TITLE = "quality statistics at a million jobs (GET /v1/stats/quality)"
TARGET_MS = 50.0  # a day's or a week's breakdown: well under a human's notice
TARGET_MONTH_MS = 500.0  # a month of every combination reads every rollup row of the month

FILL_JOBS = """
INSERT INTO jobs (id, status, checkpoint, queue, params, seed, batch_size, attempt, max_attempts, owner,
                  failure_category, created_at, updated_at, started_at, finished_at)
SELECT gen_random_uuid(),
       CASE WHEN n % 50 = 0 THEN 'failed' WHEN n % 97 = 0 THEN 'cancelled' ELSE 'succeeded' END,
       ck, 'sd.' || ck,
       jsonb_build_object(
           'prompt', 'a lighthouse ' || n, 'steps', 20,
           'sampler', (ARRAY['DPM++ 2M', 'Euler a', 'DPM++ SDE', 'UniPC', 'DDIM'])[s],
           'scheduler', (ARRAY['Karras', 'Automatic', 'Karras', 'Automatic', 'Automatic'])[s],
           'preset', CASE WHEN n * 13 % 10 < 7 THEN NULL WHEN n * 13 % 10 < 9 THEN 'realism'
                          ELSE 'portrait' END,
           'loras', CASE WHEN ck = 'deliberate_v6' OR n * 31 % 10 < 4 THEN '[]'::jsonb
                         WHEN n * 31 % 10 < 7 THEN '[{"name": "detail_tweaker_xl", "weight": 0.8}]'::jsonb
                         WHEN n * 31 % 10 < 9 THEN '[{"name": "detail_tweaker_xl", "weight": 1.0},
                                                     {"name": "real_skin_slider", "weight": 1.0}]'::jsonb
                         ELSE '[{"name": "dramatic_lighting_slider", "weight": 1.0}]'::jsonb END,
           'width', (CASE WHEN ck = 'deliberate_v6' THEN ARRAY[512, 512, 768]
                          ELSE ARRAY[1024, 832, 1216] END)[r],
           'height', (CASE WHEN ck = 'deliberate_v6' THEN ARRAY[512, 768, 512]
                           ELSE ARRAY[1024, 1216, 832] END)[r]),
       n, 1 + (n % 4 = 0)::int, 1, 4, 'caller-' || (n % 20),
       CASE WHEN n % 150 = 0 THEN 'oom' WHEN n % 100 = 0 THEN 'timeout'
            WHEN n % 50 = 0 THEN 'backend_crashed' WHEN n % 97 = 0 THEN 'cancelled' END,
       at, at, at, at + interval '5 seconds'
FROM (SELECT n,
             CASE WHEN n % 3 = 0 THEN 'jib_mix_illustrious_realistic_v2' ELSE 'deliberate_v6' END AS ck,
             CASE WHEN n * 7 % 100 < 55 THEN 1 WHEN n * 7 % 100 < 75 THEN 2 WHEN n * 7 % 100 < 87 THEN 3
                  WHEN n * 7 % 100 < 95 THEN 4 ELSE 5 END AS s,
             CASE WHEN n * 17 % 10 < 6 THEN 1 WHEN n * 17 % 10 < 8 THEN 2 ELSE 3 END AS r,
             now() - make_interval(secs => n * (2592000.0 / :jobs)) AS at
      FROM generate_series(1, :jobs) AS n) AS g
"""
FILL_IMAGES = """
INSERT INTO images (job_id, index, seed, storage_path, width, height, sha256, infotext, quality_score,
                    low_quality)
SELECT j.id, k, j.seed + k, j.id || '/attempt-1/' || k || '.png', (j.params->>'width')::int,
       (j.params->>'height')::int, '', '', q, q < 0.5
FROM jobs j, generate_series(0, j.batch_size - 1) AS k,
     LATERAL (SELECT 0.35 + 0.6 * (((j.seed * 2654435761 + k) % 1000) / 1000.0) AS q) AS score
WHERE j.status = 'succeeded'
"""
# The rollup's dimensions from a job's params, as `worker.store.rollup.dimensions` gives them
DIMENSIONS_SQL = """
    coalesce((SELECT string_agg(DISTINCT l->>'name', '+' ORDER BY l->>'name')
              FROM jsonb_array_elements(coalesce(j.params->'loras', '[]'::jsonb)) l), '') AS loras,
    coalesce(j.params->>'preset', '') AS preset,
    coalesce(j.params->>'sampler', '')
        || CASE WHEN coalesce(j.params->>'scheduler', 'Automatic') = 'Automatic' THEN ''
                ELSE ' ' || (j.params->>'scheduler') END AS sampler,
    (j.params->>'width') || 'x' || (j.params->>'height') AS resolution
"""
FROM_JOBS = f"""
SELECT date_trunc('hour', j.finished_at) AS hour, coalesce(j.owner, '') AS owner, j.checkpoint,
       {DIMENSIONS_SQL},
       j.status, coalesce(j.failure_category, '') AS category, count(*) AS jobs, sum(j.attempt) AS attempts,
       coalesce(sum(i.images), 0) AS images, coalesce(sum(i.images), 0) AS scored_images,
       coalesce(sum(i.score_sum), 0) AS score_sum, coalesce(sum(i.low), 0) AS low_quality_images
FROM jobs j
LEFT JOIN (SELECT job_id, count(*) AS images, sum(quality_score) AS score_sum,
                  count(*) FILTER (WHERE low_quality) AS low
           FROM images GROUP BY job_id) AS i ON i.job_id = j.id
WHERE j.finished_at >= :since
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
FILL_ROLLUP = f"""
INSERT INTO quality_hourly (hour, owner, checkpoint, loras, preset, sampler, resolution, status, category,
                            jobs, attempts, images, scored_images, score_sum, low_quality_images)
SELECT * FROM ({FROM_JOBS}) AS everything
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--b9-jobs", type=int, default=1_000_000, help="B9: jobs in the table")
    parser.add_argument("--b9-repeat", type=int, default=20, help="B9: requests per figure (median)")


def _fill(engine: Engine, jobs: int) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for name, statement, params in (
        ("jobs", FILL_JOBS, {"jobs": jobs}),
        ("images", FILL_IMAGES, {}),
        ("rollup", FILL_ROLLUP, {"since": datetime(1970, 1, 1, tzinfo=UTC)}),
    ):
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(statement), params)
        seconds[name] = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("jobs", "images", "quality_hourly"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
    return seconds


def _write_costs(engine: Engine, repeat: int) -> tuple[float, float]:
    """Median ms of the rollup's share of a job's end (the `count_end` statement inside a transaction,
    as the job's ending one runs it: the commit is the job's own) and of a whole rating
    (`QualityStore.rate`: the feedback row and the rollup, committed)."""
    params = {"width": 512, "height": 512, "sampler": "DPM++ 2M", "scheduler": "Karras", "loras": []}
    images = [StoredImage(0, 1, "x.png", 512, 512, "", "", 0.8, False, None)]
    with engine.connect() as connection, connection.begin() as transaction:

        def end() -> None:
            job = JobEnd(
                uuid.uuid4(), "caller-7", "deliberate_v6", JobStatus.SUCCEEDED, None, None, params, 1
            )
            count_end(connection, job, images, now=datetime.now(UTC))

        end_ms = median_ms(end, repeat * 5)
        transaction.rollback()
    with engine.connect() as connection:
        job_id = connection.execute(
            text("SELECT job_id FROM images WHERE index = 0 ORDER BY job_id LIMIT 1")
        ).scalar_one()
    job = JobStore(engine).get(job_id)
    quality = QualityStore(engine)
    ratings = iter(range(10**9))

    def rate() -> None:
        stars = 1 + next(ratings) % 5
        quality.rate(job, 0, "caller-7", Rating(None, stars, (stars - 1) / 4, None))

    return end_ms, median_ms(rate, repeat * 5)


def _endpoint(http: httpx.Client, **query: Any) -> Callable[[], None]:
    def call() -> None:
        http.get("/v1/stats/quality", params=query).raise_for_status()

    return call


def _without_rollup(engine: Engine, hours: int) -> Callable[[], None]:
    def call() -> None:
        since = datetime.fromtimestamp(time.time() - hours * 3600, UTC)
        with engine.connect() as connection:
            connection.execute(text(FROM_JOBS), {"since": since}).all()

    return call


def run(args: argparse.Namespace) -> Report:
    jobs = 20_000 if args.smoke else args.b9_jobs
    repeat = 3 if args.smoke else args.b9_repeat
    with world() as w:
        engine = make_engine(w.env["SDFLEET_DATABASE_URL"])
        fill_s = _fill(engine, jobs)
        key = ApiKeys(make_session_factory(engine)).create("caller-7")
        one_caller = w.procs.api()
        everyone = w.procs.api({"SDFLEET_API_AUTH": "false"})
        with engine.connect() as connection:
            rollup_rows = connection.execute(text("SELECT count(*) FROM quality_hourly")).scalar_one()
        day_ms = median_ms(_without_rollup(engine, 24), max(3, repeat // 4))
        month_ms = median_ms(_without_rollup(engine, 720), max(2, repeat // 10))
        day, month = (day_ms, "jobs ⋈ images, 24 h"), (month_ms, "jobs ⋈ images, 30 days")
        # Keep-alive clients, as a dashboard polling the API holds one: a new client per request would
        # measure httpx building its TLS context (~40 ms), not the endpoint.
        mine = httpx.Client(base_url=one_caller, headers={"Authorization": f"Bearer {key}"}, timeout=600)
        anyone = httpx.Client(base_url=everyone, timeout=600)
        calls = [
            ("24 h, one caller, every combination", _endpoint(mine, hours=24), day, TARGET_MS),
            ("24 h, everyone, every combination", _endpoint(anyone, hours=24), day, TARGET_MS),
            ("7 days, everyone, by checkpoint", _endpoint(anyone, hours=168, by="checkpoint"), day,
             TARGET_MS),
            ("30 days, everyone, every combination", _endpoint(anyone, hours=720, limit=50), month,
             TARGET_MONTH_MS),
        ]  # fmt: skip
        figures = []
        for name, call, (baseline, label), target in calls:
            value = median_ms(call, repeat)
            figures.append(Figure(name, round(value, 2), "ms", round(baseline, 1), label, f"< {target:g} ms",
                                  value < target))  # fmt: skip
        mine.close()
        anyone.close()
        store = QualityStore(engine)
        alone = median_ms(lambda: store.stats(owner=None, hours=24, by=DIMENSIONS, limit=50), repeat)
        figures.append(Figure("24 h, everyone, every combination: the store's query alone", round(alone, 2),
                              "ms", round(day_ms, 1), day[1]))  # fmt: skip
        end_ms, rate_ms = _write_costs(engine, repeat)
        figures.append(Figure("rollup upsert in a job's ending transaction", round(end_ms, 3), "ms"))
        figures.append(Figure("a rating (feedback row and rollup, committed)", round(rate_ms, 3), "ms"))
        figures.append(Figure("rollup rows, 30 days", float(rollup_rows), "rows", float(jobs), "jobs"))
        engine.dispose()
    return Report(
        ID,
        TITLE,
        figures,
        notes=[
            f"{jobs:,} jobs over 30 days (20 callers, 2 checkpoints, 6 LoRA combinations, 3 presets, "
            "5 samplers, 6 sizes; 2 % failed, 1 % cancelled), 1.25 images per succeeded job; filled in "
            + ", ".join(f"{name} {s:.0f} s" for name, s in fill_s.items()),
            f"endpoint figures: median of {repeat} GETs over HTTP (a keep-alive client) from a real API "
            "process after a warm-up one; the baseline computes the same figures with a GROUP BY over jobs "
            "joined with their images' scores, what each request would cost without the rollup",
        ],
    )
