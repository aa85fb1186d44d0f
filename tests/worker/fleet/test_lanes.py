"""Lanes: interactive jobs of a checkpoint go before its batch jobs; batch jobs that waited too long are
promoted to the interactive lane, so they still progress."""

from __future__ import annotations

import uuid
from datetime import timedelta

import redis
from sqlalchemy import update

from tests.worker.fleet.conftest import Launchers, wait_all
from tests.worker.resilience.conftest import Fleet
from worker.celery_app import app
from worker.fleet.balancing import Balancer
from worker.settings import CoreSettings
from worker.store.engine import make_session_factory
from worker.store.models import Job
from worker.store.records import utcnow


def test_interactive_jobs_go_first(launchers: Launchers, fleet: Fleet) -> None:
    # Given batch jobs queued before interactive ones, while no worker runs
    small = {"checkpoint": "deliberate_v6", "steps": 3, "width": 256, "height": 256}
    batch = [fleet.submit(prompt=f"b{i}", priority="batch", **small) for i in range(4)]
    interactive = [fleet.submit(prompt=f"i{i}", priority="interactive", **small) for i in range(2)]
    # When one GPU starts
    launchers.start(gpus=1, checkpoints=("deliberate_v6",))
    jobs = {str(j.id): j for j in wait_all(fleet, batch + interactive)}
    # Then the interactive jobs ran before any batch job, each lane in its own order
    order = sorted(jobs, key=lambda i: jobs[i].started_at)
    assert order == interactive + batch
    assert {jobs[i].priority for i in interactive} == {"interactive"} and jobs[batch[0]].queue.endswith(
        ".batch"
    )


def test_aged_batch_jobs_are_promoted(fleet: Fleet, redis_url: str) -> None:
    # Given batch jobs of a checkpoint no worker serves, one of them queued long ago
    old = fleet.submit(prompt="old", checkpoint="jib_mix_illustrious_realistic_v2", priority="batch")
    young = fleet.submit(prompt="young", checkpoint="jib_mix_illustrious_realistic_v2", priority="batch")
    with make_session_factory(
        fleet.engine
    ).begin() as session:  # the record of a job submitted 10 minutes ago
        session.execute(
            update(Job).where(Job.id == uuid.UUID(old)).values(created_at=utcnow() - timedelta(minutes=10))
        )
    published: list[tuple[str, str]] = []
    settings = CoreSettings(redis_url=redis_url, batch_max_wait_s=300)
    client = redis.Redis.from_url(redis_url)
    balancer = Balancer(settings, client, fleet.store, app, lambda job, queue: published.append((job, queue)))
    # When the balancer looks
    promoted = balancer.promote_aged(["jib_mix_illustrious_realistic_v2"])
    client.close()
    # Then the old one moved to the interactive lane (and was published there); the young one stayed
    lane = "sd.jib_mix_illustrious_realistic_v2.interactive"
    assert promoted == [uuid.UUID(old)] and published == [(old, lane)]
    assert fleet.store.get(uuid.UUID(old)).queue == lane
    assert fleet.store.get(uuid.UUID(old)).priority == "batch"
    assert fleet.store.get(uuid.UUID(young)).queue.endswith(".batch")
    fleet.store.request_cancel(uuid.UUID(old))
    fleet.store.request_cancel(uuid.UUID(young))
