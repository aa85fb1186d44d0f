"""`/metrics`: Prometheus text format, unauthenticated like Flower's (scrape it from inside the network).

Cheap at any number of jobs (see `worker.monitoring.metrics`); the per-job counters and the per-GPU
figures are on each worker's own metrics port.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import ResourcesDep
from worker.fleet.state import WorkerState
from worker.fleet.table import fleet
from worker.monitoring.metrics import FleetCollector

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Fleet metrics for Prometheus", response_class=Response)
async def metrics(resources: ResourcesDep, request: Request) -> Response:
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
    body += await run_in_threadpool(generate_latest, request.app.state.api_metrics.scrape_registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/metrics/targets", summary="Every worker's metrics address, for Prometheus' HTTP service discovery"
)
async def metrics_targets(resources: ResourcesDep) -> list[dict[str, Any]]:
    """Prometheus `http_sd_configs` reads this: one target per worker that serves metrics and is not
    offline, labelled with its node name and GPU (compose/prometheus.yml)."""
    views = await run_in_threadpool(fleet, resources.settings)
    return [
        {"targets": [f"{v.host}:{v.metrics_port}"], "labels": {"worker": v.name, "gpu": v.gpu_label or ""}}
        for v in views
        if v.metrics_port and v.host and v.state is not WorkerState.OFFLINE
    ]
