"""Prometheus metrics of the fleet, read from the record (Postgres) and the doorbell (Redis) at scrape time.

A collector rather than counters in memory: every API replica reports the same truth, and nothing is
lost when a process restarts. Served by the API at `/metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.recovery.queue_contents import PRIORITY_SEP, PRIORITY_STEPS
from worker.store.models import Attempt, GpuCapacity, Job
from worker.store.records import utcnow
from worker.vocabulary import JobStatus


class FleetCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], redis_url: str | None) -> None:
        self._sessions = sessions
        self._redis_url = redis_url

    def collect(self) -> Iterator[Metric]:
        with self._sessions() as session:
            yield from self._jobs(session)
            yield from self._attempts(session)
            yield from self._capacity(session)
            queues = [q for (q,) in session.execute(select(Job.queue).distinct())]
        if self._redis_url and queues:
            yield self._queue_depth(queues)

    def _jobs(self, session: Session) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "sdfleet_jobs", "Jobs by status and checkpoint", labels=["status", "checkpoint"]
        )
        for status, checkpoint, count in session.execute(
            select(Job.status, Job.checkpoint, func.count()).group_by(Job.status, Job.checkpoint)
        ):
            jobs.add_metric([status, checkpoint], count)
        yield jobs
        failed = GaugeMetricFamily(
            "sdfleet_jobs_failed", "Failed or cancelled jobs by final failure category", labels=["category"]
        )
        for category, count in session.execute(
            select(Job.failure_category, func.count())
            .where(Job.failure_category.is_not(None))
            .group_by(Job.failure_category)
        ):
            failed.add_metric([str(category)], count)
        yield failed
        oldest = GaugeMetricFamily(
            "sdfleet_oldest_queued_seconds", "Age of the oldest queued job", labels=["checkpoint"]
        )
        now: datetime = utcnow()
        for checkpoint, created in session.execute(
            select(Job.checkpoint, func.min(Job.created_at))
            .where(Job.status == JobStatus.QUEUED.value)
            .group_by(Job.checkpoint)
        ):
            oldest.add_metric([checkpoint], (now - created).total_seconds())
        yield oldest

    def _attempts(self, session: Session) -> Iterator[Metric]:
        attempts = GaugeMetricFamily(
            "sdfleet_attempts", "Attempts by outcome and failure category", labels=["outcome", "category"]
        )
        for outcome, category, count in session.execute(
            select(Attempt.outcome, Attempt.category, func.count()).group_by(
                Attempt.outcome, Attempt.category
            )
        ):
            attempts.add_metric([outcome, category or ""], count)
        yield attempts
        ooms = GaugeMetricFamily(
            "sdfleet_oom_events", "CUDA OOMs met by attempts, by worker", labels=["worker"]
        )
        for worker, total in session.execute(
            select(Attempt.worker, func.sum(Attempt.oom_count)).group_by(Attempt.worker)
        ):
            ooms.add_metric([worker], float(total or 0))
        yield ooms

    def _capacity(self, session: Session) -> Iterator[Metric]:
        limit = GaugeMetricFamily(
            "sdfleet_gpu_batch_limit",
            "Largest batch a GPU is known to hold for a shape",
            labels=["gpu", "architecture", "pixels"],
        )
        for row in session.scalars(select(GpuCapacity).where(GpuCapacity.batch_limit.is_not(None))):
            limit.add_metric([row.gpu, row.architecture, str(row.pixels)], float(row.batch_limit or 0))
        yield limit

    def _queue_depth(self, queues: list[str]) -> Metric:
        depth = GaugeMetricFamily(
            "sdfleet_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        assert self._redis_url is not None
        client = redis.Redis.from_url(self._redis_url, socket_timeout=2)
        try:
            for queue in sorted(queues):
                keys = [queue if s == 0 else f"{queue}{PRIORITY_SEP}{s}" for s in PRIORITY_STEPS]
                depth.add_metric([queue], float(sum(int(client.llen(k)) for k in keys)))
        except redis.RedisError:
            pass  # a Redis outage shows as missing samples, not a failed scrape
        finally:
            client.close()
        return depth
