"""The API's `/metrics`: the fleet's queues and workers, read at scrape time at a cost that does not grow
with the number of jobs ever run.

- Queue depth per checkpoint and lane: Redis list lengths (every priority sub-list summed).
- Age of the oldest queued job per queue: one probe of the partial index `ix_jobs_queued_by_queue`.
- Workers by state: their records in Redis (`worker.fleet.state`).
- What each GPU is known to hold: the small `gpu_capacity` table (GPUs × shapes).

Job, attempt, image, OOM, retry and load counts are kept by the workers that see them and served on each
worker's own port (`worker.monitoring.worker_metrics`); nothing here groups the jobs table. To add a
figure, add a method yielding metric families and call it from `collect`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from worker.fleet.balancing import queue_length
from worker.fleet.state import WorkerState, read_fleet
from worker.jobs.queues import lane_queue
from worker.store.jobs import JobStore
from worker.store.models import GpuCapacity
from worker.store.records import utcnow
from worker.vocabulary import Lane


class FleetCollector(Collector):
    def __init__(
        self,
        engine: Engine,
        redis_url: str | None,
        checkpoints: Callable[[], list[str]],
        *,
        offline_after_s: float,
    ) -> None:
        self._engine = engine
        self._store = JobStore(engine)
        self._redis_url = redis_url
        self._checkpoints = checkpoints
        self._offline_after_s = offline_after_s

    def collect(self) -> Iterator[Metric]:
        yield from self._waiting()
        yield self._capacity()
        if self._redis_url:
            client = redis.Redis.from_url(self._redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                yield from self._queues(client)
                yield self._workers(client)
            except redis.RedisError:
                pass  # a Redis outage shows as missing samples, not a failed scrape
            finally:
                client.close()

    def _lanes(self) -> Iterator[tuple[str, Lane, str]]:
        for checkpoint in sorted(self._checkpoints()):
            for lane in Lane:
                yield checkpoint, lane, lane_queue(checkpoint, lane)

    def _queues(self, client: redis.Redis) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "sdfleet_queue_depth",
            "Messages waiting in a checkpoint's lane queue (Redis list length)",
            labels=["queue", "checkpoint", "lane"],
        )
        for checkpoint, lane, queue in self._lanes():
            depth.add_metric([queue, checkpoint, lane.value], float(queue_length(client, queue)))
        yield depth

    def _waiting(self) -> Iterator[Metric]:
        oldest = GaugeMetricFamily(
            "sdfleet_oldest_queued_seconds",
            "Age of the oldest job queued in a checkpoint's lane (0 when none waits)",
            labels=["queue", "checkpoint", "lane"],
        )
        now = utcnow()
        for checkpoint, lane, queue in self._lanes():
            created = self._store.oldest_queued([queue])
            age_s = (now - created).total_seconds() if created is not None else 0.0
            oldest.add_metric([queue, checkpoint, lane.value], max(0.0, age_s))
        yield oldest

    def _workers(self, client: redis.Redis) -> Metric:
        workers = GaugeMetricFamily("sdfleet_workers", "GPU workers by state", labels=["state"])
        counts = Counter(view.state for view in read_fleet(client, self._offline_after_s))
        for state in WorkerState:
            workers.add_metric([state.value], float(counts.get(state, 0)))
        return workers

    def _capacity(self) -> Metric:
        limit = GaugeMetricFamily(
            "sdfleet_gpu_batch_limit",
            "Largest batch a GPU is known to hold for a shape",
            labels=["gpu", "architecture", "pixels"],
        )
        known = select(
            GpuCapacity.gpu, GpuCapacity.architecture, GpuCapacity.pixels, GpuCapacity.batch_limit
        ).where(GpuCapacity.batch_limit.is_not(None))
        with self._engine.connect() as connection:
            for row in connection.execute(known):
                limit.add_metric([row.gpu, row.architecture, str(row.pixels)], float(row.batch_limit or 0))
        return limit
