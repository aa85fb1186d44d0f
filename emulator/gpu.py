"""The simulated GPU: VRAM use and step times as pure functions (documented in docs/emulator.md).

Every figure is in MiB or seconds on the reference card (an RTX 4080 running A1111); the derivation
and the published numbers behind each constant are in docs/emulator.md, "GPU model".
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.arch import Arch

MIB = 1024 * 1024


@dataclass(frozen=True)
class ArchProfile:
    """What one model family costs. Parameter counts: SDXL paper (Podell et al. 2023), table 1."""

    unet_params_m: float
    text_params_m: float
    vae_params_m: float
    native_px: int  # width*height the family was trained at
    unet_mib_per_mpx: float  # UNet working memory per image per megapixel, memory-efficient attention
    attn_heads: int  # heads of the first (largest) attention level
    attn_token_divisor: int  # latent tokens at that level = width*height / divisor
    attn_share: float  # share of a native-resolution step spent in attention (its cost grows ~ px^2)
    step_s_linear_attn: float  # s/step, batch 1, native px, xformers/SDP (stable-fast README, RTX 4080)
    step_s_split_attn: float  # same without --xformers/--opt-sdp-attention (stock A1111)
    batch_marginal: float  # extra step time per extra image, as a fraction of a batch-1 step
    vae_decode_s: float  # per image at native px
    load_s: float  # checkpoint load from a warm disk
    lora_mib_per_rank: float  # fp16 LoRA weights per unit of network rank


PROFILES: dict[Arch, ArchProfile] = {
    Arch.SD15: ArchProfile(
        unet_params_m=859.5, text_params_m=123.1, vae_params_m=83.7, native_px=512 * 512,
        unet_mib_per_mpx=600.0, attn_heads=8, attn_token_divisor=64, attn_share=0.15,
        step_s_linear_attn=1 / 24.5, step_s_split_attn=1 / 17.2, batch_marginal=0.5,
        vae_decode_s=0.08, load_s=5.0, lora_mib_per_rank=1.15,
    ),
    Arch.SDXL: ArchProfile(
        unet_params_m=2567.5, text_params_m=817.0, vae_params_m=83.7, native_px=1024 * 1024,
        unet_mib_per_mpx=3500.0, attn_heads=10, attn_token_divisor=256, attn_share=0.1,
        step_s_linear_attn=1 / 4.3, step_s_split_attn=1 / 3.6, batch_marginal=0.75,
        vae_decode_s=0.35, load_s=12.0, lora_mib_per_rank=6.5,
    ),
}  # fmt: skip
CUDA_CONTEXT_MIB = 400.0  # CUDA context + cuBLAS/cuDNN workspaces: "non-PyTorch memory"
COND_MIB = 150.0  # text conditioning, noise, latents and sampler state: small and size-independent
VAE_MIB_PER_MPX = 2000.0  # VAE decoder activations per megapixel at fp16; A1111 decodes one image at a time
HOST_TO_DEVICE_MIB_S = 8000.0  # weights moved back from RAM by reload-checkpoint (PCIe 4.0 x16, effective)


def profile(arch: Arch) -> ArchProfile:
    return PROFILES[Arch.SD15 if arch is Arch.UNKNOWN else arch]


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


def load_seconds(arch: Arch) -> float:
    return profile(arch).load_s


def to_device_seconds(arch: Arch, precision: Precision) -> float:
    return weights_mib(arch, precision) / HOST_TO_DEVICE_MIB_S
