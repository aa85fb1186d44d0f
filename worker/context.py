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
from worker.capacity import CapacityMemory, PostgresCapacity
from worker.db.engine import make_engine, make_session_factory
from worker.errors import InternalError
from worker.jobs.resolver import RegistryResolver
from worker.jobs.runner import JobRunner
from worker.jobs.store import JobStore
from worker.results import ResultStore
from worker.settings import CoreSettings, WorkerSettings, get_settings


@dataclass
class ProducerContext:
    settings: CoreSettings
    engine: Engine
    store: JobStore
    resolver: RegistryResolver


@dataclass
class WorkerContext:
    settings: WorkerSettings
    engine: Engine
    store: JobStore
    backend: Backend
    runner: JobRunner
    capacity: CapacityMemory

    def close(self) -> None:
        self.backend.close()
        self.engine.dispose()


_lock = threading.Lock()
_producer: ProducerContext | None = None
_worker: WorkerContext | None = None


def build_producer(settings: CoreSettings) -> ProducerContext:
    engine = make_engine(settings.database_url)
    return ProducerContext(
        settings=settings,
        engine=engine,
        store=JobStore(make_session_factory(engine)),
        resolver=RegistryResolver.for_volume(settings.models_dir),
    )


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
            _producer = None


def init_worker_context(settings: WorkerSettings) -> WorkerContext:
    """Build the worker's resources (called in each pool process after fork); launches A1111 if owned."""
    global _worker
    engine = make_engine(settings.database_url, pool_size=2)
    store = JobStore(make_session_factory(engine))
    resolver = RegistryResolver.for_volume(settings.models_dir)
    client = A1111Client(settings.a1111_url, request_timeout_s=settings.a1111_request_timeout_s)
    process: OwnedProcess
    if settings.a1111_launch:
        process = launch_supervisor(settings)
    else:
        process = AttachedA1111(settings.a1111_url, probe=client.is_ready)
    backend = Backend(
        client,
        process=process,
        poll_interval_s=settings.a1111_poll_interval_s,
        startup_deadline_s=settings.a1111_startup_deadline_s,
        checkpoint_load_deadline_s=settings.a1111_checkpoint_load_deadline_s,
    )
    capacity = PostgresCapacity(make_session_factory(engine))
    runner = JobRunner(
        store=store,
        backend=backend,
        results=ResultStore(settings.result_dir),
        capacity=capacity,
        checkpoint_file=resolver.checkpoint_file,
        mark_used=resolver.mark_used,
        worker_name=settings.worker_name,
        gpu_key=settings.gpu_key,
        lease_s=settings.lease_s,
        stall_s=settings.a1111_stall_s,
        interrupt_grace_s=settings.a1111_interrupt_grace_s,
    )
    _worker = WorkerContext(settings, engine, store, backend, runner, capacity)
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
