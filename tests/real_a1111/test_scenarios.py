"""The scenarios of the proof, each run on the stand-in and (when present) the real A1111 by the real
worker, with real Celery jobs: what each asserts holds on both; what each notes is compared afterwards
(test_stand_in_fidelity.py).

Order matters only at the end: the cancel leaves A1111's `interrupted` flag set, and the kill restarts it.
"""

from __future__ import annotations

import io
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.real_a1111.conftest import CHECKPOINTS, LORA, Gpu
from tests.real_a1111.environment import CPU_FLAGS
from tests.real_a1111.shapes import infotext_params, infotext_prompt_lines, shape
from tests.worker.resilience.conftest import Fleet, wait_job, wait_until
from worker.a1111.client import A1111Client
from worker.errors import InvalidRequest
from worker.settings import get_settings
from worker.store.models import Job
from worker.vocabulary import FailureCategory

pytestmark = pytest.mark.timeout(1200)  # the real A1111 on a shared CPU: seconds per step

PROMPT = "a photo of a cat, masterpiece"
SMALL: dict[str, Any] = {"prompt": PROMPT, "negative_prompt": "blurry", "steps": 3, "width": 64, "height": 64}
# The seven samplers the subsystem spec names, and how A1111 v1.10.1 writes them in its infotext
# (sampler, schedule type): legacy combined names are split.
SEVEN_SAMPLERS = {
    "DPM++ 2M Karras": ("DPM++ 2M", "Karras"),
    "Euler a": ("Euler a", "Automatic"),
    "DDIM": ("DDIM", "Automatic"),
    "LMS": ("LMS", "Automatic"),
    "Heun": ("Heun", "Automatic"),
    "DPM++ SDE Karras": ("DPM++ SDE", "Karras"),
    "UniPC": ("UniPC", "Automatic"),
}
# Flags whose value depends on the run (a free port, a fresh folder, a per-launch password).
RUN_VALUES = ("--port", "--data-dir", "--api-auth")


def _timeout_s(gpu: Gpu) -> float:
    return 900.0 if gpu.target == "real" else 120.0


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest, gpu: Gpu) -> Iterator[None]:
    """Each scenario's wall time, per target, for the run log (docs/emulator.md)."""
    started = time.monotonic()
    yield
    gpu.notes.setdefault("_timings", {})[request.node.originalname] = round(time.monotonic() - started, 1)


def _run(gpu: Gpu, fleet: Fleet, **params: Any) -> Job:
    job = wait_job(fleet.store, fleet.submit(**params), timeout_s=_timeout_s(gpu))
    if job.status != "succeeded":
        pytest.fail(f"{gpu.target}: {job.failure_category}: {job.failure_message}\n{gpu.worker.log_tail(30)}")
    return job


def _png(path: str) -> Image.Image:
    data = (get_settings().result_dir / path).read_bytes()
    return Image.open(io.BytesIO(data))


def _pixels(path: str) -> bytes:
    with _png(path) as image:
        return image.convert("RGB").tobytes()


def _envelope(answer: httpx.Response) -> dict[str, Any]:
    return {"status": answer.status_code, "body": answer.json()}


def test_the_worker_launches_a1111_with_its_flags_and_the_cpu_ones(gpu: Gpu) -> None:
    argv = Path(f"/proc/{gpu.pid()}/cmdline").read_bytes().decode().split("\0")[:-1]
    flags = argv[argv.index("--xformers") :]
    # The worker's fixed flags first, then the operator's: the CPU flags and this session's data dir (a
    # per-launch --api-auth, when the worker gives one, is added at each start, after them)
    own = (
        flags[: flags.index("--api-auth")] + flags[flags.index("--api-auth") + 2 :]
        if "--api-auth" in flags
        else flags
    )
    assert own[-len(CPU_FLAGS) - 2 :] == [*CPU_FLAGS, "--data-dir", str(gpu.data_dir)]
    for fixed in ("--no-half-vae", "--api", "--nowebui", "--no-hashing", "--disable-safe-unpickle"):
        assert fixed in own
    masked = [
        f"<{flags[i - 1]}>" if i and flags[i - 1] in RUN_VALUES else gpu.portable(flag)
        for i, flag in enumerate(flags)
    ]
    gpu.notes["flags"] = masked


def test_a_job_on_the_default_checkpoint(gpu: Gpu, tier_fleet: Fleet) -> None:
    idle = gpu.json("/sdapi/v1/progress?skip_current_image=true")
    job = _run(gpu, tier_fleet, **SMALL, seed=1234, sampler="Euler a")
    # One 64×64 PNG, whose infotext is A1111's own, stored as A1111 wrote it
    (image,) = job.images
    with _png(image.storage_path) as png:
        assert (png.format, png.size) == ("PNG", (64, 64))
        assert png.info["parameters"] == image.infotext
    assert job.info is not None and image.infotext == job.info["infotexts"][0]
    params = dict(infotext_params(image.infotext))
    expected = {"Steps": "3", "Sampler": "Euler a", "Seed": "1234", "Size": "64x64", "Model": "deliberate_v6"}
    assert {key: params.get(key) for key in expected} == expected
    assert job.info["sd_model_name"] == "deliberate_v6" and job.info["all_seeds"] == [1234]
    models = gpu.json("/sdapi/v1/sd-models")
    options = gpu.json("/sdapi/v1/options")
    # The worker's launch options are set
    assert (options["CLIP_stop_at_last_layers"], options["live_previews_enable"]) == (1, False)
    gpu.notes.update(
        {
            "progress idle": {"shape": shape(idle), "state": idle["state"]},
            "info": shape(job.info),
            "info values": {
                k: job.info[k] for k in ("sampler_name", "clip_skip", "version", "sd_model_hash")
            },
            "infotext": {
                "params": infotext_params(image.infotext),
                "lines": infotext_prompt_lines(image.infotext),
            },
            "sd-models": {
                "shape": shape(models),
                "entries": [
                    {
                        key: gpu.portable(value) if isinstance(value, str) else value
                        for key, value in entry.items()
                    }
                    for entry in sorted(models, key=lambda m: m["model_name"])
                ],
            },
            "options read": {
                key: options[key]
                for key in ("sd_model_checkpoint", "CLIP_stop_at_last_layers", "live_previews_enable")
            },
        }
    )


def test_a_checkpoint_switch(gpu: Gpu, tier_fleet: Fleet) -> None:
    job = _run(gpu, tier_fleet, **SMALL, checkpoint="sd15_alt", seed=2, sampler="Euler a")
    assert job.info is not None and job.info["sd_model_name"] == "sd15_alt"
    assert dict(infotext_params(job.images[0].infotext))["Model"] == "sd15_alt"
    (attempt,) = job.attempts
    (switch,) = [e for e in attempt.timings["timeline"] if e["event"] == "checkpoint"]
    titles = {m["model_name"]: m["title"] for m in gpu.json("/sdapi/v1/sd-models")}
    assert (switch["previous"], switch["title"]) == (titles["deliberate_v6"], titles["sd15_alt"])
    # A1111's options name the checkpoint now loaded, by its sd-models title
    options = gpu.json("/sdapi/v1/options")
    assert options["sd_model_checkpoint"] == titles["sd15_alt"]
    gpu.notes["options after a switch"] = {"sd_model_checkpoint": options["sd_model_checkpoint"]}
    gpu.notes.setdefault("_timings", {})["checkpoint switch (A1111)"] = switch["seconds"]
    # And back: the next job on the default checkpoint switches again
    back = _run(gpu, tier_fleet, **SMALL, seed=3, sampler="Euler a")
    assert back.info is not None and back.info["sd_model_name"] == CHECKPOINTS[0]


def test_a_batch_of_two_gets_seed_and_seed_plus_one_and_a1111s_infotexts(gpu: Gpu, tier_fleet: Fleet) -> None:
    job = _run(gpu, tier_fleet, **SMALL, batch_size=2, seed=777, sampler="Euler a")
    assert job.info is not None
    assert [(i.index, i.seed) for i in job.images] == [(0, 777), (1, 778)]
    assert job.info["all_seeds"] == [777, 778]
    for image in job.images:
        assert image.infotext == job.info["infotexts"][image.index]
        assert dict(infotext_params(image.infotext))["Seed"] == str(image.seed)
        with _png(image.storage_path) as png:
            assert png.info["parameters"] == image.infotext
    gpu.notes["batch of two"] = {
        "all_seeds": job.info["all_seeds"],
        "seeds in infotexts": [dict(infotext_params(t))["Seed"] for t in job.info["infotexts"]],
        "info": shape(job.info),
    }


def test_a_lora_tag_reaches_a1111(gpu: Gpu, tier_fleet: Fleet) -> None:
    base = {**SMALL, "seed": 4321, "sampler": "Euler"}
    plain = _run(gpu, tier_fleet, **base)
    with_lora = _run(gpu, tier_fleet, **base, loras=[{"name": LORA, "weight": 0.8}])
    prompt, _ = infotext_prompt_lines(with_lora.images[0].infotext)
    assert prompt == f"{PROMPT} <lora:{LORA}:0.8>"
    # Same seed and prompt text, different weights applied: a different picture
    assert _pixels(with_lora.images[0].storage_path) != _pixels(plain.images[0].storage_path)
    assert with_lora.info is not None
    gpu.notes["lora"] = {
        "prompt": prompt,
        "params": infotext_params(with_lora.images[0].infotext),
        "extra_generation_params": with_lora.info["extra_generation_params"],
        "loras listed": sorted(entry["name"] for entry in gpu.json("/sdapi/v1/loras")),
    }


def test_the_seven_samplers(gpu: Gpu, tier_fleet: Fleet) -> None:
    ids = {name: tier_fleet.submit(**SMALL, seed=11, sampler=name) for name in SEVEN_SAMPLERS}
    written = {}
    for name, job_id in ids.items():
        job = wait_job(tier_fleet.store, job_id, timeout_s=_timeout_s(gpu))
        assert job.status == "succeeded", (name, job.failure_category, job.failure_message)
        params = dict(infotext_params(job.images[0].infotext))
        written[name] = (params["Sampler"], params.get("Schedule type"))
    assert written == SEVEN_SAMPLERS
    gpu.notes["samplers"] = {name: list(value) for name, value in written.items()}


def test_clip_skip_2_and_back(gpu: Gpu, tier_fleet: Fleet) -> None:
    two = _run(gpu, tier_fleet, **SMALL, seed=99, sampler="Euler", clip_skip=2)
    assert two.info is not None and two.info["clip_skip"] == 2
    assert dict(infotext_params(two.images[0].infotext))["Clip skip"] == "2"
    # A1111 restored its option after the job (the worker's launch options made it restorable)
    after = gpu.json("/sdapi/v1/options")["CLIP_stop_at_last_layers"]
    one = _run(gpu, tier_fleet, **SMALL, seed=99, sampler="Euler", clip_skip=1)
    assert one.info is not None and one.info["clip_skip"] == 1
    assert "Clip skip" not in dict(infotext_params(one.images[0].infotext))
    assert after == 1
    gpu.notes["clip skip"] = {
        "info.clip_skip": [two.info["clip_skip"], one.info["clip_skip"]],
        "option after the clip-skip-2 job": after,
        "params": infotext_params(two.images[0].infotext),
    }


def _client(gpu: Gpu) -> A1111Client:
    auth = gpu.auth()
    if auth is None:
        return A1111Client(gpu.url, request_timeout_s=120)
    # A worker that launches A1111 with --api-auth gives its client the credentials
    return A1111Client(gpu.url, request_timeout_s=120, credentials=lambda: auth)  # type: ignore[call-arg]


def test_a_parameter_a1111_refuses_is_invalid_request(gpu: Gpu) -> None:
    bad = {**SMALL, "width": "abc"}
    client = _client(gpu)
    try:
        with pytest.raises(InvalidRequest) as refused:
            client.txt2img(bad)
    finally:
        client.close()
    assert refused.value.field == "width"
    assert refused.value.category is FailureCategory.INVALID_REQUEST
    gpu.notes["errors"] = {
        "422 width 'abc'": _envelope(gpu.request("POST", "/sdapi/v1/txt2img", json=bad)),
        "422 unknown script": _envelope(
            gpu.request("POST", "/sdapi/v1/txt2img", json={**SMALL, "script_name": "no such script"})
        ),
        "422 an img2img-only always-on script on txt2img": _envelope(
            gpu.request(
                "POST", "/sdapi/v1/txt2img", json={**SMALL, "alwayson_scripts": {"soft inpainting": {}}}
            )
        ),
        "422 not JSON": _envelope(
            gpu.request(
                "POST",
                "/sdapi/v1/txt2img",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
        ),
        "500 unknown checkpoint": _envelope(
            gpu.request(
                "POST", "/sdapi/v1/options", json={"sd_model_checkpoint": "no_such_model.safetensors"}
            )
        ),
        "500 unknown option": _envelope(gpu.request("POST", "/sdapi/v1/options", json={"no_such_option": 1})),
        "client": [type(refused.value).__name__, refused.value.field, refused.value.category.value],
    }


def test_an_unauthenticated_request_is_refused(gpu: Gpu) -> None:
    auth = gpu.auth()
    if auth is None:
        gpu.notes["401"] = "A1111 launched without --api-auth"
        pytest.skip(
            "the worker launched A1111 without --api-auth (the security change is not in this branch)"
        )
    none = gpu.request("GET", "/sdapi/v1/sd-models", auth=False)
    wrong = httpx.get(gpu.url + "/sdapi/v1/sd-models", auth=(auth[0], "wrong"), timeout=30)
    assert (none.status_code, wrong.status_code) == (401, 401)
    gpu.notes["401"] = {
        "none": _envelope(none),
        "wrong password": _envelope(wrong),
        "WWW-Authenticate": [none.headers.get("www-authenticate"), wrong.headers.get("www-authenticate")],
    }


def test_cancel_of_a_running_job_interrupts_a1111(gpu: Gpu, tier_fleet: Fleet) -> None:
    # Given a long job in the middle of sampling (150 steps at 128²: minutes on a CPU)
    gpu.slow_down(0.2, 128, 128)
    job_id = tier_fleet.submit(prompt=PROMPT, steps=150, width=128, height=128, seed=5, sampler="Euler a")
    wait_until(lambda: gpu.sampling_step() >= 2, _timeout_s(gpu), "sampling under way", interval_s=0.2)
    during = gpu.json("/sdapi/v1/progress?skip_current_image=true")
    pid = gpu.pid()
    # When its caller cancels it
    cancelled_at = time.monotonic()
    tier_fleet.store.request_cancel(uuid.UUID(job_id))
    job = wait_job(tier_fleet.store, job_id, timeout_s=_timeout_s(gpu))
    stopped_s = time.monotonic() - cancelled_at
    # Then A1111 was interrupted (not killed) and the job ended cancelled, without images
    assert (job.status, job.failure_category, job.images) == ("cancelled", "cancelled", [])
    assert [(a.outcome, a.category) for a in job.attempts] == [("cancelled", "cancelled")]
    assert gpu.pid() == pid
    after = gpu.json("/sdapi/v1/progress?skip_current_image=true")
    assert after["state"]["interrupted"] is True
    assert during["state"]["sampling_steps"] == 150 and during["state"]["job_count"] == 1
    gpu.notes["progress during a job"] = {"shape": shape(during), "job": during["state"]["job"]}
    gpu.notes["progress after an interrupt"] = {
        "shape": shape(after),
        "interrupted": after["state"]["interrupted"],
        "job_count": after["state"]["job_count"],
    }
    gpu.notes.setdefault("_timings", {})["cancel to cancelled"] = round(stopped_s, 1)
    # And the A1111 is still usable
    assert _run(gpu, tier_fleet, **SMALL, seed=6, sampler="Euler a").images


def test_a1111_killed_mid_job_is_restarted_and_the_job_completes(gpu: Gpu, tier_fleet: Fleet) -> None:
    # Given a job in the middle of sampling
    gpu.slow_down(0.2, 64, 64)
    job_id = tier_fleet.submit(**{**SMALL, "steps": 8}, seed=31, sampler="Euler a")
    wait_until(lambda: gpu.sampling_step() >= 2, _timeout_s(gpu), "sampling under way", interval_s=0.2)
    pid = gpu.pid()
    gpu.notes["_timings"]["A1111 peak RSS (GB), all scenarios before the kill"] = gpu.peak_rss_gb()
    # When A1111 is SIGKILLed (as the kernel's OOM killer would)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # Then the worker restarted it, and the job was retried and completed
    job = wait_job(tier_fleet.store, job_id, timeout_s=_timeout_s(gpu))
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    assert [(a.outcome, a.category) for a in job.attempts] == [
        ("retried", "backend_crashed"),
        ("succeeded", None),
    ]
    assert [(i.index, i.seed) for i in job.images] == [(0, 31)]
    assert gpu.pid() != pid
    gpu.notes["kill"] = {"attempts": [[a.outcome, a.category] for a in job.attempts]}
    gpu.notes.setdefault("_timings", {})["kill to succeeded"] = round(time.monotonic() - killed_at, 1)
