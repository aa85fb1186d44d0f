"""The backend against a real stand-in: waiting for a cold model load is not a stall, a checkpoint
switched behind the worker's back is caught after the fact (the worker skips re-checking a proven one),
and an A1111 the worker launched keeps no job's clip skip."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.helpers.pids import a1111_auth, a1111_pids
from tests.helpers.processes import Processes
from worker.store.jobs import JobStore
from worker.tasks import txt2img

SMALL = {"steps": 2, "width": 64, "height": 64}


def test_a_slow_first_model_load_is_waited_for_not_killed_as_a_stall(
    processes: Processes, job_store: JobStore
) -> None:
    # Given a launched A1111 whose start-up load takes about 4 s, and a stall limit of 1 s
    env = {"A1111_EMU_LOAD_S": "200", "SDFLEET_A1111_STALL_S": "1"}  # 200 s × time scale 0.02
    processes.worker("gpu-coldload", ["deliberate_v6"], a1111_url=_url(), launch=True, env=env)
    # When the first job arrives while the model is still loading (A1111 answers, progress is idle)
    job = txt2img.delay(prompt="x", checkpoint="deliberate_v6", **SMALL).get(timeout=120)
    # Then the worker waited: one attempt, no timeout
    assert job["status"] == "succeeded", job
    assert [a.outcome for a in job_store.get(uuid.UUID(job["id"])).attempts] == ["succeeded"]


def test_a_checkpoint_switched_behind_the_workers_back_is_caught_and_retried(
    processes: Processes, job_store: JobStore, models_volume: Path
) -> None:
    # Given an attached A1111 and a worker that has proven deliberate_v6 with one job
    a1111 = processes.emulator(models_volume, "deliberate_v6.safetensors")
    processes.worker("gpu-shared", ["deliberate_v6"], a1111_url=a1111.url)
    first = txt2img.delay(prompt="x", checkpoint="deliberate_v6", **SMALL).get(timeout=120)
    assert first["status"] == "succeeded"
    # When someone else switches that A1111 to another checkpoint
    titles = {m["model_name"]: m["title"] for m in httpx.get(a1111.url + "/sdapi/v1/sd-models").json()}
    switched = httpx.post(
        a1111.url + "/sdapi/v1/options",
        json={"sd_model_checkpoint": titles["jib_mix_illustrious_realistic_v2"]},
        timeout=60,
    )
    switched.raise_for_status()
    # Then the next job's first attempt notices the wrong model in A1111's answer, and the retry,
    # which checks the checkpoint again, switches back and succeeds
    job = txt2img.delay(prompt="y", checkpoint="deliberate_v6", **SMALL).get(timeout=120)
    assert job["status"] == "succeeded", job
    attempts = job_store.get(uuid.UUID(job["id"])).attempts
    assert [(a.outcome, a.category) for a in attempts] == [
        ("retried", "backend_unavailable"),
        ("succeeded", None),
    ]
    assert "instead of 'deliberate_v6'" in (attempts[0].message or "")
    assert job["info"]["sd_model_name"] == "deliberate_v6"


def test_a_launched_a1111_gets_the_launch_options_and_keeps_no_jobs_clip_skip(
    processes: Processes, job_store: JobStore
) -> None:
    # Given a worker that launched its A1111 (fresh: clip skip is not among its saved options)
    url = _url()
    processes.worker("gpu-options", ["deliberate_v6"], a1111_url=url, launch=True)
    # When a job runs with clip skip 2
    job = txt2img.delay(prompt="x", checkpoint="deliberate_v6", clip_skip=2, **SMALL).get(timeout=120)
    assert job["status"] == "succeeded" and job["info"]["clip_skip"] == 2, job
    # Then A1111 restored its clip skip afterwards (the worker set the option once, so A1111 restores the
    # override), and previews are off
    (pid,) = a1111_pids(int(url.rsplit(":", 1)[1]))
    options = httpx.get(url + "/sdapi/v1/options", auth=a1111_auth(pid), timeout=10).json()
    assert (options["CLIP_stop_at_last_layers"], options["live_previews_enable"]) == (1, False)


def _url() -> str:
    from worker.stack.services import free_port

    return f"http://127.0.0.1:{free_port()}"
