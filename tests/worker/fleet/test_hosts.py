"""Two hosts, one fleet: two launchers with their own host names and stand-ins share one Redis, one
Postgres and one result directory, and both take work from the same queue."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.worker.fleet.conftest import CHECKPOINTS, Launchers, wait_all
from tests.worker.resilience.conftest import A1111, Fleet
from worker.fleet.state import read_fleet
from worker.settings import get_settings

JOBS = 12


def test_two_hosts_share_the_work(launchers: Launchers, fleet: Fleet) -> None:
    # Given hosts A and B, one GPU each, both on the same checkpoint, each job taking a moment
    only = (CHECKPOINTS[0],)
    host_a = launchers.start(host="host-a", gpus=1, checkpoints=only)
    host_b = launchers.start(host="host-b", gpus=1, checkpoints=only)
    for host in (host_a, host_b):
        A1111(host.a1111(0)).add_fault(kind="slow", factor=100, times=None)
    # When jobs are submitted
    ids = [fleet.submit(prompt=f"a field {i}", steps=4, width=256, height=256, seed=i) for i in range(JOBS)]
    jobs = wait_all(fleet, ids)
    # Then every job succeeded once, and both hosts ran some of them
    assert [j.status for j in jobs] == ["succeeded"] * JOBS
    assert all(len(j.attempts) == 1 for j in jobs)
    ran_on = {j.attempts[0].worker for j in jobs}
    assert ran_on == {"gpu0@host-a", "gpu0@host-b"}, ran_on
    # And their images are in the one result directory
    results = get_settings().result_dir
    assert all((Path(results) / j.images[0].storage_path).is_file() for j in jobs)
    # And the fleet's view shows each host's worker with its host
    client = redis.Redis.from_url(fleet.redis_url)
    try:
        hosts = {v.name: v.host for v in read_fleet(client, 5.0)}
    finally:
        client.close()
    assert hosts["gpu0@host-a"] == "host-a" and hosts["gpu0@host-b"] == "host-b"
