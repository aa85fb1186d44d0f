"""The end-to-end path with real processes: client → Redis → Celery worker → A1111 stand-in → Postgres.

No eager mode and no mocks: a real `celery worker` process, a real emulator process (launched by the
worker's supervisor, or run separately and attached to), real HTTP, real Postgres rows and real files.
"""

from __future__ import annotations

import hashlib
import io
import sys
import uuid
from pathlib import Path

import httpx
from PIL import Image

from tests.helpers.processes import Processes
from worker.celery_app import publish_job
from worker.registry.lookup import Registry
from worker.store.api_keys import ApiKeys
from worker.store.jobs import JobStore
from worker.tasks import txt2img
from worker.vocabulary import JobStatus


def _png_text(path: Path) -> str:
    with Image.open(path) as image:
        return str(image.info.get("parameters", ""))


def test_delay_runs_a_job_on_a_worker_that_launches_its_own_a1111(
    processes: Processes, job_store: JobStore, sdfleet_env: dict[str, str], models_volume: Path
) -> None:
    # Given a GPU worker that launches A1111 (the stand-in, with A1111's own flags) itself
    processes.worker("gpu-launch", ["deliberate_v6"], a1111_url=f"http://127.0.0.1:{_port()}", launch=True)
    # When a Python client submits with delay() and waits
    result = txt2img.delay(prompt="a red fox in snow", checkpoint="deliberate_v6", steps=8, batch_size=2,
                           seed=4242, width=256, height=256)  # fmt: skip
    job = result.get(timeout=120)
    # Then the result names the job, its images and their seeds
    assert job["id"] == result.id
    assert job["status"] == "succeeded", job
    assert [(i["index"], i["seed"]) for i in job["images"]] == [(0, 4242), (1, 4243)]
    # And the record in Postgres and the files on disk agree
    stored = job_store.get(uuid.UUID(result.id))
    assert stored.status == "succeeded" and stored.attempt == 1
    assert [a.outcome for a in stored.attempts] == ["succeeded"]
    results = Path(sdfleet_env["SDFLEET_RESULT_DIR"])
    for image in stored.images:
        data = (results / image.storage_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == image.sha256
        with Image.open(io.BytesIO(data)) as png:
            assert png.format == "PNG" and png.size == (256, 256)
        assert f"Seed: {image.seed}" in _png_text(results / image.storage_path)
        assert image.infotext == _png_text(results / image.storage_path)
    assert stored.info is not None and stored.info["sd_model_name"] == "deliberate_v6"
    # And the model registry records when the checkpoint was last used
    used = {e.name: e.last_used_at for e in Registry(models_volume).checkpoints()}
    assert used["deliberate_v6"] is not None


def test_http_job_runs_on_an_attached_a1111_and_its_image_is_served(
    processes: Processes, job_store: JobStore, pg_sessions: object, models_volume: Path
) -> None:
    # Given an A1111 run by someone else, a worker attached to it, and the API
    a1111 = processes.emulator(models_volume, "jib_mix_illustrious_realistic_v2.safetensors")
    processes.worker("gpu-attach", ["jib_mix_illustrious_realistic_v2"], a1111_url=a1111.url)
    api = processes.api()
    key = ApiKeys(pg_sessions).create(f"e2e-{uuid.uuid4().hex[:6]}")  # type: ignore[arg-type]
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        # When a job is submitted over HTTP
        body = {"prompt": "portrait, natural light", "checkpoint": "jib_mix_illustrious_realistic_v2",
                "steps": 6, "width": 512, "height": 768, "sampler": "Euler a", "clip_skip": 2}  # fmt: skip
        accepted = http.post("/v1/jobs", json=body)
        assert accepted.status_code == 202
        job = _wait(http, accepted.json()["url"])
        # Then it succeeded and its image is served as the PNG stored on disk
        assert job["status"] == "succeeded", job
        image = http.get(job["images"][0]["url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert hashlib.sha256(image.content).hexdigest() == job["images"][0]["sha256"]
        with Image.open(io.BytesIO(image.content)) as png:
            assert png.size == (512, 768)
            infotext = str(png.info["parameters"])
        assert "Sampler: Euler a" in infotext and "Clip skip: 2" in infotext


def test_a_worker_switches_checkpoints_between_jobs(processes: Processes, models_volume: Path) -> None:
    # Given a worker that may serve two checkpoints (it consumes the first's queues), and the balancer,
    # which moves it to the queues of a checkpoint nobody serves
    fast = {
        "SDFLEET_HEARTBEAT_S": "0.5",
        "SDFLEET_BALANCER_INTERVAL_S": "0.3",
        "SDFLEET_BALANCER_COOLDOWN_S": "0",
    }
    a1111 = processes.emulator(models_volume, "deliberate_v6.safetensors")
    checkpoints = ["deliberate_v6", "jib_mix_illustrious_realistic_v2"]
    processes.worker("gpu-both", checkpoints, a1111_url=a1111.url, env=fast)
    processes.group.start(
        "balancer", [sys.executable, "-m", "worker.cli.main", "balancer"], {**processes.env, **fast}
    )
    names = []
    order = ["jib_mix_illustrious_realistic_v2", "deliberate_v6", "jib_mix_illustrious_realistic_v2"]
    for checkpoint in order:
        job = txt2img.delay(prompt="x", checkpoint=checkpoint, steps=2, width=64, height=64).get(timeout=120)
        assert job["status"] == "succeeded", job
        names.append(job["info"]["sd_model_name"])
    assert names == order


def test_a_duplicate_delivery_produces_one_result(
    processes: Processes, job_store: JobStore, models_volume: Path, sdfleet_env: dict[str, str]
) -> None:
    a1111 = processes.emulator(models_volume, "deliberate_v6.safetensors")
    processes.worker("gpu-dup", ["deliberate_v6"], a1111_url=a1111.url)
    result = txt2img.delay(prompt="x", checkpoint="deliberate_v6", steps=2, width=64, height=64)
    first = result.get(timeout=120)
    # When the same message is delivered again (a visibility-timeout restore, a sweeper re-publish)
    publish_job(result.id, "sd.deliberate_v6.batch")
    _wait_acked(sdfleet_env["SDFLEET_REDIS_URL"], result.id)
    # Then the job ran once: one attempt, the same images, the same result
    stored = job_store.get(uuid.UUID(result.id))
    assert [a.number for a in stored.attempts] == [1]
    assert [i.sha256 for i in stored.images] == [i["sha256"] for i in first["images"]]
    assert txt2img.AsyncResult(result.id).get(timeout=10)["images"] == first["images"]


def _wait(http: httpx.Client, url: str, timeout_s: float = 120.0) -> dict[str, object]:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, object] = http.get(url).json()
        if JobStatus(job["status"]).is_terminal:
            return job
        time.sleep(0.2)
    raise TimeoutError(url)


def _wait_acked(redis_url: str, job_id: str, timeout_s: float = 60.0) -> None:
    """Wait until the broker holds no message for `job_id` (delivered and acked)."""
    import time

    from worker.recovery.queue_contents import broker_task_ids

    deadline = time.monotonic() + timeout_s
    time.sleep(0.2)
    while job_id in broker_task_ids(redis_url, ["sd.deliberate_v6.batch"]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"message for {job_id} still in the broker")
        time.sleep(0.1)


def _port() -> int:
    from worker.stack.services import free_port

    return free_port()


def test_preset_and_explicit_loras_reach_a1111_and_the_stored_infotext(
    processes: Processes, sdfleet_env: dict[str, str], models_volume: Path
) -> None:
    # Given an SDXL worker
    a1111 = processes.emulator(models_volume, "jib_mix_illustrious_realistic_v2.safetensors")
    processes.worker("gpu-lora", ["jib_mix_illustrious_realistic_v2"], a1111_url=a1111.url)
    # When a job asks for a preset, an explicit LoRA, a prompt tag and clip skip 2
    job = txt2img.delay(
        prompt="a sailor <lora:dramatic_lighting_slider:0.5>", checkpoint="jib_mix_illustrious_realistic_v2",
        preset="detail", loras=[{"name": "real_skin_slider"}], clip_skip=2, steps=4, width=256, height=256,
    ).get(timeout=120)  # fmt: skip
    # Then the images' infotext (as stored) carries every LoRA tag with its resolved weight, and clip skip
    assert job["status"] == "succeeded", job
    infotext = _png_text(Path(sdfleet_env["SDFLEET_RESULT_DIR"]) / job["images"][0]["path"])
    for tag in ("<lora:detail_tweaker_xl:1.5>", "<lora:hand_detail_flux_xl:1>", "<lora:real_skin_slider:1>",
                "<lora:dramatic_lighting_slider:0.5>"):  # fmt: skip
        assert tag in infotext, infotext
    assert "Clip skip: 2" in infotext
    assert job["info"]["clip_skip"] == 2
