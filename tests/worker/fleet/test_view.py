"""Every GPU visible: after real jobs, `GET /v1/workers` and `sdfleet workers` show real figures, and the
worker's own /metrics carries the same ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid

import httpx

from tests.helpers.processes import Processes
from tests.worker.fleet.conftest import FLEET_ENV, Launchers, wait_all
from tests.worker.resilience.conftest import Fleet, wait_until
from worker.store.api_keys import ApiKeys
from worker.store.engine import make_session_factory


def _sample(text: str, name: str, worker: str) -> float:
    match = re.search(rf'^{name}\{{[^}}]*worker="{re.escape(worker)}"[^}}]*\}} (\S+)$', text, re.M)
    assert match, f"{name} for {worker} not in:\n{text}"
    return float(match.group(1))


def test_workers_show_real_values_after_real_jobs(
    launchers: Launchers, fleet: Fleet, processes: Processes
) -> None:
    # Given a fleet of two emulated GPUs that ran jobs: two on gpu0 (3 images), one on gpu1
    launched = launchers.start(gpus=2)
    ids = [
        fleet.submit(
            prompt="a barn", checkpoint="deliberate_v6", batch_size=2, steps=4, width=512, height=512
        ),
        fleet.submit(prompt="a silo", checkpoint="deliberate_v6", steps=4, width=512, height=512),
        fleet.submit(
            prompt="a moor", checkpoint="jib_mix_illustrious_realistic_v2", steps=4, width=512, height=512
        ),
    ]
    assert [j.status for j in wait_all(fleet, ids)] == ["succeeded"] * 3
    api = processes.api(env=FLEET_ENV)
    key = ApiKeys(make_session_factory(fleet.engine)).create(f"fleet-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(api + "/v1/workers", timeout=10).status_code == 401

    # When the fleet is asked for (once the workers published after their last job)
    def settled() -> dict[str, dict[str, object]] | None:
        body = httpx.get(api + "/v1/workers", headers=headers, timeout=10).json()
        workers = {w["name"]: w for w in body["workers"]}
        done = [workers.get(node, {}).get("jobs_done") for node in launched.nodes]
        return workers if done == [2, 1] else None

    workers = wait_until(settled, 30, "both workers reporting their jobs")
    # Then each shows its state, its checkpoint, its A1111's VRAM, what it learned and what it did
    gpu0, gpu1 = (workers[node] for node in launched.nodes)
    assert (gpu0["state"], gpu0["checkpoint"], gpu0["model_status"]) == ("idle", "deliberate_v6", "loaded")
    assert gpu1["checkpoint"] == "jib_mix_illustrious_realistic_v2" and gpu1["host"] == launched.host
    assert (gpu0["images_done"], gpu1["images_done"]) == (3, 1)
    assert (gpu0["gpu_index"], gpu1["gpu_index"]) == (0, 1)
    for worker in (gpu0, gpu1):
        assert 0 < worker["vram_used_mb"] < worker["vram_total_mb"] == 24576
        # utilisation and temperature from the GPU's dcgm-exporter page (the stand-in serves one)
        assert 0 <= worker["gpu_utilization_pct"] <= 100 and 15 < worker["gpu_temperature_c"] < 100
        assert worker["job"] is None and time.time() - worker["last_heartbeat"] < 5
        assert worker["queues"] and worker["assigned"] == worker["checkpoint"]
    assert any(shape["largest_ok"] == 2 for shape in gpu0["capacity"])
    # And each worker's /metrics carries the same figures
    text = httpx.get(f"http://127.0.0.1:{launched.metrics_base_port}/metrics", timeout=5).text
    assert _sample(text, "sdfleet_gpu_vram_total_bytes", gpu0["name"]) == 24576 * 1024 * 1024
    assert _sample(text, "sdfleet_gpu_vram_used_bytes", gpu0["name"]) > 0
    assert 15 < _sample(text, "sdfleet_gpu_temperature_celsius", gpu0["name"]) < 100
    assert 'sdfleet_images_total{checkpoint="deliberate_v6",worker="' + gpu0["name"] + '"} 3.0' in text
    assert _sample(text, "sdfleet_generation_seconds_count", gpu0["name"]) == 2
    assert (
        'sdfleet_jobs_finished_total{category="",status="succeeded",worker="' + gpu0["name"] + '"} 2.0'
        in text
    )
    # And Prometheus finds every worker's metrics through the API
    targets = httpx.get(api + "/metrics/targets", timeout=10).json()
    assert sorted(t["targets"][0] for t in targets if t["labels"]["worker"] in launched.nodes) == [
        f"{launched.host}:{launched.metrics_base_port + i}" for i in range(2)
    ]
    # And the API's /metrics counts the workers by state
    api_metrics = httpx.get(api + "/metrics", timeout=10).text
    assert re.search(r'^sdfleet_workers\{state="idle"\} 2\.0$', api_metrics, re.M), api_metrics
    # And `sdfleet workers` prints them (as JSON here; a table on a terminal)
    listing = subprocess.run(
        [sys.executable, "-m", "worker.cli.main", "workers", "--json"],
        env={**processes.env, **FLEET_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {w["name"] for w in json.loads(listing.stdout)["workers"]}
    assert set(launched.nodes) <= names
    table = subprocess.run(
        [sys.executable, "-m", "worker.cli.main", "workers"],
        env={**processes.env, **FLEET_ENV, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert launched.node(0) in table.stdout and "deliberate_v6 (loaded)" in table.stdout
