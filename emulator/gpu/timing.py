"""Durations as pure functions: seconds of work on the reference card, before the card's speed and the
time scale are applied."""

from __future__ import annotations

from emulator.gpu.profiles import profile
from emulator.gpu.vram import Precision, weights_mib
from emulator.models.arch import Arch

HOST_TO_DEVICE_MIB_S = 8000.0  # weights moved back from RAM by reload-checkpoint (PCIe 4.0 x16, effective)
EMPTY_CACHE_S_PER_GIB = 0.005  # torch.cuda.empty_cache(): cudaFree of the cached blocks, per GiB given back


def step_seconds(arch: Arch, width: int, height: int, batch: int, *, linear_attention: bool) -> float:
    """Seconds per sampling step on the reference card (before speed and time-scale factors)."""
    p = profile(arch)
    ratio = width * height / p.native_px
    base = p.step_s_linear_attn if linear_attention else p.step_s_split_attn
    per_image = base * ((1 - p.attn_share) * ratio + p.attn_share * ratio * ratio)
    return per_image * (1 + p.batch_marginal * (max(batch, 1) - 1))


def decode_seconds(arch: Arch, width: int, height: int) -> float:
    """VAE decode of one image."""
    p = profile(arch)
    return p.vae_decode_s * width * height / p.native_px


def encode_seconds(arch: Arch) -> float:
    """One conditioning through the text encoders (A1111 encodes the prompt and the negative separately)."""
    return profile(arch).text_encode_s


def empty_cache_seconds(released_mib: float) -> float:
    """`torch_gc()`'s `empty_cache()`: synchronous frees, proportional to what the cache gives back."""
    return EMPTY_CACHE_S_PER_GIB * max(released_mib, 0.0) / 1024


def load_seconds(arch: Arch) -> float:
    return profile(arch).load_s


def to_device_seconds(arch: Arch, precision: Precision) -> float:
    return weights_mib(arch, precision) / HOST_TO_DEVICE_MIB_S
