"""Output end to end, with one real worker and one real A1111 stand-in for the whole module.

Blank frames (the emulator's `blank_image` fault) are `output_invalid`, retried once; the seven samplers
of the spec print in the stored infotext what A1111 1.10 prints; stored files carry the job id.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers.processes import Emulator, Processes, base_env
from tests.worker.output.test_encode import a1111_user_comment, xmp_fields
from worker.celery_app import app as celery_app
from worker.output.files import sha256_hex
from worker.store.api_keys import ApiKeys
from worker.store.jobs import JobStore
from worker.tasks import txt2img
from worker.vocabulary import JobStatus

WORKER = "gpu-output"
CHECKPOINT = "deliberate_v6"
SMALL: dict[str, Any] = {"checkpoint": CHECKPOINT, "steps": 2, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def procs(sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(tmp_path_factory.mktemp("output-e2e-logs"), {**base_env(), **sdfleet_env})
    yield processes
    processes.stop()


@pytest.fixture(scope="module")
def a1111(procs: Processes, models_volume: Path) -> Emulator:
    return procs.emulator(models_volume, f"{CHECKPOINT}.safetensors")


@pytest.fixture(scope="module")
def gpu_worker(procs: Processes, a1111: Emulator, sdfleet_env: dict[str, str]) -> str:
    procs.worker(WORKER, [CHECKPOINT], a1111_url=a1111.url)
    _drain(sdfleet_env["SDFLEET_REDIS_URL"])
    return WORKER


@pytest.fixture
def faults(a1111: Emulator, gpu_worker: str) -> Iterator[str]:
    """The emulator's fault API; every fault is cleared after the test."""
    yield a1111.admin + "/faults"
    httpx.delete(a1111.admin + "/faults", timeout=10).raise_for_status()


@pytest.fixture
def results_dir(sdfleet_env: dict[str, str]) -> Path:
    return Path(sdfleet_env["SDFLEET_RESULT_DIR"])


def _drain(redis_url: str, timeout_s: float = 240.0) -> None:
    """Wait until jobs other modules left queued for this checkpoint have run, so that a one-shot fault
    meets the job it is meant for: a sentinel job queued last finishes last (one worker, FIFO queue)."""
    sentinel = txt2img.delay(prompt="drain", **SMALL).get(timeout=timeout_s)
    assert sentinel["status"] == "succeeded", sentinel
    deadline = time.monotonic() + 30
    while any((celery_app.control.inspect(timeout=1).scheduled() or {}).values()):  # retries with an ETA
        assert time.monotonic() < deadline, "the worker still holds scheduled retries"
        time.sleep(0.5)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen(f"sd.{CHECKPOINT}.batch") == 0
    finally:
        client.close()


def _run(**fields: Any) -> dict[str, Any]:
    job: dict[str, Any] = txt2img.delay(**{**SMALL, **fields}).get(timeout=120)
    return job


def _attempts(job_store: JobStore, job: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(a.outcome, a.category) for a in job_store.get(uuid.UUID(job["id"])).attempts]


def test_a_blank_frame_is_output_invalid_and_the_retry_succeeds(
    faults: str, job_store: JobStore, results_dir: Path
) -> None:
    # Given A1111 returns one black frame (a NaN VAE) and then behaves
    httpx.post(faults, json={"kind": "blank_image"}, timeout=10).raise_for_status()
    # When a job runs
    job = _run(prompt="a lighthouse", seed=11)
    # Then attempt 1 was output_invalid and handed back, attempt 2 succeeded with a real image
    assert job["status"] == "succeeded", job
    assert _attempts(job_store, job) == [("retried", "output_invalid"), ("succeeded", None)]
    assert "is blank" in str(job["attempt_history"][0]["message"])
    assert job["attempts"] == 2 and job["failure_category"] is None
    (image,) = job["images"]
    assert image["path"].startswith(f"{job['id']}/attempt-2/")
    with Image.open(results_dir / image["path"]) as png:
        assert max(png.convert("RGB").getextrema(), key=lambda e: e[1] - e[0]) != (0, 0)


def test_blank_frames_that_persist_fail_the_job_after_exactly_two_attempts(
    faults: str, job_store: JobStore
) -> None:
    httpx.post(faults, json={"kind": "blank_image", "times": None}, timeout=10).raise_for_status()
    job = _run(prompt="a lighthouse", seed=12, batch_size=2)
    assert (job["status"], job["failure_category"], job["attempts"]) == ("failed", "output_invalid", 2), job
    assert _attempts(job_store, job) == [("retried", "output_invalid"), ("failed", "output_invalid")]
    assert "blank" in str(job["failure_message"]) and job["images"] == []


SEVEN = [
    ("DPM++ 2M Karras", "DPM++ 2M", "Karras"),
    ("Euler a", "Euler a", "Automatic"),
    ("DDIM", "DDIM", "Automatic"),
    ("LMS", "LMS", "Automatic"),
    ("Heun", "Heun", "Automatic"),
    ("DPM++ SDE Karras", "DPM++ SDE", "Karras"),
    ("UniPC", "UniPC", "Automatic"),
]


def test_the_seven_samplers_of_the_spec_print_what_a1111_prints(
    gpu_worker: str, job_store: JobStore, results_dir: Path
) -> None:
    # Given one job per sampler named by the spec, queued together
    pending = [(name, txt2img.delay(prompt=f"sampler {name}", sampler=name, **SMALL)) for name, _, _ in SEVEN]
    for (name, result), (_, sampler, schedule) in zip(pending, SEVEN, strict=True):
        job = result.get(timeout=120)
        # Then each succeeded, and its stored infotext names the bare sampler and the schedule type
        assert job["status"] == "succeeded", job
        assert (job["params"]["sampler"], job["params"]["scheduler"]) == (sampler, schedule)
        with Image.open(results_dir / job["images"][0]["path"]) as png:
            infotext = str(png.info["parameters"])
        fields = dict(re.findall(r"(?:^|, )([A-Za-z ]+): ([^,]+)", infotext.splitlines()[-1]))
        assert (fields["Sampler"], fields["Schedule type"]) == (sampler, schedule), (name, infotext)
        assert job_store.get(uuid.UUID(job["id"])).images[0].infotext == infotext


def test_a_png_carries_the_job_id_and_attempt(gpu_worker: str, results_dir: Path) -> None:
    job = _run(prompt="a fox", seed=21)
    data = (results_dir / job["images"][0]["path"]).read_bytes()
    with Image.open(io.BytesIO(data)) as png:
        assert (png.info["sdfleet-job-id"], png.info["sdfleet-attempt"]) == (job["id"], "1")
        assert "Seed: 21" in png.info["parameters"]
    assert sha256_hex(data) == job["images"][0]["sha256"]


@pytest.fixture(scope="module")
def http(procs: Processes, pg_sessions: sessionmaker[Session]) -> Iterator[httpx.Client]:
    key = ApiKeys(pg_sessions).create(f"output-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=procs.api(), headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("output_format", "suffix", "media_type", "pillow_format"),
    [("jpeg", ".jpg", "image/jpeg", "JPEG"), ("webp", ".webp", "image/webp", "WEBP")],
)
def test_jpeg_and_webp_jobs_keep_the_infotext_and_are_served_with_their_media_type(
    gpu_worker: str, http: httpx.Client, job_store: JobStore, output_format: str, suffix: str,
    media_type: str, pillow_format: str,
) -> None:  # fmt: skip
    accepted = http.post("/v1/jobs", json={"prompt": "a fox", "output_format": output_format, **SMALL})
    job = _run_http(http, accepted.json()["url"])
    assert job["status"] == "succeeded", job
    (image,) = job["images"]
    assert image["path"].endswith(suffix)
    served = http.get(image["url"])
    assert served.headers["content-type"] == media_type and sha256_hex(served.content) == image["sha256"]
    with Image.open(io.BytesIO(served.content)) as picture:
        assert picture.format == pillow_format and picture.size == (64, 64)
        exif, xmp = picture.info["exif"], picture.info["xmp"]
    stored_infotext = job_store.get(uuid.UUID(job["id"])).images[0].infotext
    assert "Sampler: DPM++ 2M" in stored_infotext
    assert a1111_user_comment(exif) == stored_infotext
    assert xmp_fields(xmp) == {"jobId": job["id"], "attempt": "1", "UserComment": stored_infotext}


def _run_http(http: httpx.Client, url: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(url).json()
        if JobStatus(job["status"]).is_terminal:
            return job
        time.sleep(0.2)
    raise TimeoutError(url)
