"""The Grafana dashboard asks only for metrics the code exports: every series name in every panel's
query is one that a worker's registry, the API's collector or the API's request metrics produce."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from worker.monitoring.api_metrics import ApiMetrics
from worker.monitoring.metrics import FleetCollector
from worker.monitoring.worker_metrics import WorkerMetrics
from worker.store.engine import make_engine

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "compose" / "grafana" / "dashboards" / "sdfleet.json"
SERIES = re.compile(r"\b(sdfleet_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _names(families: Iterator[Metric]) -> set[str]:
    names = set()
    for family in families:
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


@pytest.fixture(scope="module")
def exported(database_url: str, redis_url: str) -> set[str]:
    worker = WorkerMetrics("gpu0@test")
    engine = make_engine(database_url)
    api = CollectorRegistry()
    api.register(FleetCollector(engine, redis_url, lambda: ["deliberate_v6"], offline_after_s=15.0))
    requests = ApiMetrics()  # the API process's own, beside its collector
    try:
        return _names(worker.registry.collect()) | _names(api.collect()) | _names(requests.registry.collect())
    finally:
        engine.dispose()


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_dashboard_has_the_panels_operators_asked_for() -> None:
    titles = " | ".join(title for title, _ in _queries()).lower()
    for wanted in ("throughput", "success rate", "failures by category", "queue depth", "oldest queued",
                   "vram", "utilisation", "temperature", "checkpoint loads", "image quality", "api latency",
                   "api error rate"):  # fmt: skip
        assert wanted in titles, wanted


@pytest.mark.parametrize(("title", "expr"), _queries(), ids=[title for title, _ in _queries()])
def test_every_query_names_exported_metrics(title: str, expr: str, exported: set[str]) -> None:
    named = set(SERIES.findall(expr))
    assert named, f"{title}: no sdfleet metric in {expr!r}"
    assert named <= exported, f"{title}: {sorted(named - exported)} are not exported"
