"""§15.4 one global FIFO lock (§10); §15.5 progress; §15.6 interrupt and skip."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.emulator.conftest import SDXL, EmulatorProcess, StartEmulator
from tests.emulator.helpers import Background, info_of, poll_until

# At time scale 1, SD1.5 512x512 takes ~41 ms a step (docs/emulator.md): slow enough to poll mid-job.
REAL_TIME = ("--emu-time-scale", "1")
JOB = {"width": 512, "height": 512}


@pytest.fixture(scope="module")
def slow_emulator(module_emulator: StartEmulator) -> EmulatorProcess:
    """Shared by the tests below: each leaves it idle, and begin() resets the flags they look at."""
    return module_emulator(*REAL_TIME, "--emu-load-s", "0.2")


def progress(emulator: EmulatorProcess) -> dict[str, Any]:
    body: dict[str, Any] = emulator.get("/sdapi/v1/progress", params={"skip_current_image": "true"}).json()
    return body


def test_concurrent_txt2img_complete_in_arrival_order(slow_emulator: EmulatorProcess) -> None:
    # §15.4, §10: FIFO lock, so concurrent POSTs complete in arrival order
    finished: list[int] = []
    calls = []
    for k in range(4):

        def call(k: int = k) -> Any:
            response = slow_emulator.txt2img(prompt=f"job {k}", steps=10, **JOB)
            finished.append(k)
            return response

        calls.append(Background(call))
        time.sleep(0.15)  # a clear arrival order; each job runs ~0.4 s, so the later ones queue
    assert [c.result().status_code for c in calls] == [200] * 4
    assert finished == [0, 1, 2, 3]
    assert [info_of(c.result())["prompt"] for c in calls] == [f"job {k}" for k in range(4)]


def test_progress_options_and_models_answer_during_a_job(slow_emulator: EmulatorProcess) -> None:
    # §15.4, §10: /progress, /options GET and /sd-models do not take the lock
    job = Background(lambda: slow_emulator.txt2img(prompt="x", steps=40, **JOB))
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 2)
    for path in ("/sdapi/v1/progress", "/sdapi/v1/options", "/sdapi/v1/sd-models", "/sdapi/v1/memory"):
        start = time.monotonic()
        assert slow_emulator.get(path).status_code == 200
        assert time.monotonic() - start < 0.5
    assert not job.done()
    assert job.result().status_code == 200


def test_idle_progress_shape(a1111_emulator: StartEmulator) -> None:
    # §15.5, §10: idle: progress 0, eta_relative 0, job_count 0, job "", current_image null
    emulator = a1111_emulator()
    assert emulator.get("/sdapi/v1/progress").json() == {
        "progress": 0.0,
        "eta_relative": 0.0,
        "state": {
            "skipped": False, "interrupted": False, "stopping_generation": False, "job": "", "job_count": 0,
            "job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0,
        },
        "current_image": None,
        "textinfo": None,
    }  # fmt: skip


def test_running_progress_follows_the_formula(slow_emulator: EmulatorProcess) -> None:
    # §15.5, §10: job "Batch i out of n" when n_iter > 1, job_count = n_iter, job_no/sampling_step advance,
    # progress = min(1, 0.01 + job_no/job_count + sampling_step/sampling_steps/job_count)
    job = Background(lambda: slow_emulator.txt2img(prompt="x", steps=12, n_iter=2, **JOB))
    poll_until(
        lambda: (
            progress(slow_emulator)["state"]["job_no"] == 1
            and progress(slow_emulator)["state"]["sampling_step"] >= 3
        )
    )
    body = progress(slow_emulator)
    state = body["state"]
    assert state["job"] == "Batch 2 out of 2"
    assert (state["job_count"], state["job_no"], state["sampling_steps"]) == (2, 1, 12)
    expected = min(1, 0.01 + state["job_no"] / 2 + state["sampling_step"] / state["sampling_steps"] / 2)
    assert body["progress"] == pytest.approx(expected)
    assert body["eta_relative"] > 0
    assert body["textinfo"] is None and body["current_image"] is None  # skip_current_image=true
    assert job.result().status_code == 200
    after = progress(slow_emulator)
    assert (after["progress"], after["state"]["job"], after["state"]["job_count"]) == (0.0, "", 0)
    assert after["state"]["job_no"] == 2  # stale after the job (§10)


def test_single_batch_job_name_and_live_preview(slow_emulator: EmulatorProcess) -> None:
    # §10: job "scripts_txt2img"; current_image is a base64 PNG preview every 10 steps
    job = Background(lambda: slow_emulator.txt2img(prompt="x", steps=40, **JOB))
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 12)
    body = slow_emulator.get("/sdapi/v1/progress").json()
    assert body["state"]["job"] == "scripts_txt2img"
    assert body["state"]["job_count"] == 1
    assert isinstance(body["current_image"], str) and len(body["current_image"]) > 100
    assert job.result().status_code == 200


def test_checkpoint_load_inside_a_job_shows_minus_one(a1111_emulator: StartEmulator) -> None:
    # §15.5, §10: job_count = -1 / progress 0.01 during a load from override_settings
    emulator = a1111_emulator(*REAL_TIME, "--emu-load-s-sdxl", "1.0", "--emu-load-s-sd15", "0.1")
    job = Background(lambda: emulator.txt2img(prompt="x", steps=2, width=64, height=64,
                                              override_settings={"sd_model_checkpoint": SDXL}))  # fmt: skip
    poll_until(lambda: progress(emulator)["state"]["job_count"] == -1)
    body = progress(emulator)
    assert body["progress"] == pytest.approx(0.01)
    assert body["state"]["job"] == "scripts_txt2img"
    assert info_of(job.result())["sd_model_name"] == "jib_mix_illustrious_realistic_v2"


def test_interrupt_returns_200_with_partial_current_batch(slow_emulator: EmulatorProcess) -> None:
    # §15.6, §10: interrupt ends the job early with HTTP 200, the current batch's (partial) images,
    # and the full all_seeds list; interrupted stays true after the job
    job = Background(
        lambda: slow_emulator.txt2img(prompt="x", seed=7, steps=30, batch_size=2, n_iter=3, **JOB)
    )
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 3)
    assert slow_emulator.post("/sdapi/v1/interrupt").json() == {}
    response = job.result()
    assert response.status_code == 200
    info = info_of(response)
    assert len(response.json()["images"]) == 2
    assert info["all_seeds"] == [7, 8, 9, 10, 11, 12]
    assert len(info["infotexts"]) == 2
    assert slow_emulator.stats()["txt2img_interrupted"] >= 1
    full = slow_emulator.txt2img(prompt="x", seed=7, steps=2, width=512, height=512).json()["images"][0]
    assert response.json()["images"][0] != full  # partial, not the finished picture
    assert progress(slow_emulator)["state"]["interrupted"] is False  # cleared by the next job's begin()


def test_interrupt_flag_is_stale_after_the_job(slow_emulator: EmulatorProcess) -> None:
    # §15.5, §10: end() resets only job and job_count
    job = Background(lambda: slow_emulator.txt2img(prompt="x", steps=30, **JOB))
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 2)
    slow_emulator.post("/sdapi/v1/interrupt")
    assert job.result().status_code == 200
    state = progress(slow_emulator)["state"]
    assert state["interrupted"] is True and state["job_count"] == 0


def test_interrupt_while_idle_is_lost(slow_emulator: EmulatorProcess) -> None:
    # §15.6: the flags are cleared at the next job start
    assert slow_emulator.post("/sdapi/v1/interrupt").json() == {}
    response = slow_emulator.txt2img(prompt="x", steps=3, n_iter=2, width=64, height=64)
    assert len(response.json()["images"]) == 2


def test_interrupt_sent_while_queued_hits_only_the_running_job(slow_emulator: EmulatorProcess) -> None:
    # §15.6, §10: global, not per job; the queued job's begin() clears the flag
    first = Background(lambda: slow_emulator.txt2img(prompt="a", steps=30, n_iter=2, **JOB))
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 2)
    second = Background(lambda: slow_emulator.txt2img(prompt="b", steps=3, n_iter=2, width=64, height=64))
    time.sleep(0.1)
    slow_emulator.post("/sdapi/v1/interrupt")
    assert len(first.result().json()["images"]) == 1
    assert len(second.result().json()["images"]) == 2


def test_skip_ends_the_current_batch_only(slow_emulator: EmulatorProcess) -> None:
    # §15.6, §10: /skip -> null; the current batch ends early and the job continues
    job = Background(lambda: slow_emulator.txt2img(prompt="x", seed=1, steps=20, n_iter=2, **JOB))
    poll_until(lambda: progress(slow_emulator)["state"]["sampling_step"] >= 2)
    response = slow_emulator.post("/sdapi/v1/skip")
    assert (response.status_code, response.json()) == (200, None)
    result = job.result()
    assert len(result.json()["images"]) == 2
    assert progress(slow_emulator)["state"]["skipped"] is False  # the second batch's start cleared it
