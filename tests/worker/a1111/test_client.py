"""The A1111 client against a real A1111 stand-in: every call, and every foreign error translated into
our exceptions at this one boundary (faults injected through the stand-in's separate admin API)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.helpers.processes import Emulator, Processes, base_env
from worker.a1111.client import A1111Client
from worker.errors import (
    BackendOutOfMemory,
    BackendTimeout,
    BackendUnavailable,
    InvalidRequest,
    OutputInvalid,
)
from worker.vocabulary import FailureCategory

SMALL: dict[str, Any] = {"prompt": "a fox", "steps": 3, "width": 64, "height": 64, "sampler_name": "Euler a"}


@pytest.fixture(scope="module")
def a1111(
    sdfleet_env: dict[str, str], models_volume: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    procs = Processes(tmp_path_factory.mktemp("client-logs"), {**base_env(), **sdfleet_env})
    try:
        yield procs.emulator(models_volume, "deliberate_v6.safetensors")
    finally:
        procs.stop()


@pytest.fixture
def client(a1111: Emulator) -> Iterator[A1111Client]:
    client = A1111Client(a1111.url, request_timeout_s=60)
    yield client
    client.close()
    httpx.delete(a1111.admin + "/faults", timeout=10).raise_for_status()


def _fault(a1111: Emulator, **spec: Any) -> None:
    httpx.post(a1111.admin + "/faults", json=spec, timeout=10).raise_for_status()


def test_txt2img_decodes_images_and_info(client: A1111Client) -> None:
    result = client.txt2img({**SMALL, "seed": 10, "batch_size": 2})
    assert len(result.images) == 2
    with Image.open(io.BytesIO(result.images[1])) as image:
        assert image.format == "PNG" and image.size == (64, 64)
        assert "Seed: 11" in str(image.info["parameters"])
    assert result.info["all_seeds"] == [10, 11]


def test_checkpoints_options_and_readiness(client: A1111Client) -> None:
    names = {c.model_name for c in client.checkpoints()}
    assert {"deliberate_v6", "jib_mix_illustrious_realistic_v2"} <= names
    assert client.is_ready()
    title = next(c.title for c in client.checkpoints() if c.model_name == "jib_mix_illustrious_realistic_v2")
    client.set_options({"sd_model_checkpoint": title})
    assert client.options()["sd_model_checkpoint"] == title
    assert client.txt2img(SMALL).info["sd_model_name"] == "jib_mix_illustrious_realistic_v2"


def test_unknown_checkpoint_in_options_is_a_backend_error_naming_it(client: A1111Client) -> None:
    with pytest.raises(BackendUnavailable, match="model 'nope' not found"):
        client.set_options({"sd_model_checkpoint": "nope"})


def test_cuda_oom_becomes_backend_out_of_memory(client: A1111Client, a1111: Emulator) -> None:
    _fault(a1111, kind="oom")
    with pytest.raises(BackendOutOfMemory, match="CUDA out of memory"):
        client.txt2img(SMALL)
    assert client.memory()["cuda"]["events"]["oom"] >= 1
    assert len(client.txt2img(SMALL).images) == 1  # the server stays usable


def test_other_server_errors_are_backend_unavailable_with_a1111s_error(
    client: A1111Client, a1111: Emulator
) -> None:
    _fault(a1111, kind="http500", error="NansException", message="A tensor with NaNs was produced in Unet.")
    with pytest.raises(BackendUnavailable, match="HTTP 500: NansException: A tensor with NaNs"):
        client.txt2img(SMALL)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"width": "abc"}, "width", "refused width: value is not a valid integer"),
        ({"script_name": "no such script"}, "body", "refused the request: Script 'no such script' not found"),
    ],
)
def test_a_request_a1111_refuses_is_invalid_request_naming_the_field(
    client: A1111Client, change: dict[str, Any], field: str, message: str
) -> None:
    # A 422 from A1111 (its validation list, or its own envelope): the same request would fail again
    with pytest.raises(InvalidRequest, match=message) as refused:
        client.txt2img({**SMALL, **change})
    assert refused.value.field == field
    assert refused.value.category is FailureCategory.INVALID_REQUEST


def test_corrupt_base64_is_output_invalid(client: A1111Client, a1111: Emulator) -> None:
    _fault(a1111, kind="corrupt_base64")
    with pytest.raises(OutputInvalid, match="not valid base64"):
        client.txt2img(SMALL)


def test_refused_connections_are_backend_unavailable(client: A1111Client, a1111: Emulator) -> None:
    _fault(a1111, kind="refuse_connections", seconds=2)
    deadline = time.monotonic() + 5
    while True:  # the listener closes a moment after the admin call returns
        try:
            client.progress()
        except BackendUnavailable as exc:
            assert "ConnectError" in str(exc)
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while not client.is_ready():  # and it comes back
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_call_that_outlives_its_timeout_is_backend_timeout(client: A1111Client, a1111: Emulator) -> None:
    _fault(a1111, kind="hang", at_step=1)
    with pytest.raises(BackendTimeout, match="timed out"):
        client.txt2img(SMALL, timeout_s=1.0)
    httpx.delete(a1111.admin + "/faults", timeout=10).raise_for_status()
    _wait_idle(client)  # the released job finishes before the next test's job, which would queue behind it


def _wait_idle(client: A1111Client, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.progress().job_count != 0:
        assert time.monotonic() < deadline, "the stand-in stayed busy"
        time.sleep(0.05)


def test_progress_and_interrupt_during_a_job(client: A1111Client, a1111: Emulator) -> None:
    _wait_idle(client)
    _fault(a1111, kind="slow", factor=200)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(client.txt2img({**SMALL, "steps": 20})))
    worker.start()
    deadline = time.monotonic() + 10
    # Until the job has begun sampling, A1111's state may still show the previous job's steps
    while (progress := client.progress()).sampling_steps != 20:
        assert time.monotonic() < deadline, progress
        time.sleep(0.02)
    assert progress.job_count == 1
    client.interrupt()
    worker.join(30)
    assert results and len(results[0].images) == 1  # an interrupted job still answers 200 with images
    assert client.progress().interrupted  # the flag stays until the next job begins
