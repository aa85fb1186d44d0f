"""The models and the migrations agree, and the migrations go up, down and up again on real Postgres."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from worker.store.engine import sqlalchemy_url
from worker.store.migrate import alembic_config
from worker.store.models import Base

TABLES = {
    "jobs", "attempts", "images", "api_keys", "gpu_capacity", "webhook_deliveries", "job_outcomes_hourly",
    "image_feedback", "quality_hourly",
}  # fmt: skip


def _tables(url: str) -> set[str]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_autogenerate_finds_no_difference(empty_database_url: str) -> None:
    # Given a database migrated to head
    command.upgrade(alembic_config(empty_database_url), "head")
    # When Alembic compares it with the models
    engine = create_engine(sqlalchemy_url(empty_database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    # Then there is nothing to generate
    assert diff == []


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    assert _tables(empty_database_url) == TABLES
    command.downgrade(config, "base")
    assert _tables(empty_database_url) == set()
    command.upgrade(config, "head")
    assert _tables(empty_database_url) == TABLES
