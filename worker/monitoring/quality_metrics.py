"""Prometheus metrics of the quality and health work (issue 14), in one module so they move as one:

- `ApiMetrics`: the API's request latency and status by route (its error rate), kept by the API process
  (`api.middleware.RequestMetrics`) and served beside the fleet's figures at its `/metrics`;
- `QualityMetrics`: the output-quality score of stored images by checkpoint, kept by a worker process.

Each is built per process, into a registry of its own; nothing is created at import time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

# API answers: most are a few ms; a synchronous A1111-compatible call waits for its job (up to minutes)
REQUEST_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
# The score is 0–1; the default floor is 0.5, and good images crowd near 1
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
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


class QualityMetrics:
    """The output-quality score of every stored image, by worker and checkpoint."""

    def __init__(self, worker: str, registry: CollectorRegistry | None = None) -> None:
        self.worker = worker
        self.registry = registry or CollectorRegistry()
        self.scores = Histogram(
            "sdfleet_image_quality_score",
            "Output-quality score (0-1) of stored images, by checkpoint",
            ["worker", "checkpoint"],
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )

    def observe(self, checkpoint: str, scores: list[float]) -> None:
        for score in scores:
            self.scores.labels(self.worker, checkpoint).observe(score)
