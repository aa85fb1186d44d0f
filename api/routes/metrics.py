"""`/metrics`: Prometheus text format, unauthenticated like Flower's (scrape it from inside the network).

Cheap at any number of jobs (see `worker.monitoring.metrics`); the per-job counters and the per-GPU
figures are on each worker's own metrics port.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import ResourcesDep
from worker.monitoring.metrics import FleetCollector

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Fleet metrics for Prometheus", response_class=Response)
async def metrics(resources: ResourcesDep) -> Response:
    settings = resources.settings
    registry = CollectorRegistry()
    registry.register(
        FleetCollector(
            resources.engine,
            settings.redis_url,
            resources.jobs.resolver.checkpoint_names,
            offline_after_s=settings.worker_offline_after_s,
        )
    )
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
