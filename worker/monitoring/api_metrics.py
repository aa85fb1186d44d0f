"""The API's own health: request latency and status by route template (its error rate), kept by the API
process (`api.middleware.RequestMetrics`) and served beside the fleet's figures at its `/metrics`. (The
image-quality histogram is a worker's: `worker.monitoring.worker_metrics`.)

Built per process, into a registry of its own; nothing is created at import time. An API that
runs several processes (`SDFLEET_API_PROCESSES`) keeps its request metrics in prometheus_client's
multiprocess mode: `python -m api` points PROMETHEUS_MULTIPROC_DIR (prometheus_client's own variable,
read when it is imported) at a fresh folder before the processes start, each writes its samples there,
and a scrape of any of them sums them all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# API answers: most are a few ms; a synchronous A1111-compatible call waits for its job (up to minutes)
REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
UNMATCHED_ROUTE = "<unmatched>"  # requests no route answers: one label, whatever path was asked


class ApiMetrics:
    """Request latency (seconds until the response's headers are sent) by method, route template and
    status code; the error rate is the share of `status=~"5.."` in `_count`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Histogram(
            "sdfleet_api_request_seconds",
            "API requests: seconds until the response's headers are sent, by method, route template "
            "and status code",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS_S,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).observe(max(0.0, seconds))

    def scrape_registry(self) -> CollectorRegistry:
        """What `/metrics` serves: every API process's samples in multiprocess mode, else this one's."""
        folder = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
        if not folder:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return registry


def share_between_processes(folder: Path) -> None:
    """Before an API starts several processes: their request metrics go to `folder`, emptied first (the
    samples of an earlier run would otherwise be added in). Must run before the processes import
    prometheus_client."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(folder)
