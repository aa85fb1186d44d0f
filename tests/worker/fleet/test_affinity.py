"""Jobs go where their model is loaded: 40 jobs alternating between two checkpoints on two emulated GPUs
make at most four checkpoint loads; and a checkpoint that no GPU serves waits no longer than the bound."""

from __future__ import annotations

import re
import time

import httpx

from tests.worker.fleet.conftest import CHECKPOINTS, Launchers, wait_all
from tests.worker.resilience.conftest import A1111, Fleet

SDXL, SD15 = CHECKPOINTS[1], CHECKPOINTS[0]


def _loads_counted(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=5).text
    return sum(float(v) for v in re.findall(r"^sdfleet_checkpoint_loads_total\{[^}]*\} (\S+)$", text, re.M))


def test_forty_alternating_jobs_make_at_most_four_loads(launchers: Launchers, fleet: Fleet) -> None:
    # Given two emulated GPUs serving both checkpoints (gpu0 starts on SD1.5, gpu1 on SDXL; SDXL jobs are
    # the slow ones), and a balancer
    env = {"A1111_EMU_TIME_SCALE": "0.2", "SDFLEET_BALANCER_MAX_WAIT_S": "60"}
    launched = launchers.start(gpus=2, env=env)
    launchers.balancer(env)
    loads_before = sum(launched.stats(i)["checkpoint_loads"] for i in range(2))  # the two start-up loads
    # When 40 jobs alternating between the checkpoints are submitted at once
    submitted = time.time()
    ids = [
        fleet.submit(
            prompt=f"a view {i}", checkpoint=(SD15, SDXL)[i % 2], steps=8, width=512, height=512, seed=i
        )
        for i in range(40)
    ]
    jobs = wait_all(fleet, ids, timeout_s=300)
    # Then every job succeeded, once
    assert [j.status for j in jobs] == ["succeeded"] * 40
    assert all(len(j.attempts) == 1 for j in jobs)
    # And the GPUs loaded a checkpoint at most four times in all, start-up loads included (FIFO: ~40)
    loads = sum(launched.stats(i)["checkpoint_loads"] for i in range(2))
    assert loads <= 4, [launched.stats(i)["checkpoint_loads_by_name"] for i in range(2)]
    # And the workers' own counters (switches they asked for) agree with the stand-ins
    counted = sum(
        _loads_counted(f"http://127.0.0.1:{launched.metrics_base_port + i}/metrics") for i in range(2)
    )
    assert counted == loads - loads_before
    # And no job waited longer than the bound for its checkpoint to be served (both were, at once)
    first_start = {c: min(j.started_at for j in jobs if j.checkpoint == c).timestamp() for c in CHECKPOINTS}
    assert all(start - submitted <= 60 for start in first_start.values()), first_start


def test_a_checkpoint_no_gpu_serves_waits_no_longer_than_the_bound(
    launchers: Launchers, fleet: Fleet
) -> None:
    # Given one GPU on SD1.5 with a backlog of slow jobs (~1 s each), and a balancer bound of 3 s
    max_wait_s = 3.0
    env = {"A1111_EMU_TIME_SCALE": "0.2", "SDFLEET_BALANCER_MAX_WAIT_S": str(max_wait_s)}
    launched = launchers.start(gpus=1, env=env)
    A1111(launched.a1111(0)).add_fault(kind="slow", factor=8, times=None)
    launchers.balancer(env)
    backlog = [
        fleet.submit(prompt=f"a road {i}", checkpoint=SD15, steps=20, width=512, height=512, seed=i)
        for i in range(15)
    ]
    time.sleep(0.5)
    # When one SDXL job arrives behind them
    lone = fleet.submit(prompt="a lake", checkpoint=SDXL, steps=4, width=512, height=512, seed=99)
    jobs = wait_all(fleet, [*backlog, lone], timeout_s=300)
    assert [j.status for j in jobs] == ["succeeded"] * 16
    # Then it started within the bound plus one balancer look, the job then running and a load
    sdxl = jobs[-1]
    backlog_jobs = jobs[:-1]
    job_s = max((j.finished_at - j.started_at).total_seconds() for j in backlog_jobs)
    load_s = 12.0 * 0.2  # the stand-in's SDXL load at this time scale
    waited_s = (sdxl.started_at - sdxl.created_at).total_seconds()
    assert waited_s <= max_wait_s + 1.0 + job_s + load_s + 2.0, (waited_s, job_s)
    # long before the SD1.5 backlog would have let it in
    assert sdxl.started_at < max(j.started_at for j in backlog_jobs)
