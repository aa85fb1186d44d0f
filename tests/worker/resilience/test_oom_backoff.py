"""OOM-aware batch backoff with real processes: a worker whose own stand-in A1111 has a small GPU.

The stand-in's VRAM is set (through the worker's environment, which the A1111 it launches inherits) from
the emulator's own memory model, so that the card holds exactly 3 images of 256×256 and runs out of
memory at 4. Sub-batch starting at image k is sent with seed + k, so a split run must give the bytes of
one unsplit batch, which a 24 GB stand-in produces for comparison.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emulator.gpu import vram as gpu
from emulator.models.arch import Arch
from tests.helpers.processes import Processes, node
from tests.worker.resilience.conftest import A1111, Fleet, launched_worker, unique, wait_job
from worker.a1111.payload import build_txt2img
from worker.output.png_chunks import PNG_SIGNATURE, png_chunks
from worker.store.models import Job

PRECISION = gpu.Precision(no_half_vae=True)  # our A1111 flags include --no-half-vae
HOLDS, SIZE = 3, 256  # the card holds 3 images of 256×256, not 4


def working_mib(size: int, batch: int) -> float:
    return gpu.working_mib(
        Arch.SD15, size, size, batch, linear_attention=True, precision=PRECISION
    )  # --xformers: memory-efficient attention


def vram_mb_holding(batch: int, size: int) -> float:
    """A card whose free memory, with the SD1.5 checkpoint loaded, lies between `batch` and `batch + 1`."""
    fits, too_many = working_mib(size, batch), working_mib(size, batch + 1)
    assert fits < too_many, f"the emulator's model gives {size}² the same memory at {batch} and {batch + 1}"
    return gpu.CUDA_CONTEXT_MIB + gpu.weights_mib(Arch.SD15, PRECISION) + (fits + too_many) / 2


@dataclass
class SmallGpu:
    name: str
    a1111: A1111


@pytest.fixture(scope="module")
def small_gpu(module_processes: Processes) -> Iterator[SmallGpu]:
    name = unique("gpu-small")
    vram_mb = vram_mb_holding(HOLDS, SIZE)
    _, a1111 = launched_worker(module_processes, name, env={"A1111_EMU_VRAM_MB": f"{vram_mb:.1f}"})
    yield SmallGpu(name, a1111)


def _run(fleet: Fleet, timeout_s: float = 120.0, **params: object) -> Job:
    job_id = fleet.submit(prompt="a lighthouse at dusk", steps=6, **params)
    return wait_job(fleet.store, job_id, timeout_s)


def _stored(job: Job, sdfleet_env: dict[str, str]) -> list[bytes]:
    results = Path(sdfleet_env["SDFLEET_RESULT_DIR"])
    return [(results / image.storage_path).read_bytes() for image in job.images]


def a1111_bytes(stored: bytes) -> bytes:
    """A stored PNG without the chunks sdfleet adds (its job id and attempt): the bytes A1111 returned."""
    kept = [
        raw for kind, raw in png_chunks(stored) if not (kind == b"tEXt" and raw[8:].startswith(b"sdfleet-"))
    ]
    assert len(kept) < len(png_chunks(stored)), "the stored image names its job"
    return PNG_SIGNATURE + b"".join(kept)


def _calls(job: Job) -> list[tuple[int, str]]:
    return [(c["size"], c["outcome"]) for a in job.attempts for c in a.timings.get("sub_batches", [])]


def test_an_oom_at_batch_8_on_a_gpu_holding_3_gives_the_images_of_an_unsplit_run(
    small_gpu: SmallGpu,
    fleet: Fleet,
    processes: Processes,
    models_volume: Path,
    sdfleet_env: dict[str, str],
) -> None:
    # Given a stand-in with a 24 GB card, for the unsplit reference
    big = processes.emulator(models_volume, "deliberate_v6.safetensors")
    # When a job asks the small GPU for 8 images of a shape it has never seen
    job = _run(fleet, batch_size=8, seed=777, width=SIZE, height=SIZE)
    # Then it completed with 8 images whose seeds are those of one batch: seed .. seed + 7
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    assert [(i.index, i.seed) for i in job.images] == [(k, 777 + k) for k in range(8)]
    # after halving at each OOM (8, 4), running at the size that fit (2), then probing halfway to the OOM
    # (3, which fits): what was made is kept, nothing redone
    assert _calls(job) == [(8, "oom"), (4, "oom"), (2, "ok"), (3, "ok"), (3, "ok")]
    (attempt,) = job.attempts
    assert (attempt.outcome, attempt.oom_count, attempt.worker) == ("succeeded", 2, node(small_gpu.name))
    # And the bytes are those of one unsplit batch of 8 (apart from the chunks naming the job)
    payload = build_txt2img(job.params, seed=777, batch_size=8)
    unsplit = httpx.post(f"{big.url}/sdapi/v1/txt2img", json=payload, timeout=60).json()["images"]
    stored = _stored(job, sdfleet_env)
    assert [hashlib.sha256(b).hexdigest() for b in stored] == [image.sha256 for image in job.images]
    assert [a1111_bytes(b) for b in stored] == [base64.b64decode(image) for image in unsplit]
    ooms_so_far = small_gpu.a1111.stats()["cuda_oom_events"]
    assert ooms_so_far == 2

    # When the identical job runs again
    again = _run(fleet, batch_size=8, seed=777, width=SIZE, height=SIZE)
    # Then it was pre-split from what the GPU is remembered to hold (3), and ran without any OOM
    assert again.status == "succeeded"
    assert _calls(again) == [(3, "ok"), (3, "ok"), (2, "ok")]
    assert again.attempts[0].oom_count == 0
    assert small_gpu.a1111.stats()["cuda_oom_events"] == ooms_so_far
    assert [a1111_bytes(b) for b in _stored(again, sdfleet_env)] == [a1111_bytes(b) for b in stored]


def test_an_oom_at_batch_1_on_a_shape_the_gpu_has_held_reloads_then_restarts_a1111(
    small_gpu: SmallGpu, fleet: Fleet
) -> None:
    size = 192
    assert working_mib(size, 1) < working_mib(SIZE, HOLDS + 1), "192² must fit on the small card"
    # Given a shape this GPU has completed at batch 1
    assert _run(fleet, width=size, height=size, seed=5).status == "succeeded"
    pid_before = small_gpu.a1111.pid()
    # When its A1111 runs out of memory for it twice in a row (as a fragmented or leaking process would)
    small_gpu.a1111.add_fault(kind="oom", times=2)
    job = _run(fleet, width=size, height=size, seed=6)
    # Then the first cleanup (reload the checkpoint) was not enough, a restart was, and the job completed
    assert job.status == "succeeded", (job.failure_category, job.failure_message)
    assert _calls(job) == [(1, "oom"), (1, "oom"), (1, "ok")]
    assert job.attempts[0].timings["cleanups"] == ["reload_checkpoint", "restart_a1111"]
    assert small_gpu.a1111.pid() != pid_before


def test_an_oom_at_batch_1_on_a_shape_never_held_is_final_after_one_cleanup(
    small_gpu: SmallGpu, fleet: Fleet
) -> None:
    size = 504  # a shape no other GPU of the suite runs: nobody is known to hold it
    assert working_mib(size, 1) > working_mib(SIZE, HOLDS + 1), "504² must not fit on the small card"
    pid_before = small_gpu.a1111.pid()
    # When a job's shape does not fit even at batch 1
    job = _run(fleet, batch_size=2, width=size, height=size, seed=9)
    # Then it was split to 1, cleaned up once (no restart: the shape, not the process, is too big), tried
    # once more, and failed as `oom` without a retry
    assert (job.status, job.failure_category) == ("failed", "oom")
    assert _calls(job) == [(2, "oom"), (1, "oom"), (1, "oom")]
    (attempt,) = job.attempts
    assert attempt.timings["cleanups"] == ["reload_checkpoint"]
    assert "even at batch 1 after reload_checkpoint" in (job.failure_message or "")
    assert small_gpu.a1111.pid() == pid_before
    assert job.images == [] and uuid.UUID(str(job.id))
