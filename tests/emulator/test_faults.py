"""Fault injection through `/emulator/v1/` and `--emu-fault`/A1111_EMU_FAULTS (docs/emulator.md)."""

from __future__ import annotations

import base64
import binascii
import json
import signal
import time

import httpx
import numpy as np
import pytest

from tests.emulator.conftest import EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, Background, decode_png, info_of, poll_until

FAULTS = "/emulator/v1/faults"


@pytest.fixture(scope="module")
def faulty(module_emulator: StartEmulator) -> EmulatorProcess:
    """Shared by the tests whose faults leave the process running; each starts with no fault armed."""
    return module_emulator()


@pytest.fixture
def emulator(faulty: EmulatorProcess) -> EmulatorProcess:
    faulty.http.delete(FAULTS)
    return faulty


def add_fault(emulator: EmulatorProcess, **spec: object) -> dict[str, object]:
    response = emulator.post(FAULTS, json=spec)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_fault_api_lists_and_clears(emulator: EmulatorProcess) -> None:
    # docs/emulator.md "Faults": POST answers {"added", "faults"}; GET lists; DELETE clears
    body = add_fault(emulator, kind="blank_image", times=2)
    (added,) = body["added"]  # type: ignore[misc]
    assert added == {
        "kind": "blank_image", "at_step": 0, "times": 2, "mode": "exit", "exit_code": 1, "factor": 10.0,
        "seconds": 5.0, "error": "RuntimeError", "message": "emulated failure", "id": added["id"], "fired": 0,
    }  # fmt: skip
    assert [f["kind"] for f in emulator.get(FAULTS).json()["faults"]] == ["blank_image"]
    assert emulator.http.delete(FAULTS).json() == {"faults": []}
    assert emulator.get(FAULTS).json() == {"faults": []}
    bad = emulator.post(FAULTS, json={"kind": "meteor"})
    assert bad.status_code == 422


def test_one_shot_and_persistent_faults(emulator: EmulatorProcess) -> None:
    # times=1 (default) applies to the next txt2img only; times=null until cleared
    add_fault(emulator, kind="http500")
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 500
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200
    add_fault(emulator, kind="http500", times=None)
    assert [emulator.txt2img(prompt="x", **SMALL).status_code for _ in range(3)] == [500, 500, 500]
    emulator.http.delete(FAULTS)
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200


def test_http500_at_a_step_uses_the_envelope(emulator: EmulatorProcess) -> None:
    # §9 envelope with the injected type name, e.g. A1111's NansException; state back to idle
    add_fault(
        emulator,
        kind="http500",
        at_step=2,
        error="NansException",
        message="A tensor with NaNs was produced in Unet.",
    )
    response = emulator.txt2img(prompt="x", **SMALL)
    assert response.status_code == 500
    assert response.json() == {
        "error": "NansException", "detail": "", "body": "",
        "errors": "A tensor with NaNs was produced in Unet.",
    }  # fmt: skip
    assert emulator.get("/sdapi/v1/progress").json()["state"]["job_count"] == 0


def test_oom_fault_is_a_real_looking_oom(emulator: EmulatorProcess) -> None:
    # §15.3: an injected OOM is indistinguishable from a modelled one and counts in /memory
    before = emulator.get("/sdapi/v1/memory").json()["cuda"]["events"]["oom"]
    add_fault(emulator, kind="oom")
    response = emulator.txt2img(prompt="x", **SMALL)
    assert (response.status_code, response.json()["error"]) == (500, "OutOfMemoryError")
    assert response.json()["errors"].startswith("CUDA out of memory. Tried to allocate ")
    assert emulator.get("/sdapi/v1/memory").json()["cuda"]["events"]["oom"] == before + 1
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200


def test_corrupt_base64_and_blank_image(emulator: EmulatorProcess) -> None:
    # undecodable images; all-black frames (A1111's NaN-VAE output) that keep their infotext
    add_fault(emulator, kind="corrupt_base64")
    item = emulator.txt2img(prompt="x", **SMALL).json()["images"][0]
    with pytest.raises((binascii.Error, ValueError)):
        base64.b64decode(item, validate=True)
    add_fault(emulator, kind="blank_image")
    response = emulator.txt2img(prompt="x", **SMALL)
    pixels = np.asarray(decode_png(response.json()["images"][0]))
    assert pixels.shape == (64, 64, 3) and not pixels.any()
    assert decode_png(response.json()["images"][0]).info["parameters"] == info_of(response)["infotexts"][0]


def test_noisy_image(emulator: EmulatorProcess) -> None:
    # a picture still half noise, of the right size, with its infotext: what the next request returns
    clean = np.asarray(decode_png(emulator.txt2img(prompt="x", seed=3, **SMALL).json()["images"][0]))
    add_fault(emulator, kind="noisy_image")
    response = emulator.txt2img(prompt="x", seed=3, **SMALL)
    noisy = decode_png(response.json()["images"][0])
    assert noisy.info["parameters"] == info_of(response)["infotexts"][0]
    difference = np.abs(np.asarray(noisy).astype(int) - clean.astype(int))
    assert difference.shape == (64, 64, 3) and difference.mean() > 20
    again = np.asarray(decode_png(emulator.txt2img(prompt="x", seed=3, **SMALL).json()["images"][0]))
    assert np.array_equal(again, clean)  # one request only


def test_slow_steps(emulator: EmulatorProcess) -> None:
    # at time scale 0.01 a 512x512 SD1.5 step takes ~0.4 ms; a factor of 300 makes it ~120 ms
    payload = {"prompt": "x", "steps": 5, "width": 512, "height": 512}
    start = time.monotonic()
    emulator.post("/sdapi/v1/txt2img", json=payload)
    normal = time.monotonic() - start
    add_fault(emulator, kind="slow", factor=300)
    start = time.monotonic()
    emulator.post("/sdapi/v1/txt2img", json=payload)
    assert time.monotonic() - start > normal + 0.45


def test_hang_stops_progress_until_cleared(emulator: EmulatorProcess) -> None:
    # progress freezes at the step; interrupt is ignored; DELETE /emulator/v1/faults releases the request
    add_fault(emulator, kind="hang", at_step=3)
    job = Background(lambda: emulator.txt2img(prompt="x", steps=10, width=64, height=64))
    poll_until(lambda: emulator.get("/sdapi/v1/progress").json()["state"]["sampling_step"] == 2)
    time.sleep(0.3)
    state = emulator.get("/sdapi/v1/progress").json()["state"]
    assert (state["sampling_step"], state["job_count"]) == (2, 1)
    emulator.post("/sdapi/v1/interrupt")  # a hung GPU does not answer interrupts either
    time.sleep(0.2)
    assert not job.done()
    emulator.http.delete(FAULTS)
    assert job.result().status_code == 200


@pytest.mark.parametrize(("mode", "returncode"), [("exit", 3), ("sigkill", -signal.SIGKILL)])
def test_crash_at_step(a1111_emulator: StartEmulator, mode: str, returncode: int) -> None:
    # the process dies mid-request: os._exit(exit_code) or SIGKILL; the client sees the connection drop
    emulator = a1111_emulator()
    add_fault(emulator, kind="crash", mode=mode, at_step=2, exit_code=3)
    with pytest.raises(httpx.TransportError):
        emulator.txt2img(prompt="x", **SMALL)
    emulator.process.wait(timeout=10)
    assert emulator.process.returncode == returncode


def test_refuse_connections_for_a_while(a1111_emulator: StartEmulator) -> None:
    # the listener really closes (ECONNREFUSED), then listens again on the same port
    emulator = a1111_emulator()
    add_fault(emulator, kind="refuse_connections", seconds=1.0)
    time.sleep(0.3)
    with pytest.raises(httpx.ConnectError):
        httpx.get(emulator.url + "/sdapi/v1/sd-models", timeout=1.0)
    poll_until(lambda: _answers(emulator.url), timeout_s=5)
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/sdapi/v1/sd-models", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def test_faults_at_start_up_from_env_and_flag(a1111_emulator: StartEmulator) -> None:
    # a crashed-and-restarted emulator can be told how to behave: A1111_EMU_FAULTS and --emu-fault
    started = time.monotonic()
    env = {"A1111_EMU_FAULTS": json.dumps([{"kind": "slow_startup", "seconds": 1.0}, {"kind": "http500"}])}
    emulator = a1111_emulator("--emu-fault", json.dumps({"kind": "blank_image"}), env=env)
    assert time.monotonic() - started > 1.0
    assert sorted(f["kind"] for f in emulator.get(FAULTS).json()["faults"]) == ["blank_image", "http500"]
    assert emulator.post(FAULTS, json={"kind": "slow_startup"}).status_code == 422


def test_a1111_inputs_never_trigger_faults(emulator: EmulatorProcess) -> None:
    # no magic prompts: fault words in a request change nothing
    fired = emulator.stats()["faults_fired"]
    for prompt in ("crash", "oom", "hang", "http500", "corrupt_base64", "blank_image"):
        response = emulator.txt2img(prompt=prompt, **SMALL)
        assert response.status_code == 200
        base64.b64decode(response.json()["images"][0], validate=True)
    assert emulator.stats()["faults_fired"] == fired
