"""The quality migration fills the hourly rollup from jobs that ended before it, with the dimensions the
code gives new jobs (`worker.store.rollup.dimensions`), so old and new endings of one combination add up
in one row."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, text

from worker.store.engine import sqlalchemy_url
from worker.store.migrate import alembic_config
from worker.store.rollup import dimensions

PARAMS = [
    {"width": 512, "height": 768, "sampler": "DPM++ 2M", "scheduler": "Karras", "preset": "realism",
     "loras": [{"name": "real_skin_slider", "weight": 1}, {"name": "detail_tweaker_xl", "weight": 0.5},
               {"name": "real_skin_slider", "weight": 0.2}]},
    {"width": 1024, "height": 1024, "sampler": "Euler a", "scheduler": "Automatic", "preset": None,
     "loras": []},
]  # fmt: skip


def test_jobs_that_ended_before_the_rollup_are_counted_with_the_codes_dimensions(
    empty_database_url: str,
) -> None:
    # Given a schema before the rollup, with two succeeded jobs (one with two images) and a failed one
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0005_quality-1")  # the schema just before this migration
    engine = create_engine(sqlalchemy_url(empty_database_url))
    ended = datetime(2026, 1, 2, 3, 45, tzinfo=UTC)
    insert_job = text("""
        INSERT INTO jobs (id, status, checkpoint, queue, params, seed, batch_size, attempt, max_attempts,
                          owner, failure_category, finished_at)
        VALUES (:id, :status, 'deliberate_v6', 'sd.deliberate_v6', CAST(:params AS jsonb), 1, 1, 1, 3,
                'alice', :category, :ended)
    """)
    insert_image = text("""
        INSERT INTO images (job_id, index, seed, storage_path, width, height, sha256, infotext)
        VALUES (:job, :index, 1, 'x.png', 64, 64, '', '')
    """)
    with engine.begin() as connection:
        for params, status, category, images in ((PARAMS[0], "succeeded", None, 2),
                                                  (PARAMS[1], "succeeded", None, 1),
                                                  (PARAMS[1], "failed", "oom", 0)):  # fmt: skip
            job = uuid.uuid4()
            connection.execute(insert_job, {"id": job, "status": status, "params": json.dumps(params),
                                            "category": category, "ended": ended})  # fmt: skip
            for index in range(images):
                connection.execute(insert_image, {"job": job, "index": index})

    # When the schema is upgraded
    command.upgrade(config, "head")

    # Then each job is in the row its dimensions name, at the hour of its end
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM quality_hourly")).mappings().all()
    engine.dispose()
    found = {
        (r["loras"], r["preset"], r["sampler"], r["resolution"], r["status"], r["category"]):
        (r["jobs"], r["images"], r["scored_images"], r["hour"], r["owner"])
        for r in rows
    }  # fmt: skip
    hour = datetime(2026, 1, 2, 3, tzinfo=UTC)
    for params, status, category, images in ((PARAMS[0], "succeeded", "", 2), (PARAMS[1], "succeeded", "", 1),
                                              (PARAMS[1], "failed", "oom", 0)):  # fmt: skip
        d = dimensions("deliberate_v6", params)
        assert found[(d.loras, d.preset, d.sampler, d.resolution, status, category)] == (
            1,
            images,
            0,
            hour,
            "alice",
        )
    assert len(found) == 3
