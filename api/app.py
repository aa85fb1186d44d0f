"""The producer API: validate, authorise, record, publish, report. Built by `create_app()`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.deps import Resources
from api.middleware import RequestMetrics
from api.routes import a1111, health, job_events, job_lists, jobs, metrics, models, quality, workers
from api.settings import ApiSettings
from worker.celery_app import configure
from worker.context import build_producer
from worker.events.waiting import AsyncJobEvents
from worker.monitoring.api_metrics import ApiMetrics
from worker.policy.content import policy_for
from worker.settings import install
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_session_factory


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The FastAPI app; resources (engine, registry) are built when it starts, not here."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        policy_for(tuple(settings.blocked_terms))  # a bad pattern stops start-up, not every submission
        install(settings)
        configure(settings)
        producer = build_producer(settings)
        assert settings.redis_url is not None  # build_producer refuses to start without it
        events = AsyncJobEvents(settings.redis_url)
        app.state.resources = Resources(
            settings=settings,
            engine=producer.engine,
            jobs=producer.jobs,
            keys=ApiKeys(make_session_factory(producer.engine)),
            events=events,
        )
        yield
        await events.close()
        producer.engine.dispose()
        producer.events.close()

    app = FastAPI(
        title="sdfleet",
        version="0.1.0",
        summary="A job queue for Stable Diffusion GPU fleets",
        lifespan=lifespan,
    )
    errors.install(app)
    app.state.api_metrics = ApiMetrics()
    app.add_middleware(RequestMetrics, metrics=app.state.api_metrics)
    app.include_router(job_lists.router)
    app.include_router(jobs.router)
    app.include_router(quality.router)
    app.include_router(job_events.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(a1111.router)
    app.include_router(models.router)
    app.include_router(workers.router)
    return app
