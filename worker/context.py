"""Per-process resources, built once: the producer's (any process that submits) and the worker's
(each Celery pool process, in `worker_process_init`). Nothing here is built at import time."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from worker.a1111.attached import AttachedA1111
from worker.a1111.backend import Backend, OwnedProcess
from worker.a1111.client import A1111Client
from worker.a1111.launch import launch_supervisor
from worker.errors import ConfigurationError, InternalError
from worker.events.stream import JobEvents
from worker.fleet.presence import Presence, build_presence
from worker.jobs.service import JobService
from worker.monitoring.observe import FleetObserver, ObservedEvents
from worker.monitoring.worker_metrics import WorkerMetrics
from worker.output.files import ResultStore
from worker.policy.capacity import CachedCapacity, CapacityMemory, PostgresCapacity
from worker.registry.resolver import RegistryResolver
from worker.run.runner import JobRunner
from worker.settings import CoreSettings, WorkerSettings, get_settings
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_engine, make_session_factory
from worker.store.jobs import JobStore


@dataclass
class ProducerContext:
    """What a process that submits jobs holds: its engine and the job service over it."""

    settings: CoreSettings
    engine: Engine
    jobs: JobService
    events: JobEvents


@dataclass
class WorkerContext:
    """What a GPU worker's pool process holds: its A1111 and the runner that drives it."""

    settings: WorkerSettings
    engine: Engine
    store: JobStore
    backend: Backend
    runner: JobRunner
    capacity: CapacityMemory
    events: JobEvents
    metrics: WorkerMetrics | None = None  # the fleet's view of this worker: its counters and gauges
    presence: Presence | None = None  # and its published state (None: a worker built without them)

    def close(self) -> None:
        if self.presence is not None:
            self.presence.stop()
        self.backend.close()
        self.engine.dispose()
        self.events.close()


_lock = threading.Lock()
_producer: ProducerContext | None = None
_worker: WorkerContext | None = None


def build_producer(settings: CoreSettings) -> ProducerContext:
    engine = make_engine(settings.database_url)
    events = _events(settings)
    sessions = make_session_factory(engine)
    jobs = JobService(
        store=JobStore(engine),
        resolver=RegistryResolver.for_volume(settings.models_dir),
        settings=settings,
        results=ResultStore(settings.result_dir),
        events=events,
        signing_secret=ApiKeys(sessions).webhook_secret,
    )
    return ProducerContext(settings=settings, engine=engine, jobs=jobs, events=events)


def _events(settings: CoreSettings, observer: FleetObserver | None = None) -> JobEvents:
    """The job event streams; a worker's `observer` also hears the events it writes (metrics, presence)."""
    if settings.redis_url is None:
        raise ConfigurationError("no broker URL: set SDFLEET_REDIS_URL (job events live in that Redis)")
    if observer is not None:
        return ObservedEvents.from_url(settings.redis_url, observer, finished_ttl_s=settings.events_ttl_s)
    return JobEvents.from_url(settings.redis_url, finished_ttl_s=settings.events_ttl_s)


def producer_context() -> ProducerContext:
    """The producer resources of this process, built on first use from `get_settings()`."""
    global _producer
    with _lock:
        if _producer is None:
            _producer = build_producer(get_settings())
        return _producer


def close_producer_context() -> None:
    """Dispose of the producer's engine (its pooled connections); the next use builds it again."""
    global _producer
    with _lock:
        if _producer is not None:
            _producer.engine.dispose()
            _producer.events.close()
            _producer = None


def init_worker_context(settings: WorkerSettings, *, fleet: bool = True) -> WorkerContext:
    """Build the worker's resources (called in each pool process after fork); launches A1111 if owned.

    With `fleet`, the worker also publishes its state and keeps its metrics (served if it has a port).
    """
    global _worker
    limits = settings.limits
    engine = make_engine(settings.database_url, pool_size=2)
    store = JobStore(engine)
    resolver = RegistryResolver.for_volume(settings.models_dir)
    client = A1111Client(settings.a1111_url, request_timeout_s=limits.request_timeout_s)
    process: OwnedProcess
    if settings.a1111_launch:
        process = launch_supervisor(settings)
    else:
        process = AttachedA1111(
            settings.a1111_url,
            probe=client.is_ready,
            come_back_deadline_s=limits.startup_deadline_s,
            poll_interval_s=limits.poll_interval_s,
        )
    backend = Backend(client, process=process, limits=limits)
    stored_capacity = PostgresCapacity(make_session_factory(engine))
    capacity = CachedCapacity(stored_capacity)
    metrics = presence = observer = None
    if fleet:
        metrics = WorkerMetrics(settings.node_name)
        presence = build_presence(
            settings,
            healthy=lambda: backend.healthy,
            capacity=lambda: stored_capacity.shapes(settings.gpu_key),
            checkpoint_file=resolver.checkpoint_file,
            metrics=metrics,
        )
        observer = FleetObserver(metrics, presence)
    events = _events(settings, observer)
    runner = JobRunner(
        store=store,
        backend=backend,
        results=ResultStore(settings.result_dir),
        capacity=capacity,
        checkpoint_file=resolver.checkpoint_file,
        mark_used=resolver.mark_used,
        worker_name=settings.node_name,
        gpu_key=settings.gpu_key,
        limits=limits,
        events=events,
        draining=presence.drain.is_set if presence is not None else lambda: False,
        quality=settings.quality,
    )
    _worker = WorkerContext(settings, engine, store, backend, runner, capacity, events, metrics, presence)
    if presence is not None and metrics is not None:
        presence.start()
        if settings.metrics_port:
            metrics.serve(settings.metrics_port)
    return _worker


def worker_context_or_none() -> WorkerContext | None:
    """This pool process's worker context, or None in any other process."""
    return _worker


def worker_context() -> WorkerContext:
    if _worker is None:
        raise InternalError("the worker context is not built: is this a Celery worker pool process?")
    return _worker


def close_worker_context() -> None:
    global _worker
    if _worker is not None:
        _worker.close()
        _worker = None
