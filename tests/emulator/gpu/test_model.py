"""The GPU model (docs/emulator.md "GPU model"): VRAM and timing formulas against the figures they are
calibrated on, and torch's OOM text."""

from __future__ import annotations

import re

import pytest

from emulator.gpu.device import Device
from emulator.gpu.oom import OutOfMemoryError, format_size
from emulator.gpu.timing import step_seconds
from emulator.gpu.vram import CUDA_CONTEXT_MIB, Precision, unet_working_mib, weights_mib, working_mib
from emulator.models.arch import Arch

WORKER_PRECISION = Precision(no_half_vae=True)  # our workers pass --no-half-vae
GIB = 1024.0


def fits(arch: Arch, size: int, batch: int, card_mib: float, *, linear: bool = True) -> bool:
    need = weights_mib(arch, WORKER_PRECISION) + working_mib(
        arch, size, size, batch, linear_attention=linear, precision=WORKER_PRECISION
    )
    return need <= card_mib - CUDA_CONTEXT_MIB


def max_batch(arch: Arch, size: int, card_mib: float) -> int:
    batch = 0
    while fits(arch, size, batch + 1, card_mib):
        batch += 1
    return batch


def test_resident_weights_follow_parameter_counts() -> None:
    # SD1.5 ~2.2 GB (UNet 860M + CLIP-L 123M fp16, fp32 VAE); SDXL ~6.6 GB (UNet 2.6B + 817M text)
    assert weights_mib(Arch.SD15, WORKER_PRECISION) / GIB == pytest.approx(2.14, abs=0.05)
    assert weights_mib(Arch.SDXL, WORKER_PRECISION) / GIB == pytest.approx(6.62, abs=0.05)
    assert weights_mib(Arch.SDXL, Precision(no_half=True)) == pytest.approx(
        2 * weights_mib(Arch.SDXL, Precision())
    )


def test_sdxl_1024_on_24gb_fits_four_and_ooms_at_eight() -> None:
    # the fleet target: a 24 GB card holds an SDXL 1024x1024 batch of ~3-4 and OOMs at 8
    assert max_batch(Arch.SDXL, 1024, 24576) == 4
    assert not fits(Arch.SDXL, 1024, 8, 24576)


def test_sdxl_1024_needs_more_than_8gb_and_fits_batch_1_on_12gb() -> None:
    # A1111 needs --medvram-sdxl on 8 GB cards; a 12 GB card runs batch 1
    assert max_batch(Arch.SDXL, 1024, 8192) == 0
    assert max_batch(Arch.SDXL, 1024, 12288) == 1


def test_sd15_512_peak_about_3_7_gb_and_batch_8_on_8gb() -> None:
    # SD1.5 at 512x512 fp16 peaks at ~3.7 GB in total; SD1.5 runs large batches on 8 GB cards
    peak = (
        CUDA_CONTEXT_MIB
        + weights_mib(Arch.SD15, WORKER_PRECISION)
        + working_mib(Arch.SD15, 512, 512, 1, linear_attention=True, precision=WORKER_PRECISION)
    )
    assert peak / GIB == pytest.approx(3.6, abs=0.2)
    assert fits(Arch.SD15, 512, 8, 8192)


def test_attention_memory_is_linear_with_xformers_and_quadratic_without() -> None:
    # memory-efficient attention is linear in pixels; plain attention adds heads*(W*H/64)^2 scores
    linear = [unet_working_mib(Arch.SD15, s, s, 1, linear_attention=True) for s in (512, 1024)]
    plain = [unet_working_mib(Arch.SD15, s, s, 1, linear_attention=False) for s in (512, 1024)]
    assert (linear[1] - 150) / (linear[0] - 150) == pytest.approx(4.0)
    assert (plain[1] - linear[1]) / (plain[0] - linear[0]) == pytest.approx(16.0)
    # AnimateDiff's measurement (16 frames, SD1.5 512x512): +6.5 GB without optimisation, i.e. ~0.41 GB a
    # frame; the model's score matrix (8 heads, cond+uncond, fp16) is 0.5 GiB a frame
    assert (plain[0] - linear[0]) / GIB == pytest.approx(0.5)


def test_step_times_match_the_rtx_4080_figures() -> None:
    # stable-fast README, RTX 4080: A1111 SD1.5 512^2 17.2 it/s (24.5 with SDP); SDXL 1024^2 3.6 (4.3)
    assert 1 / step_seconds(Arch.SD15, 512, 512, 1, linear_attention=False) == pytest.approx(17.2)
    assert 1 / step_seconds(Arch.SD15, 512, 512, 1, linear_attention=True) == pytest.approx(24.5)
    assert 1 / step_seconds(Arch.SDXL, 1024, 1024, 1, linear_attention=False) == pytest.approx(3.6)
    assert 1 / step_seconds(Arch.SDXL, 1024, 1024, 1, linear_attention=True) == pytest.approx(4.3)


def test_batch_scaling_matches_the_published_sdxl_batch_of_four() -> None:
    # gigagpu RTX 4090 SDXL 1024^2: batch 4 in 6.5 s vs 2.0 s single, i.e. 3.25x the time
    one = step_seconds(Arch.SDXL, 1024, 1024, 1, linear_attention=True)
    four = step_seconds(Arch.SDXL, 1024, 1024, 4, linear_attention=True)
    assert four / one == pytest.approx(3.25)


def test_step_time_grows_faster_than_pixels() -> None:
    # 4x the pixels: 4x the convolutions, 16x the attention share of the step
    base = step_seconds(Arch.SD15, 512, 512, 1, linear_attention=True)
    assert step_seconds(Arch.SD15, 1024, 1024, 1, linear_attention=True) / base == pytest.approx(
        0.85 * 4 + 0.15 * 16
    )


def test_format_size_is_c10s() -> None:
    # c10's format_size, used by every figure of torch's OOM message (§16)
    assert format_size(1024) == "1024 bytes"
    assert format_size(2048) == "2.00 KiB"
    assert format_size(20 * 1024**2) == "20.00 MiB"
    assert format_size(23.62 * 1024**3) == "23.62 GiB"


def test_oom_message_has_torch_2_1_format_and_counts() -> None:
    # §16: torch >= 2.1: "CUDA out of memory. Tried to allocate X. GPU 0 has a total capacity of Y of which
    # Z is free. Including non-PyTorch memory, this process has ... memory in use. Of the allocated memory
    # ... is allocated by PyTorch, and ... is reserved by PyTorch but unallocated. If reserved ..."
    device = Device(24576)
    device.set_resident("ckpt", weights_mib(Arch.SDXL, WORKER_PRECISION))
    with pytest.raises(OutOfMemoryError) as caught:
        device.allocate_working(
            working_mib(Arch.SDXL, 1024, 1024, 8, linear_attention=True, precision=WORKER_PRECISION)
        )
    pattern = (
        r"CUDA out of memory\. Tried to allocate \d+\.\d\d (MiB|GiB)\. "
        r"GPU 0 has a total capacity of 24\.00 GiB "
        r"of which \d+\.\d\d (MiB|GiB|KiB) is free\. Including non-PyTorch memory, this process has "
        r"\d+\.\d\d GiB memory in use\. Of the allocated memory \d+\.\d\d GiB is allocated by PyTorch, and "
        r"\d+\.\d\d MiB is reserved by PyTorch but unallocated\. "
        r"If reserved but unallocated memory is large try setting "
        r"PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation\.  See documentation "
        r"for Memory Management  \(https://pytorch\.org/docs/stable/notes/cuda\.html#environment-variables\)$"
    )
    assert re.fullmatch(pattern, str(caught.value))
    stats = device.memory_stats()
    assert stats["events"] == {"retries": 1, "oom": 1}
    device.allocate_working(100)  # still usable
    device.release_working()
