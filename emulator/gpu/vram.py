"""VRAM as pure functions: what a loaded checkpoint holds and what one batch needs to run (MiB)."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.gpu.profiles import profile
from emulator.models.arch import Arch

MIB = 1024 * 1024
CUDA_CONTEXT_MIB = 400.0  # CUDA context + cuBLAS/cuDNN workspaces: "non-PyTorch memory"
COND_MIB = 150.0  # text conditioning, noise, latents and sampler state: small and size-independent
VAE_MIB_PER_MPX = 2000.0  # VAE decoder activations per megapixel at fp16; A1111 decodes one image at a time


@dataclass(frozen=True)
class Precision:
    """Which parts run in fp32: `--no-half` (everything) and `--no-half-vae` (the VAE)."""

    no_half: bool = False
    no_half_vae: bool = False

    def bytes_for(self, part: str) -> int:
        if self.no_half or (part == "vae" and self.no_half_vae):
            return 4
        return 2


def weights_mib(arch: Arch, precision: Precision) -> float:
    """VRAM held by a loaded checkpoint: parameters x bytes per parameter."""
    p = profile(arch)
    unet_text = (p.unet_params_m + p.text_params_m) * 1e6 * precision.bytes_for("unet")
    vae = p.vae_params_m * 1e6 * precision.bytes_for("vae")
    return (unet_text + vae) / MIB


def lora_mib(arch: Arch, rank: int) -> float:
    return profile(arch).lora_mib_per_rank * max(rank, 1)


def _mpx(width: int, height: int) -> float:
    return width * height / 1e6


def unet_working_mib(arch: Arch, width: int, height: int, batch: int, *, linear_attention: bool) -> float:
    """UNet activations while sampling `batch` images (cond and uncond in one pass, as A1111 does).

    Memory-efficient attention (xformers, SDP) keeps this linear in pixels; plain attention adds the
    heads x tokens^2 fp16 score matrix of the first attention level, for cond and uncond.
    """
    p = profile(arch)
    per_image = p.unet_mib_per_mpx * _mpx(width, height)
    if not linear_attention:
        tokens = width * height / p.attn_token_divisor
        per_image += p.attn_heads * tokens * tokens * 2 * 2 / MIB
    return COND_MIB + per_image * batch


def vae_working_mib(width: int, height: int, precision: Precision) -> float:
    return VAE_MIB_PER_MPX * _mpx(width, height) * precision.bytes_for("vae") / 2


def working_mib(
    arch: Arch, width: int, height: int, batch: int, *, linear_attention: bool, precision: Precision
) -> float:
    """Peak working memory of one batch: sampling and the per-image VAE decode do not overlap."""
    unet = unet_working_mib(arch, width, height, batch, linear_attention=linear_attention)
    return max(unet, vae_working_mib(width, height, precision))
