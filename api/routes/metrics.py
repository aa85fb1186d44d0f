"""`/metrics`: Prometheus text format, unauthenticated like Flower's (scrape it from inside the network)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.deps import ResourcesDep
from worker.monitoring.metrics import FleetCollector
from worker.store.engine import make_session_factory

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Fleet metrics for Prometheus", response_class=Response)
def metrics(resources: ResourcesDep) -> Response:
    registry = CollectorRegistry()
    registry.register(FleetCollector(make_session_factory(resources.engine), resources.settings.redis_url))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
