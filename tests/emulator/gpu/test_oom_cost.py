"""What an out-of-memory error costs before the 500 arrives (docs/emulator.md "Time"), measured on the
emulator's clock: in-process on a fake clock, where every duration is exact, and in a real server by
its `clock_slept_s`, the exact sum of what it slept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.cli import parse_config
from emulator.faults import FaultKind, FaultSpec
from emulator.gpu.oom import OutOfMemoryError
from emulator.gpu.telemetry import Thermals
from emulator.gpu.timing import decode_seconds, empty_cache_seconds, encode_seconds, step_seconds
from emulator.gpu.vram import Precision, unet_working_mib, vae_working_mib
from emulator.models.arch import Arch
from emulator.routes.generation_handler import run_generation
from emulator.routes.request_model import parse_txt2img
from emulator.runtime import Runtime, build_runtime
from tests.emulator.conftest import SD15, SDXL, WORKER_FLAGS, StartEmulator
from tests.emulator.helpers import FakeClock

BIG_SDXL = {"prompt": "a lighthouse", "width": 1024, "height": 1024, "batch_size": 8, "steps": 20}
FP32_VAE = Precision(no_half_vae=True)  # the workers' flags include --no-half-vae


def start(models_dir: Path, ckpt: str, *extra: str) -> tuple[Runtime, FakeClock]:
    checkpoints = models_dir / "checkpoints"
    argv = [
        *WORKER_FLAGS, "--ckpt-dir", str(checkpoints), "--ckpt", str(checkpoints / ckpt),
        "--lora-dir", str(models_dir / "loras"), *extra,
    ]  # fmt: skip
    clock = FakeClock()
    rt = build_runtime(parse_config(argv, {}), clock=clock)
    rt.loader.start()
    rt.loader.wait_initial_load()
    return rt, clock


def generate(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    return run_generation(rt, parse_txt2img(dict(payload)), set(payload))


def oom_of(rt: Runtime, clock: FakeClock, payload: dict[str, Any]) -> tuple[OutOfMemoryError, float]:
    """The error a request raises and the simulated seconds it took."""
    before = clock.slept_s()
    with pytest.raises(OutOfMemoryError) as raised:
        generate(rt, payload)
    return raised.value, clock.slept_s() - before


def test_a_unet_oom_costs_text_encoding_part_of_the_first_pass_and_emptying_the_cache(
    models_dir: Path,
) -> None:
    # Given SDXL on the default 24 GiB card, where a 1024² batch of 8 does not fit
    rt, clock = start(models_dir, SDXL)
    t0, energy_before = clock.now(), rt.telemetry.reading().energy_mj
    # When it is asked for
    oom, spent = oom_of(rt, clock, BIG_SDXL)
    # Then the request ran the prompt and the negative prompt through the text encoders, and its first
    # UNet evaluation (Euler: one a step) up to the allocation that failed, then emptied the cache
    first_eval = step_seconds(Arch.SDXL, 1024, 1024, 8, linear_attention=True)
    need = unet_working_mib(Arch.SDXL, 1024, 1024, 8, linear_attention=True)
    assert 0.3 < oom.allocated_share < 1.0 and oom.reserved_mib > oom.allocated_share * need
    busy = 2 * encode_seconds(Arch.SDXL) + oom.allocated_share * first_eval
    assert spent == pytest.approx(busy + empty_cache_seconds(oom.reserved_mib))
    assert spent > 0.8  # against 0 when the emulator decided before the first step
    # And the card was busy for the encoding and the partial pass only: energy = idle·t + extra·busy
    t = Thermals()
    energy_j = (rt.telemetry.reading().energy_mj - energy_before) / 1000
    assert energy_j == pytest.approx(t.idle_w * (clock.now() - t0) + (t.load_w - t.idle_w) * busy, abs=1e-3)
    # And the memory is given back, the counters counted it, the next smaller batch runs
    assert rt.device.memory_stats()["events"] == {"retries": 1, "oom": 1}
    assert generate(rt, {**BIG_SDXL, "batch_size": 4, "steps": 2})["images"]


def test_the_cond_cache_spares_encoding_on_a_repeat_but_not_for_another_batch(models_dir: Path) -> None:
    rt, clock = start(models_dir, SDXL)
    first, first_s = oom_of(rt, clock, BIG_SDXL)
    repeat, repeat_s = oom_of(rt, clock, BIG_SDXL)  # same prompts, steps, size: A1111's cache hits
    assert first_s - repeat_s == pytest.approx(2 * encode_seconds(Arch.SDXL))
    # a batch of 4 is another tuple of prompts: encoded again, then 4 images sampled and decoded
    before = clock.slept_s()
    generate(rt, {**BIG_SDXL, "batch_size": 4, "steps": 3})
    vae = vae_working_mib(1024, 1024, FP32_VAE)
    expected = (
        2 * encode_seconds(Arch.SDXL)
        + 3 * step_seconds(Arch.SDXL, 1024, 1024, 4, linear_attention=True)
        + 4 * decode_seconds(Arch.SDXL, 1024, 1024)
        + empty_cache_seconds(vae + min(256.0, 0.02 * vae))  # the decoder's memory, last in the cache
    )
    assert clock.slept_s() - before == pytest.approx(expected)


def test_a_decoder_oom_comes_after_the_whole_sampling(models_dir: Path) -> None:
    # Given SD1.5 on an 8 GiB card at 2048²: the UNet pass fits, the fp32 decoder's 16 GiB do not
    rt, clock = start(models_dir, SD15, "--emu-vram-mb", "8192")
    oom, spent = oom_of(rt, clock, {"prompt": "huge", "width": 2048, "height": 2048, "steps": 6})
    # Then every step ran before the first image's decode failed part way
    sampling = 6 * step_seconds(Arch.SD15, 2048, 2048, 1, linear_attention=True)
    partial_decode = oom.allocated_share * decode_seconds(Arch.SD15, 2048, 2048)
    expected = (
        2 * encode_seconds(Arch.SD15) + sampling + partial_decode + empty_cache_seconds(oom.reserved_mib)
    )
    assert spent == pytest.approx(expected) and spent > sampling
    assert "Tried to allocate 2.05 GiB" in str(oom)  # an eighth of the decoder's 16.4 GiB


def test_an_injected_oom_costs_like_a_real_one_and_scales_with_the_card(models_dir: Path) -> None:
    rt, clock = start(models_dir, SD15, "--emu-gpu-speed", "2")
    rt.faults.add([FaultSpec(kind=FaultKind.OOM)])
    oom, spent = oom_of(rt, clock, {"prompt": "x", "steps": 20})
    first_eval = step_seconds(Arch.SD15, 512, 512, 1, linear_attention=True)
    expected = (2 * encode_seconds(Arch.SD15) + oom.allocated_share * first_eval) / 2  # twice as fast a card
    assert spent == pytest.approx(expected + empty_cache_seconds(oom.reserved_mib))


def test_a_real_server_spends_what_the_model_says(a1111_emulator: StartEmulator, models_dir: Path) -> None:
    # Given a server and the same model on a fake clock
    rt, clock = start(models_dir, SDXL)
    _, modelled_s = oom_of(rt, clock, BIG_SDXL)
    emulator = a1111_emulator(ckpt=SDXL)
    before = emulator.stats()["clock_slept_s"]
    # When the big batch is asked for over HTTP
    response = emulator.txt2img(**BIG_SDXL)
    # Then the OOM's 500 came after the same simulated time (not wall-clock: exact whatever the load)
    assert (response.status_code, response.json()["error"]) == (500, "OutOfMemoryError")
    assert emulator.stats()["clock_slept_s"] - before == pytest.approx(modelled_s, abs=2e-6)
