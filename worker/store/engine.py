"""Engines and sessions for the Postgres record; built by each process at start-up, never at import."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import ConfigurationError


def sqlalchemy_url(url: str | None) -> str:
    """`url` with the psycopg 3 driver named; raises ConfigurationError when no URL is set."""
    if not url:
        raise ConfigurationError(
            "no database URL: set SDFLEET_DATABASE_URL (e.g. postgresql://user@127.0.0.1:5432/sdfleet) "
            "or run `sdfleet up` (from the same directory, or with the same SDFLEET_STATE_DIR: every "
            "`sdfleet` command then finds its embedded Postgres)"
        )
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ConfigurationError(f"SDFLEET_DATABASE_URL must be a postgresql:// URL, got {url.split(':')[0]}://…")


def make_engine(url: str | None, *, pool_size: int = 5) -> Engine:
    """An engine for `url`; connections are checked before use so a Postgres restart is survived."""
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=5)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
