"""Services for a benchmark run: the environment's Redis and Postgres, else embedded ones, and a fresh
database of the run's own (dropped afterwards)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from worker.celery_app import configure
from worker.settings import CoreSettings, install
from worker.stack.services import drop_database, ensure_database, start_postgres, start_redis
from worker.store.migrate import upgrade_head


@contextmanager
def services(work: Path) -> Iterator[dict[str, str]]:
    """Redis and a fresh database (the environment's servers, else embedded ones); the SDFLEET_* values."""
    redis = postgres = None
    redis_url = os.environ.get("SDFLEET_REDIS_URL")
    server_url = os.environ.get("SDFLEET_DATABASE_URL")
    if not redis_url:
        redis = start_redis(work / "redis", persist=False)
        redis_url = redis.url
    if not server_url:
        postgres, server_url = start_postgres(work / "pg", cleanup_mode="delete")
    database = f"sdfleet_bench_{os.getpid()}"
    database_url = ensure_database(server_url, database)
    try:
        upgrade_head(database_url)
        yield {"SDFLEET_REDIS_URL": redis_url, "SDFLEET_DATABASE_URL": database_url}
    finally:
        drop_database(server_url, database)
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.cleanup()


def adopt(env: dict[str, str]) -> None:
    """Make this process (the benchmark's client) use the run's services: `env` as installed settings."""
    settings = CoreSettings(
        redis_url=env["SDFLEET_REDIS_URL"],
        database_url=env["SDFLEET_DATABASE_URL"],
        models_dir=Path(env["SDFLEET_MODELS_DIR"]),
        result_dir=Path(env["SDFLEET_RESULT_DIR"]),
        state_dir=Path(env["SDFLEET_STATE_DIR"]),
    )
    install(settings)
    configure(settings)
