"""The producer API: validate, authorise, record, publish, report. Built by `create_app()`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.deps import Resources
from api.routes import a1111, health, jobs, metrics, models
from api.settings import ApiSettings, get_settings
from worker.apikeys import ApiKeys
from worker.celery_app import configure
from worker.db.engine import make_engine, make_session_factory
from worker.jobs.resolver import RegistryResolver
from worker.jobs.store import JobStore
from worker.policy.content import policy_for
from worker.results import ResultStore


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The FastAPI app; resources (engine, registry) are built when it starts, not here."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        policy_for(tuple(settings.blocked_terms))  # a bad pattern stops start-up, not every submission
        configure(settings)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            store=JobStore(sessions),
            keys=ApiKeys(sessions),
            resolver=RegistryResolver.for_volume(settings.models_dir),
            results=ResultStore(settings.result_dir),
        )
        yield
        engine.dispose()

    app = FastAPI(
        title="sdfleet",
        version="0.1.0",
        summary="A job queue for Stable Diffusion GPU fleets",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(jobs.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(a1111.router)
    app.include_router(models.router)
    return app
