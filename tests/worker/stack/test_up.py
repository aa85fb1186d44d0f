"""`sdfleet up` runs the whole stack in the foreground and stops all of it on SIGTERM and on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from worker.stack.services import free_port


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_and_stops_everything(
    sdfleet_env: dict[str, str], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    api_port, flower_port, a1111_port = free_port(), free_port(), free_port()
    env = {**os.environ, **sdfleet_env, "SDFLEET_STATE_DIR": str(tmp_path / "state")}
    ports = ["--api-port", str(api_port), "--flower-port", str(flower_port), "--a1111-port", str(a1111_port)]
    args = [sys.executable, "-m", "worker.cli.main", "up", "--time-scale", "0.02", *ports]
    log = open(tmp_path / "up.log", "wb")  # closed in finally
    up = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while b"sdfleet is up" not in (tmp_path / "up.log").read_bytes():
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.2)
        # Then it says how to create a key, and has recorded its services for other commands
        assert b"sdfleet keys create my-app" in (tmp_path / "up.log").read_bytes()
        record = json.loads((tmp_path / "state" / "stack.json").read_text())
        assert record["api_url"] == f"http://127.0.0.1:{api_port}" and record["pid"] == up.pid
        assert (tmp_path / "state" / "stack.json").stat().st_mode & 0o777 == 0o600
        # And the API answers, Flower wants credentials, and the stack has its processes
        assert httpx.get(f"http://127.0.0.1:{api_port}/readyz").json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{flower_port}/").status_code == 401
        credentials = (tmp_path / "state" / "flower-credentials").read_text().strip().split(":", 1)
        assert httpx.get(f"http://127.0.0.1:{flower_port}/", auth=tuple(credentials)).status_code == 200
        # And Flower shows the GPU workers by their node names
        deadline = time.monotonic() + 30
        while True:
            workers = httpx.get(
                f"http://127.0.0.1:{flower_port}/api/workers", params={"refresh": 1}, auth=tuple(credentials)
            ).json()
            if {"gpu0@local", "gpu1@local"} <= set(workers) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert {"gpu0@local", "gpu1@local"} <= set(workers), workers
        children = _descendants(up.pid)
        assert len(children) >= 6  # two workers (and pool processes), API, Flower, sweeper, dispatcher
        # When it is asked to stop
        up.send_signal(stop_signal)
        assert up.wait(60) == 0, (tmp_path / "up.log").read_text()
        assert not (tmp_path / "state" / "stack.json").exists()
        # Then nothing it started is left
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        log.close()


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def _worker_main(up_pid: int, name: str) -> int | None:
    """The Celery main process of GPU worker `name` (the launcher's child that has that name)."""
    for pid in _descendants(up_pid):
        if _alive(pid) and _environ(pid).get("SDFLEET_WORKER_NAME") == name:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if _environ(parent).get("SDFLEET_WORKER_NAME") != name:
                return pid
    return None


def test_a_killed_worker_is_replaced_while_the_rest_keeps_serving(
    sdfleet_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    from worker.store.api_keys import ApiKeys
    from worker.store.engine import make_engine, make_session_factory

    api_port, flower_port, a1111_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    env = {
        **os.environ,
        **sdfleet_env,
        "SDFLEET_STATE_DIR": str(tmp_path / "state"),
        "SDFLEET_LEASE_S": "300",
    }
    args = [
        sys.executable, "-m", "worker.cli.main", "up", "--gpus", "2", "--time-scale", "0.02",
        "--api-port", str(api_port), "--flower-port", str(flower_port), "--a1111-port", str(a1111_port),
        "--metrics-port", str(metrics_port + 1000),
    ]  # fmt: skip
    log = open(tmp_path / "up.log", "wb")  # closed in finally
    up = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + 120
        while b"sdfleet is up" not in (tmp_path / "up.log").read_bytes():
            assert up.poll() is None and time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.2)
        key = ApiKeys(make_session_factory(engine)).create(f"up-{os.getpid()}-{time.time_ns()}")
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        job = {"prompt": "a pier", "steps": 4, "width": 256, "height": 256}
        ids = [http.post("/v1/jobs", json={**job, "seed": i}).json()["id"] for i in range(4)]
        doomed = _worker_main(up.pid, "gpu0")
        assert doomed is not None
        # When one GPU worker is SIGKILLed, as a new user did
        os.kill(doomed, signal.SIGKILL)
        # Then the stack keeps serving: the API takes jobs and the other GPU runs them meanwhile
        for i in range(4, 10):
            response = http.post("/v1/jobs", json={**job, "seed": i})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        # And the killed worker is replaced, and the stack itself is still up
        deadline = time.monotonic() + 60
        while (_worker_main(up.pid, "gpu0") in (None, doomed)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _worker_main(up.pid, "gpu0") not in (None, doomed)
        assert up.poll() is None
        # And every job succeeds, exactly once
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            jobs = [http.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
            if all(j["status"] in ("succeeded", "failed", "cancelled") for j in jobs):
                break
            time.sleep(0.5)
        assert [j["status"] for j in jobs] == ["succeeded"] * len(ids), [j["failure_message"] for j in jobs]
        assert all(sum(a["outcome"] == "succeeded" for a in j["attempt_history"]) == 1 for j in jobs)
        http.close()
        up.send_signal(signal.SIGTERM)
        assert up.wait(120) == 0, (tmp_path / "up.log").read_text()
    finally:
        engine.dispose()
        if up.poll() is None:
            up.kill()
            up.wait()
        log.close()
